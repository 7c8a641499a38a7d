import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { findMocks } from "../../scripts/lint-test-mocks.ts";

const script = join(import.meta.dirname, "..", "..", "scripts", "lint-test-mocks.ts");

function lintTree(files: Record<string, string>): { code: number; output: string } {
  const root = mkdtempSync(join(tmpdir(), "paytrust-lint-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    try {
      const output = execFileSync(process.execPath, [script, root], {
        encoding: "utf8",
        stdio: "pipe",
      });
      return { code: 0, output };
    } catch (error: any) {
      return { code: error.status, output: `${error.stdout}${error.stderr}` };
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe("lint: no database or HTTP mocks outside tests/unit", () => {
  it("finds jest.mock and unstable_mockModule of pg and src/db, and fetch interception", () => {
    const text = [
      'jest.mock("pg");',
      'jest.unstable_mockModule("../../src/db/connection.ts", () => ({}));',
      "globalThis.fetch = async () => new Response('{}');",
      'jest.spyOn(globalThis, "fetch");',
      'jest.mock("../../src/money.ts");',
    ].join("\n");
    expect(findMocks("tests/x.test.ts", text).map((f) => [f.line, f.what])).toEqual([
      [1, 'jest.mock("pg")'],
      [2, 'jest.unstable_mockModule("../../src/db/connection.ts")'],
      [3, "globalThis.fetch = (fetch interception)"],
      [4, 'jest.spyOn(globalThis, "fetch" (fetch interception)'],
    ]);
  });

  it('fails `npm run lint` for jest.mock("pg") under tests/invoices, naming the mock', () => {
    const result = lintTree({
      "tests/invoices/mocked.test.ts": 'import { jest } from "@jest/globals";\njest.mock("pg");\n',
    });
    expect(result.code).toBe(1);
    expect(result.output).toContain('tests/invoices/mocked.test.ts:2: jest.mock("pg")');
  });

  it("allows the same mock in tests/unit", () => {
    const result = lintTree({ "tests/unit/mocked.test.ts": 'jest.mock("pg");\n' });
    expect(result.code).toBe(0);
  });
});
