/**
 * Where the database time of createInvoice goes, per SQL/PL/pgSQL function:
 * a short extra pass of the SQL-ceiling loop with `track_functions = all`
 * (set on the bench database, so only the new connections of this pass have
 * it), then pg_stat_user_functions divided by the number of invoices created.
 * Kept apart from the ceiling measurement because the timing itself costs a
 * little. Needs the right to ALTER DATABASE ... SET track_functions (the
 * embedded server's superuser); skipped otherwise.
 */
import pg from "pg";
import { BENCH_DATABASE, type BenchDatabase } from "./database.ts";
import { sqlCeiling } from "./sqlCeiling.ts";

export interface FunctionCost {
  name: string;
  callsPerInvoice: number;
  /** Milliseconds per invoice, excluding functions it called. */
  selfMsPerInvoice: number;
  /** Milliseconds per invoice, including functions it called. */
  totalMsPerInvoice: number;
}

export interface SqlProfile {
  invoices: number;
  functions: FunctionCost[];
  skipped?: string;
}

const STATS_SQL = `select schemaname || '.' || funcname as name, calls, self_time, total_time
  from pg_stat_user_functions where schemaname like 'paytrust%'`;

type Row = { name: string; calls: string; self_time: number; total_time: number };

async function withRoot<T>(db: BenchDatabase, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db.urls.rootUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function perInvoice(rows: Row[], invoices: number): FunctionCost[] {
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return rows
    .map((r) => ({
      name: r.name,
      callsPerInvoice: round(Number(r.calls) / invoices),
      selfMsPerInvoice: round(r.self_time / invoices),
      totalMsPerInvoice: round(r.total_time / invoices),
    }))
    .filter((f) => f.callsPerInvoice > 0)
    .sort((a, b) => b.selfMsPerInvoice - a.selfMsPerInvoice);
}

export async function profileSqlFunctions(db: BenchDatabase, seconds: number): Promise<SqlProfile> {
  try {
    await withRoot(db, (c) =>
      c.query(`alter database ${BENCH_DATABASE} set track_functions = 'all'`),
    );
  } catch (error: any) {
    return {
      invoices: 0,
      functions: [],
      skipped: `track_functions not settable: ${error?.message}`,
    };
  }
  try {
    // Statistics are kept per database: read them from the bench database itself.
    await db.ownerPool.query("select pg_stat_reset()");
    const run = await sqlCeiling({
      authUrl: db.urls.authUrl,
      tenants: db.tenants,
      clients: 10,
      durationS: seconds,
      warmupS: 0,
      label: "SQL function profile",
    });
    // Ending the pool closed its backends, which flush their statistics as they exit.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await db.ownerPool.query("select pg_stat_clear_snapshot()");
    const { rows } = await db.ownerPool.query<Row>(STATS_SQL);
    return { invoices: run.transactions, functions: perInvoice(rows, run.transactions) };
  } finally {
    await withRoot(db, (c) => c.query(`alter database ${BENCH_DATABASE} reset track_functions`));
  }
}
