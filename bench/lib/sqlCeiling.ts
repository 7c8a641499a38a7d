/**
 * The database ceiling: N pg clients (the authenticator login, as PostGraphile
 * connects) each running, back to back, exactly the transaction PostGraphile
 * runs for createInvoice: begin; set_config(...) for the tenant's claims and
 * role; select create_invoice(...); commit. On the same wire as the API: the
 * clients are PostGraphile's pool's clients (src/db/requestClient.ts), which
 * send `begin` and the claims as one simple query and the function as a
 * prepared statement (3 round trips). No HTTP, no GraphQL, no auth: what is
 * left is PostgreSQL's work plus the pg driver's.
 */
import type pg from "pg";
import { makePool } from "../../src/db/connection.ts";
import { RequestClient } from "../../src/db/requestClient.ts";
import type { BenchTenant } from "./database.ts";
import {
  BENCH_INVOICE,
  CREATE_INVOICE_SQL,
  createInvoiceParams,
  SET_CLAIMS_SQL,
  tenantClaims,
} from "./invoice.ts";
import type { CpuSplit } from "./machine.ts";
import { everySecond, progress } from "./progress.ts";
import { LatencyRecorder, type LatencySummary } from "./stats.ts";

export interface SqlResult {
  clients: number;
  /** PostgreSQL CPU per transaction (ms), when its processes run on this machine. */
  postgresCpuMsPerTx: number | null;
  durationS: number;
  transactions: number;
  throughput: number;
  latency: LatencySummary;
  errors: number;
  errorSamples: string[];
  cpu: CpuSplit | null;
}

async function createOne(
  client: pg.PoolClient,
  sql: string,
  claims: string,
  params: unknown[],
): Promise<void> {
  // Config objects, as @dataplan/pg sends them: RequestClient merges the bare
  // `begin` with the claims and prepares the row-array statement.
  await client.query({ text: "begin" });
  try {
    await client.query({ text: SET_CLAIMS_SQL, values: [claims] });
    await client.query({ text: sql, values: params, rowMode: "array" });
    await client.query({ text: "commit" });
  } catch (error) {
    await client.query({ text: "rollback" }).catch(() => {});
    throw error;
  }
}

interface Loop {
  sql: string;
  recorder: LatencyRecorder | null;
  errors: number;
  samples: string[];
  until: number;
}

async function clientLoop(pool: pg.Pool, claims: string, params: unknown[], loop: Loop) {
  const client = await pool.connect();
  try {
    while (performance.now() < loop.until) {
      const t0 = performance.now();
      try {
        await createOne(client, loop.sql, claims, params);
        loop.recorder?.record(performance.now() - t0);
      } catch (error: any) {
        loop.errors++;
        if (loop.samples.length < 5) loop.samples.push(`${error?.code ?? ""} ${error?.message}`);
      }
    }
  } finally {
    client.release();
  }
}

export async function sqlCeiling(options: {
  authUrl: string;
  /** Client i runs as tenants[i mod n]. */
  tenants: BenchTenant[];
  clients: number;
  durationS: number;
  warmupS: number;
  label?: string;
  /** The statement (default: PayTrust's create_invoice; the floor passes its own). */
  sql?: string;
  /** Starts a CPU measurement; called after warm-up, ended before the pool closes (its backends exit). */
  meter?: () => () => CpuSplit;
}): Promise<SqlResult> {
  const pool = makePool(options.authUrl, options.clients, { Client: RequestClient });
  const claims = options.tenants.map((tenant) => tenantClaims(tenant));
  const params = createInvoiceParams(BENCH_INVOICE);
  const sql = options.sql ?? CREATE_INVOICE_SQL;
  const runAll = (loop: Loop) =>
    Promise.all(
      Array.from({ length: options.clients }, (_, i) =>
        clientLoop(pool, claims[i % claims.length], params, loop),
      ),
    );
  try {
    const warmupUntil = performance.now() + options.warmupS * 1000;
    await runAll({ sql, recorder: null, errors: 0, samples: [], until: warmupUntil });
    const recorder = new LatencyRecorder();
    const loop: Loop = { sql, recorder, errors: 0, samples: [], until: 0 };
    const line = progress(options.label ?? "createInvoice (SQL ceiling)");
    let last = 0;
    const stopTicking = everySecond((elapsed) => {
      line.update(
        `${Math.round(elapsed)}/${options.durationS} s  ${recorder.count - last} tx/s  ${loop.errors} errors`,
      );
      last = recorder.count;
    });
    const endMeter = options.meter?.();
    const started = performance.now();
    loop.until = started + options.durationS * 1000;
    await runAll(loop).finally(stopTicking);
    const durationS = (performance.now() - started) / 1000;
    const cpu = endMeter?.() ?? null;
    const throughput = Math.round(recorder.count / durationS);
    line.done(`${throughput} tx/s, ${loop.errors} errors`);
    return {
      clients: options.clients,
      postgresCpuMsPerTx:
        cpu?.postgres != null && throughput > 0
          ? Math.round((cpu.postgres * 10 * 1000) / throughput) / 1000
          : null,
      durationS: Math.round(durationS * 100) / 100,
      transactions: recorder.count,
      throughput,
      latency: recorder.summary(),
      errors: loop.errors,
      errorSamples: loop.samples,
      cpu,
    };
  } finally {
    await pool.end();
  }
}
