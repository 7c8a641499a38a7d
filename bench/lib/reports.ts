/**
 * Reports (--reports): seeds the bench database with `bench/seed.ts`
 * (`npm run seed -- --invoices N`, 1,000,000 by default), then times every
 * report query docs/reporting.md (--reports-doc) shows: the SELECTs of its
 * ```sql blocks and of its psql sessions (`paytrust=> select …;`), except those
 * the document shows failing (an `ERROR:` line right after). They run as an
 * analyst would: role paytrust_analyst, search_path paytrust_reporting,
 * read-only; one cold run and three warm ones. The seed's own financialReport
 * timings are kept too. Skipped, with the reason, when not asked for or when
 * the seed script or the document does not exist (yet).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type pg from "pg";
import { projectRoot } from "../../src/db/bootstrap.ts";
import type { BenchDatabase } from "./database.ts";
import type { BenchOptions } from "./options.ts";

const SEED_SCRIPT = join(projectRoot, "bench", "seed.ts");

export interface ReportQuery {
  name: string;
  coldMs: number | null;
  warmMedianMs: number | null;
  rows: number | null;
  /** "analyst", "owner" (when the role switch is not allowed), or "bench/seed.ts" (its own timing). */
  ranAs?: string;
  error?: string;
}

export interface ReportsResult {
  skipped?: string;
  seededInvoices?: number;
  seedSeconds?: number;
  queries?: ReportQuery[];
}

interface DocumentedQuery {
  name: string;
  sql: string;
}

const isSelect = (sql: string) => /^(--[^\n]*\n\s*)*(select|with)\b/i.test(sql);

function named(sql: string, comment?: string): DocumentedQuery {
  const fromSql = /^--\s*(.+)$/m.exec(sql)?.[1];
  const firstLine = sql.replace(/^--.*\n/gm, "").split("\n")[0];
  return { name: (comment ?? fromSql ?? firstLine).trim().slice(0, 80), sql };
}

/** Statements of ```sql blocks. */
function sqlBlocks(markdown: string): DocumentedQuery[] {
  return [...markdown.matchAll(/```sql\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1].split(/;\s*(?:\n|$)/))
    .map((text) => text.trim())
    .filter(isSelect)
    .map((sql) => named(sql));
}

/** Statements typed at a psql prompt (`db=> …;`, continued on the following lines). */
function psqlSessions(markdown: string): DocumentedQuery[] {
  const lines = markdown.split("\n");
  const found: DocumentedQuery[] = [];
  let comment: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const prompt = /^\w+=>\s?(.*)$/.exec(lines[i]);
    if (!prompt) continue;
    if (prompt[1].startsWith("--")) {
      comment = prompt[1].replace(/^--\s*/, "");
      continue;
    }
    const parts = [prompt[1]];
    while (
      !parts.at(-1)!.trim().endsWith(";") &&
      i + 1 < lines.length &&
      !/^\w+=>/.test(lines[i + 1])
    ) {
      parts.push(lines[++i].trim());
    }
    const sql = parts.join("\n").trim().replace(/;$/, "");
    const failsInDoc = /^ERROR:/.test(lines[i + 1] ?? "");
    if (isSelect(sql) && !failsInDoc) found.push(named(sql, comment));
    comment = undefined;
  }
  return found;
}

export function documentedQueries(markdown: string): DocumentedQuery[] {
  return [...sqlBlocks(markdown), ...psqlSessions(markdown)];
}

/** Runs the seed script against the bench database; returns its own financialReport timings. */
function runSeed(
  ownerUrl: string,
  invoices: number,
  log: (line: string) => void,
): Promise<{ timings: ReportQuery[]; largestTenant: string | null }> {
  const timings: ReportQuery[] = [];
  let largestTenant: string | null = null;
  return new Promise((resolveSeed, reject) => {
    const child = spawn(process.execPath, [SEED_SCRIPT, "--invoices", String(invoices)], {
      env: { ...process.env, DATABASE_URL: ownerUrl },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        log(`  [seed] ${line}`);
        const largest = /Largest seeded tenant: ([0-9a-f-]{36})/.exec(line);
        if (largest) largestTenant = largest[1];
        const timing = /last\s+(\d+) days:\s+([\d.]+) ms/.exec(line);
        if (timing) {
          const name = `financialReport, largest tenant, last ${timing[1]} days (median of the seed's runs)`;
          timings.push({
            name,
            coldMs: null,
            warmMedianMs: Number(timing[2]),
            rows: null,
            ranAs: "bench/seed.ts",
          });
        }
      }
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0
        ? resolveSeed({ timings, largestTenant })
        : reject(new Error(`seed exited with ${code}`)),
    );
  });
}

