/**
 * docs/errors.md is the one table of error codes (issue 16.8): it lists exactly
 * the codes PayTrust raises. Raised codes come from the migrations (committed
 * and work in progress: `errcode = 'PTxxx'`, `raise sqlstate 'PTxxx'`) and
 * from the TypeScript sources (string literals "PTxxx": error classes,
 * sendError(...), maskError's translations). Documented codes are the `code`
 * column of the tables in docs/errors.md. On a mismatch the failure says which
 * rows to add and which to remove.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { projectRoot } from "../../src/db/bootstrap.ts";

const CODE = /^PT[A-Z0-9]{3,10}$/;

async function files(dir: string, suffix: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await files(path, suffix)));
    else if (entry.name.endsWith(suffix)) out.push(path);
  }
  return out.sort();
}

type Origins = Map<string, Set<string>>;

function add(origins: Origins, code: string, file: string): void {
  if (!origins.has(code)) origins.set(code, new Set());
  origins.get(code)!.add(relative(projectRoot, file));
}

/** SQL: `errcode = 'PTxxx'` (raise … using) and `raise sqlstate 'PTxxx'`; comments ignored. */
function sqlCodes(sql: string): string[] {
  const text = sql.replace(/\/\*[\s\S]*?\*\//g, "").replace(/--[^\n]*/g, "");
  const codes: string[] = [];
  for (const m of text.matchAll(/errcode\s*:?=\s*'(PT[A-Z0-9]+)'/gi)) codes.push(m[1]);
  for (const m of text.matchAll(/raise\s+sqlstate\s+'(PT[A-Z0-9]+)'/gi)) codes.push(m[1]);
  return codes;
}

/** TypeScript: every quoted "PTxxx" / 'PTxxx' / `PTxxx` literal outside comments. */
function tsCodes(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/[^\n]*/g, "$1");
  return [...text.matchAll(/["'`](PT[A-Z0-9]{3,10})["'`]/g)].map((m) => m[1]);
}

/** The codes in the `code` column of every Markdown table. */
function documentedCodes(markdown: string): string[] {
  const codes: string[] = [];
  let codeColumn = -1;
  let inTable = false;
  for (const line of markdown.split("\n")) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("|")) {
      inTable = false;
      continue;
    }
    const cells = trimmed
      .replace(/^\||\|$/g, "")
      .split("|")
      .map((c) => c.trim().replace(/`/g, ""));
    if (!inTable) {
      inTable = true;
      codeColumn = cells.findIndex((c) => c.toLowerCase() === "code");
      continue;
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    const cell = codeColumn >= 0 ? cells[codeColumn] : undefined;
    if (cell && CODE.test(cell)) codes.push(cell);
  }
  return codes;
}

async function raisedCodes(): Promise<Origins> {
  const origins: Origins = new Map();
  const migrations = [
    ...(await files(join(projectRoot, "migrations", "committed"), ".sql")),
    ...(await files(join(projectRoot, "migrations", "current"), ".sql")),
  ];
  const currentSql = join(projectRoot, "migrations", "current.sql");
  if (await readFile(currentSql).catch(() => null)) migrations.push(currentSql);
  for (const file of migrations)
    for (const code of sqlCodes(await readFile(file, "utf8"))) add(origins, code, file);
  for (const file of await files(join(projectRoot, "src"), ".ts"))
    for (const code of tsCodes(await readFile(file, "utf8"))) add(origins, code, file);
  return origins;
}

describe("docs/errors.md", () => {
  it("the scanners find codes where they are raised, and only there", () => {
    expect(
      sqlCodes(`raise exception 'x' using errcode = 'PTVAL'; -- errcode = 'PTOLD'
      raise sqlstate 'PTRBK'; /* errcode = 'PTNOT' */`),
    ).toEqual(["PTVAL", "PTRBK"]);
    expect(
      tsCodes(`sendError(res, 401, "PTAUTH", "x"); // "PTNOPE"
      const url = "http://x"; code = 'PTENV'; /** "PTDOC" */`),
    ).toEqual(["PTAUTH", "PTENV"]);
    expect(
      documentedCodes(
        "| code | meaning |\n|---|---|\n| PTVAL | bad |\n\n| SQLSTATE | code |\n|---|---|\n| 23505 | PTDUP |\n",
      ),
    ).toEqual(["PTVAL", "PTDUP"]);
  });

  it("lists exactly the codes the SQL and the TypeScript raise", async () => {
    const raised = await raisedCodes();
    const documented = new Set(
      documentedCodes(await readFile(join(projectRoot, "docs", "errors.md"), "utf8")),
    );
    const toAdd = [...raised.keys()]
      .filter((code) => !documented.has(code))
      .sort()
      .map((code) => `${code} (raised in ${[...raised.get(code)!].join(", ")})`);
    const toRemove = [...documented].filter((code) => !raised.has(code)).sort();
    const message = [
      toAdd.length ? `Add to docs/errors.md: ${toAdd.join("; ")}.` : "",
      toRemove.length
        ? `Remove from docs/errors.md (nothing raises them any more): ${toRemove.join(", ")}.`
        : "",
    ]
      .filter(Boolean)
      .join("\n");
    expect(message).toBe("");
  });
});
