/**
 * Part of `npm run lint`: integration tests run on a real PostgreSQL and real
 * HTTP, so any test outside tests/unit/ that mocks the database or the HTTP
 * layer fails the lint with the file, line and the mock it found.
 *
 * Refused outside tests/unit/:
 * - jest.mock / jest.unstable_mockModule / jest.doMock of `pg`, `pg-pool`,
 *   `postgraphile`/`grafserv`, `express`, `undici`, `node:http(s)`, or any
 *   module under src/db/ (the pool, the embedded server, bootstrap);
 * - replacing or spying on `fetch` (`globalThis.fetch = …`, `jest.spyOn(globalThis, "fetch")`);
 * - HTTP interception libraries (`nock`, `msw`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (or another tree given as the first argument, as the lint's own test does). */
const root = process.argv[2] ?? join(fileURLToPath(new URL(".", import.meta.url)), "..");
const testsDir = join(root, "tests");
const unitDir = join(testsDir, "unit") + sep;

const MOCKED_MODULE =
  /\bjest\s*\.\s*(mock|unstable_mockModule|doMock|setMock)\s*\(\s*(["'`])([^"'`]+)\2/g;
const DATABASE_OR_HTTP =
  /^(pg|pg-pool|pg-native|postgraphile(\/.*)?|grafserv(\/.*)?|@dataplan\/pg(\/.*)?|express|undici|(node:)?https?)$|(^|\/)src\/db(\/|$)|(^|\/)db\/(connection|bootstrap|embedded|health)(\.ts)?$/;
const FETCH_INTERCEPTION = [
  /\b(globalThis|global|window)\s*\.\s*fetch\s*=/,
  /\bjest\s*\.\s*spyOn\s*\(\s*(globalThis|global|window)\s*,\s*["'`]fetch["'`]/,
  /\bfrom\s+["'`](nock|msw(\/node)?)["'`]|\brequire\s*\(\s*["'`](nock|msw(\/node)?)["'`]/,
];

export interface MockFinding {
  file: string;
  line: number;
  what: string;
}

export function findMocks(file: string, text: string): MockFinding[] {
  const findings: MockFinding[] = [];
  const lineOf = (index: number) => text.slice(0, index).split("\n").length;
  for (const match of text.matchAll(MOCKED_MODULE)) {
    if (DATABASE_OR_HTTP.test(match[3]))
      findings.push({ file, line: lineOf(match.index), what: `jest.${match[1]}("${match[3]}")` });
  }
  for (const pattern of FETCH_INTERCEPTION) {
    const global = new RegExp(pattern.source, "g");
    for (const match of text.matchAll(global))
      findings.push({
        file,
        line: lineOf(match.index),
        what: `${match[0].trim()} (fetch interception)`,
      });
  }
  return findings;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "fixtures" ? [] : tsFiles(path);
    return /\.(ts|js|mjs|cjs)$/.test(name) ? [path] : [];
  });
}

function main(): void {
  const findings = tsFiles(testsDir)
    .filter((file) => !file.startsWith(unitDir))
    .flatMap((file) => findMocks(relative(root, file), readFileSync(file, "utf8")));
  for (const f of findings)
    console.error(
      `${f.file}:${f.line}: ${f.what} — integration tests run on a real PostgreSQL and real HTTP; mocks belong in tests/unit/`,
    );
  if (findings.length > 0) process.exit(1);
  console.log("lint-test-mocks: no database or HTTP mocks outside tests/unit/");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