/** Opens a read-only transaction as an analyst (or as the owner when the switch is refused). */
async function beginAsAnalyst(client: pg.PoolClient): Promise<string> {
  await client.query("begin read only");
  try {
    await client.query("savepoint analyst");
    await client.query("set local role paytrust_analyst");
    await client.query("set local search_path = paytrust_reporting");
    return "analyst";
  } catch {
    await client.query("rollback to savepoint analyst");
    await client.query("set local search_path = paytrust_reporting, public");
    return "owner";
  } finally {
    await client.query("set local statement_timeout = '300s'");
  }
}

/**
 * Queries on PayTrust's own schemas (the SQL inside financialReport, shown in
 * the document) are not analyst queries: they run as the owner, read-only.
 * `'<largest tenant>'` is replaced by the seed's largest tenant.
 */
const internal = (sql: string) => /\bpaytrust_(public|private)\./.test(sql);

async function beginAsOwner(client: pg.PoolClient): Promise<string> {
  await client.query("begin read only");
  await client.query("set local statement_timeout = '300s'");
  return "owner (internal query)";
}

async function timeQuery(
  db: BenchDatabase,
  documented: DocumentedQuery,
  largestTenant: string | null,
): Promise<ReportQuery> {
  const query = {
    ...documented,
    sql: largestTenant
      ? documented.sql.replaceAll("'<largest tenant>'", `'${largestTenant}'`)
      : documented.sql,
  };
  if (/'<[^'>]+>'/.test(query.sql)) {
    return {
      name: query.name,
      coldMs: null,
      warmMedianMs: null,
      rows: null,
      ranAs: "skipped: a placeholder the bench cannot fill",
    };
  }
  const client = await db.ownerPool.connect();
  const once = async () => {
    const t0 = performance.now();
    const result = await client.query(query.sql);
    return { ms: Math.round((performance.now() - t0) * 10) / 10, rows: result.rowCount ?? 0 };
  };
  try {
    const ranAs = internal(query.sql) ? await beginAsOwner(client) : await beginAsAnalyst(client);
    const cold = await once();
    const warm = [await once(), await once(), await once()].map((r) => r.ms).sort((a, b) => a - b);
    return { name: query.name, coldMs: cold.ms, warmMedianMs: warm[1], rows: cold.rows, ranAs };
  } catch (error: any) {
    const message = String(error?.message ?? error);
    return { name: query.name, coldMs: null, warmMedianMs: null, rows: null, error: message };
  } finally {
    await client.query("rollback").catch(() => {});
    client.release();
  }
}

export async function reportQueries(
  db: BenchDatabase,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<ReportsResult> {
  if (!options.reports) return { skipped: "not requested (pass --reports)" };
  if (!existsSync(SEED_SCRIPT)) return { skipped: "bench/seed.ts does not exist" };
  const doc = resolve(projectRoot, options.reportsDoc);
  if (!existsSync(doc)) {
    return {
      skipped: `${options.reportsDoc} does not exist yet: no documented report queries to time`,
    };
  }
  const queries = documentedQueries(await readFile(doc, "utf8"));
  if (queries.length === 0) return { skipped: `${options.reportsDoc} shows no report SELECTs` };
  log(`Reports: seeding ${options.seedInvoices.toLocaleString("en")} invoices (bench/seed.ts)…`);
  const t0 = performance.now();
  const seeded = await runSeed(db.urls.ownerUrl, options.seedInvoices, log);
  const seedTimings = seeded.timings;
  const seedSeconds = Math.round((performance.now() - t0) / 100) / 10;
  const timed: ReportQuery[] = [];
  for (const query of queries) {
    log(`  timing: ${query.name}`);
    timed.push(await timeQuery(db, query, seeded.largestTenant));
  }
  return { seededInvoices: options.seedInvoices, seedSeconds, queries: [...timed, ...seedTimings] };
}
