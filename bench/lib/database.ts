/**
 * The benchmark's own database: the embedded server under .paytrust/bench
 * (kept between runs, so only the first run pays for initdb) or, with
 * DATABASE_URL, a separate `paytrust_bench` database on that server. Either
 * way the database is dropped and migrated afresh on every run, so each run
 * starts from empty tables and earlier runs cannot skew the next.
 */
import { join } from "node:path";
import pg from "pg";
import { issueApiKey } from "../../src/auth/apiKeys.ts";
import { loadConfig } from "../../src/config.ts";
import {
  ensureDatabase,
  migrateDatabase,
  projectRoot,
  withDatabase,
} from "../../src/db/bootstrap.ts";
import { type DatabaseUrls, makePool, resolveDatabase } from "../../src/db/connection.ts";
import { BENCH_OWNER_POOL } from "./connections.ts";
import { createFloor, FLOOR_TABLES } from "./floor.ts";
import { findPostmaster, type PostgresProcesses } from "./machine.ts";

export const BENCH_DATABASE = "paytrust_bench";
export const BENCH_STATE_DIR = join(projectRoot, ".paytrust", "bench");

export interface BenchTenant {
  tenantId: string;
  keyId: string;
  apiKey: string;
}

export interface BenchDatabase {
  urls: DatabaseUrls;
  /** Owner connections: set-up, verification queries, maintenance between phases. */
  ownerPool: pg.Pool;
  /** The first of `tenants`: the one set-up, soak and webhook phases use. */
  tenant: BenchTenant;
  /**
   * BENCH_TENANTS tenants; createInvoice load is spread over them (connection
   * i uses tenant i mod n). Per-tenant invoice numbers are gap-free, so one
   * tenant's invoices serialise on its counter row until commit; real load
   * comes from many merchants, and a single tenant would measure that one
   * row lock rather than the SQL (docs/benchmarks.md).
   */
  tenants: BenchTenant[];
  /** The server's processes, when it runs on this machine (CPU accounting). */
  postgres: PostgresProcesses | null;
  close(): Promise<void>;
}

async function dropBenchDatabase(rootUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(rootUrl, "postgres") });
  await client.connect();
  try {
    await client.query(`drop database if exists ${BENCH_DATABASE} with (force)`);
  } finally {
    await client.end();
  }
}

async function resolveBenchDatabase(log: (line: string) => void): Promise<DatabaseUrls> {
  const config = loadConfig({ ...process.env, PAYTRUST_STATE_DIR: BENCH_STATE_DIR });
  const urls = await resolveDatabase(config, { database: BENCH_DATABASE, log });
  try {
    await dropBenchDatabase(urls.rootUrl);
    await ensureDatabase(urls.rootUrl, BENCH_DATABASE);
    return urls;
  } catch (error) {
    await urls.stop();
    throw error;
  }
}

/** Tenants createInvoice load is spread over (see BenchDatabase.tenants). */
export const BENCH_TENANTS = 10;

/** A tenant with one API key; rateLimitPerMinute null: the platform default (raised for the run). */
export async function createBenchTenant(
  pool: pg.Pool,
  name = "Benchmark tenant",
  rateLimitPerMinute: number | null = null,
): Promise<BenchTenant> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "insert into paytrust_public.tenants (name, rate_limit_per_minute) values ($1, $2) returning id",
      [name, rateLimitPerMinute],
    );
    const key = await issueApiKey(client, { tenantId: rows[0].id, role: "tenant", name: "bench" });
    return { tenantId: rows[0].id, keyId: key.id, apiKey: key.apiKey };
  } finally {
    client.release();
  }
}

export async function setUpDatabase(log: (line: string) => void): Promise<BenchDatabase> {
  const urls = await resolveBenchDatabase(log);
  try {
    await migrateDatabase({
      ownerUrl: urls.ownerUrl,
      rootUrl: urls.rootUrl,
      authenticatorPassword: urls.authenticatorPassword,
      includeCurrent: true,
      quiet: true,
    });
    const ownerPool = makePool(urls.ownerUrl, BENCH_OWNER_POOL);
    const tenants: BenchTenant[] = [];
    for (let i = 1; i <= BENCH_TENANTS; i++)
      tenants.push(
        await createBenchTenant(ownerPool, i === 1 ? undefined : `Benchmark tenant ${i}`),
      );
    const tenant = tenants[0];
    await createFloor(ownerPool);
    const postmaster = await findPostmaster(ownerPool);
    return {
      urls,
      ownerPool,
      tenant,
      tenants,
      // The embedded cluster is the benchmark's alone; on a shared server count its database only.
      postgres: postmaster ? { postmaster, database: urls.embedded ? null : BENCH_DATABASE } : null,
      async close() {
        await ownerPool.end();
        await urls.stop();
      },
    };
  } catch (error) {
    await urls.stop();
    throw error;
  }
}

const BUSY_TABLES = [
  "paytrust_public.invoices",
  "paytrust_public.line_items",
  "paytrust_public.installments",
  "paytrust_public.audit_events",
  "paytrust_public.payment_transactions",
  "paytrust_public.webhook_events",
];

/**
 * Between phases: vacuum what the previous phase wrote and flush dirty pages,
 * so a phase neither inherits the previous one's autovacuum nor its checkpoint.
 */
export async function settle(db: BenchDatabase): Promise<void> {
  await db.ownerPool.query(`vacuum (analyze) ${BUSY_TABLES.join(", ")}`).catch(() => {});
  await db.ownerPool.query(`vacuum (analyze) ${FLOOR_TABLES.join(", ")}`).catch(() => {});
  const root = new pg.Client({ connectionString: db.urls.rootUrl });
  try {
    await root.connect();
    await root.query("checkpoint");
  } catch {
    // Not allowed for this role on a shared server: only the checkpoint is skipped.
  } finally {
    await root.end().catch(() => {});
  }
}
