/**
 * Test databases: each test file clones the migrated template into its own
 * database. `asRole` runs a callback as a PostgreSQL role with PayTrust's
 * claims inside a transaction that is always rolled back.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { issueApiKey } from "../../src/auth/apiKeys.ts";
import { ROLES, withCredentials, withDatabase } from "../../src/db/bootstrap.ts";
import { makePool } from "../../src/db/connection.ts";

export const AUTHENTICATOR_PASSWORD = "paytrust-test-authenticator";

export interface TestDatabase {
  name: string;
  ownerUrl: string;
  authUrl: string;
  rootUrl: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

function rootUrl(): string {
  const url = process.env.PAYTRUST_TEST_ROOT_URL;
  if (!url) throw new Error("Run the tests with `npm test` (it provides the database server).");
  return url;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const name = `${process.env.PAYTRUST_TEST_RUN_ID}_${randomBytes(4).toString("hex")}`;
  const root = new pg.Client({ connectionString: rootUrl() });
  await root.connect();
  try {
    // CREATE DATABASE ... TEMPLATE needs the template to have no other connections.
    await root.query(`create database ${name} template ${process.env.PAYTRUST_TEST_TEMPLATE}`);
  } finally {
    await root.end();
  }
  const ownerUrl = withDatabase(rootUrl(), name);
  const pool = makePool(ownerUrl, 20);
  return {
    name,
    ownerUrl,
    rootUrl: rootUrl(),
    authUrl: withCredentials(ownerUrl, ROLES.authenticator, AUTHENTICATOR_PASSWORD),
    pool,
    async drop() {
      await pool.end();
      const r = new pg.Client({ connectionString: rootUrl() });
      await r.connect();
      await r.query(`drop database if exists ${name} with (force)`);
      await r.end();
    },
  };
}

export interface Claims {
  tenantId?: string | null;
  apiKeyId?: string | null;
}

export type Role = "paytrust_tenant" | "paytrust_admin" | "paytrust_analyst";

/** Runs fn in a transaction on one of the pool's connections; the transaction is always rolled back. */
export async function inRolledBackTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    return await fn(client);
  } finally {
    await client.query("rollback").catch(() => {});
    client.release();
  }
}

/** Runs fn as `role` with claims in a transaction that is rolled back. */
export async function asRole<T>(
  pool: pg.Pool,
  role: Role,
  claims: Claims,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return inRolledBackTransaction(pool, async (client) => {
    await client.query(
      `select set_config('paytrust.tenant_id', $1, true), set_config('paytrust.api_key_id', $2, true),
              set_config('paytrust.role', $3, true)`,
      [
        claims.tenantId ?? "",
        claims.apiKeyId ?? "",
        role === "paytrust_admin" ? "admin" : "tenant",
      ],
    );
    await client.query(`set local role ${role}`);
    return await fn(client);
  });
}

/** Expects fn to fail with the given SQLSTATE (inside a savepoint so the transaction survives). */
export async function sqlError(
  client: pg.ClientBase,
  sql: string,
  params: unknown[] = [],
): Promise<string | null> {
  return (await sqlFailure(client, sql, params))?.code ?? null;
}

/** As sqlError, with the constraint PostgreSQL names (a key or CHECK violation). */
export async function sqlFailure(
  client: pg.ClientBase,
  sql: string,
  params: unknown[] = [],
): Promise<{ code: string; constraint: string | undefined } | null> {
  await client.query("savepoint expect_error");
  try {
    await client.query(sql, params);
    await client.query("release savepoint expect_error");
    return null;
  } catch (error: any) {
    await client.query("rollback to savepoint expect_error");
    return { code: error.code ?? "UNKNOWN", constraint: error.constraint };
  }
}

export async function createTenant(
  pool: pg.Pool,
  name: string,
): Promise<{ tenantId: string; apiKey: string; keyId: string }> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query(
      "insert into paytrust_public.tenants (name) values ($1) returning id",
      [name],
    );
    const key = await issueApiKey(client, { tenantId: rows[0].id, role: "tenant", name: "test" });
    return { tenantId: rows[0].id, apiKey: key.apiKey, keyId: key.id };
  } finally {
    client.release();
  }
}

export async function createAdminKey(pool: pg.Pool): Promise<{ apiKey: string; keyId: string }> {
  const client = await pool.connect();
  try {
    const key = await issueApiKey(client, { tenantId: null, role: "admin", name: "test admin" });
    return { apiKey: key.apiKey, keyId: key.id };
  } finally {
    client.release();
  }
}
