/**
 * `npm run bench` — PayTrust's benchmark, in one run on one machine:
 *   1. createInvoice through the GraphQL API (auth and rate limit on);
 *   2. the same SQL function through a pg pool: the database ceiling;
 *   3. the same work through a hand-written Express endpoint;
 *   4. signed Xendit and Midtrans webhooks at a fixed rate, applied by the worker;
 *   5. (--soak) a mixed read/write soak; 6. (--reports) report queries on seeded data.
 * Prints a Markdown table and writes bench/results/<date>.json. See docs/benchmarks.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ServerChild, startServerChild } from "./lib/child.ts";
import { type HttpPhaseResult, measureCreateInvoice } from "./lib/createInvoiceHttp.ts";
import { type BenchDatabase, settle, setUpDatabase } from "./lib/database.ts";
import { backgroundLoad, describeMachine, startCpuMeter } from "./lib/machine.ts";
import { type BenchOptions, type Phase, parseOptions } from "./lib/options.ts";
import { type ProfileSummary, summariseProfileFile } from "./lib/profile.ts";
import { type BenchResults, computeRatios, evaluateTargets, renderReport } from "./lib/report.ts";
import { reportQueries } from "./lib/reports.ts";
import { runSoak } from "./lib/soak.ts";
import { type SqlResult, sqlCeiling } from "./lib/sqlCeiling.ts";
import { profileSqlFunctions } from "./lib/sqlProfile.ts";
import { runWebhooks } from "./lib/webhooks.ts";

const RESULTS_DIR = join(import.meta.dirname, "results");
const log = (line: string) => console.error(line);

const has = (options: BenchOptions, phase: Phase) => options.phases.includes(phase);

/** Runs fn against a fresh server child, which is stopped afterwards whatever happens. */
async function withChild<T>(
  mode: ServerChild["mode"],
  db: BenchDatabase,
  fn: (child: ServerChild) => Promise<T>,
): Promise<T> {
  await settle(db);
  const child = await startServerChild(mode, db.urls);
  try {
    return await fn(child);
  } finally {
    await child.stop();
  }
}

async function sqlPhase(db: BenchDatabase, options: BenchOptions): Promise<SqlResult> {
  await settle(db);
  return sqlCeiling({
    authUrl: db.urls.authUrl,
    tenant: db.tenant,
    clients: options.sqlClients,
    durationS: options.durationS,
    warmupS: options.warmupS,
    meter: () => startCpuMeter(null, db.postgres),
  });
}

/** createInvoice over HTTP; when profiling, a CPU profile of the server over the measured seconds. */
async function createInvoicePhase(
  child: ServerChild,
  db: BenchDatabase,
  options: BenchOptions,
  profileFile: string | null,
): Promise<{ measured: HttpPhaseResult; profile?: ProfileSummary }> {
  const measured = await measureCreateInvoice(child, db, {
    label: `createInvoice (${child.mode === "api" ? "API" : "hand-written"})`,
    connections: options.connections,
    durationS: options.durationS,
    warmupS: options.warmupS,
    onMeasureStart: profileFile ? () => child.profileStart() : undefined,
  });
  if (!profileFile) return { measured };
  await child.profileStop(profileFile);
  return { measured, profile: await summariseProfileFile(profileFile) };
}

/** The run with the median throughput: on a shared machine one round can be unlucky. */
function median<T extends { throughput: number }>(runs: T[]): T | undefined {
  return [...runs].sort((a, b) => a.throughput - b.throughput)[Math.floor((runs.length - 1) / 2)];
}

/** The three createInvoice paths, interleaved round by round (--rounds N). */
async function createInvoiceRounds(
  db: BenchDatabase,
  options: BenchOptions,
  results: BenchResults,
) {
  const runs = {
    sql: [] as SqlResult[],
    handwritten: [] as HttpPhaseResult[],
    api: [] as HttpPhaseResult[],
  };
  for (let round = 1; round <= options.rounds; round++) {
    if (options.rounds > 1) log(`Round ${round} of ${options.rounds}`);
    // Profiles come from the last round only: profiling slows the server down a little.
    const profileFile = (mode: string) =>
      options.profile && round === options.rounds
        ? join(RESULTS_DIR, "profiles", `${results.runId}-${mode}.cpuprofile`)
        : null;
    if (has(options, "sql")) runs.sql.push(await sqlPhase(db, options));
    for (const mode of ["handwritten", "api"] as const) {
      if (!has(options, mode)) continue;
      const { measured, profile } = await withChild(mode, db, (child) =>
        createInvoicePhase(child, db, options, profileFile(mode)),
      );
      runs[mode].push(measured);
      if (profile) results.profiles = { ...results.profiles, [mode]: profile };
    }
  }
  results.sql = median(runs.sql);
  results.handwritten = median(runs.handwritten);
  results.api = median(runs.api);
  if (options.rounds > 1) {
    const rps = (list: Array<{ throughput: number }>) => list.map((r) => r.throughput);
    results.rounds = { sql: rps(runs.sql), handwritten: rps(runs.handwritten), api: rps(runs.api) };
  }
}

/** Webhooks and the soak need PayTrust's worker and sandbox too: one API child for both. */
async function workerPhases(db: BenchDatabase, options: BenchOptions, results: BenchResults) {
  await withChild("api", db, async (child) => {
    if (has(options, "webhooks")) results.webhooks = await runWebhooks(db, child, options);
    if (options.soak) {
      await settle(db);
      results.soak = await runSoak(db, child, options);
    }
  });
}

async function writeResults(results: BenchResults): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${results.runId}.json`);
  await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  log(`PayTrust benchmark (${options.quick ? "quick" : "full"}): setting up the bench database…`);
  const db = await setUpDatabase(log);
  // Ctrl-C: the server children end with the terminal's signal; the embedded server is stopped here.
  process.once("SIGINT", () => void db.close().finally(() => process.exit(130)));
  try {
    const results: BenchResults = {
      runId: startedAt.toISOString().replace(/[:.]/g, "-"),
      startedAt: startedAt.toISOString(),
      options,
      machine: await describeMachine(db.ownerPool),
      database: db.urls.embedded
        ? "embedded, .paytrust/bench"
        : "DATABASE_URL server, database paytrust_bench",
      backgroundLoadPct: await backgroundLoad(),
    };
    log(
      `Machine: ${results.machine.cpus} × ${results.machine.cpuModel}; load generator on the same machine; ` +
        `background load ${results.backgroundLoadPct} % of one core`,
    );
    await createInvoiceRounds(db, options, results);
    if (has(options, "sql")) {
      await settle(db);
      results.sqlProfile = await profileSqlFunctions(db, Math.min(5, options.durationS));
    }
    if (has(options, "webhooks") || options.soak) await workerPhases(db, options, results);
    results.reports = await reportQueries(db, options, log);
    results.finishedAt = new Date().toISOString();
    results.ratios = computeRatios(results);
    results.targets = evaluateTargets(results);
    console.log(renderReport(results));
    log(`Results written to ${await writeResults(results)}`);
  } finally {
    await db.close();
  }
}

main().catch((error) => {
  console.error(error?.message?.startsWith("npm run bench") ? error.message : error);
  process.exitCode = 1;
});
