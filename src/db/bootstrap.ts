/**
 * Creates the cluster roles and the database, then migrates it: the
 * graphile-migrate committed migrations (and, outside production, the
 * work-in-progress migrations/current.sql) followed by graphile-worker's schema.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Logger as MigrateLogger, migrate, watch } from "graphile-migrate";
import { runMigrations, Logger as WorkerLogger } from "graphile-worker";
import pg from "pg";
import { graphileLogFactory, type Logger } from "../logger.ts";

export const ROLES = {
  authenticator: "paytrust_authenticator",
  tenant: "paytrust_tenant",
  admin: "paytrust_admin",
  analyst: "paytrust_analyst",
  /**
   * LOGIN, not the owner: the worker, webhook receivers, /pay/:id and key
   * lookups connect as it. BYPASSRLS (it serves every tenant), no DDL.
   */
  runtime: "paytrust_runtime",
} as const;

/**
 * The runtime role's password, derived from the authenticator's: whoever can
 * connect as the authenticator already reaches every tenant's rows through
 * PostGraphile's roles, and every instance on a cluster agrees on it.
 * Override with RUNTIME_DATABASE_URL.
 */
export function runtimePasswordFor(authenticatorPassword: string): string {
  return createHash("sha256")
    .update(`paytrust-runtime:${authenticatorPassword}`)
    .digest("base64url");
}

/**
 * graphile-migrate placeholders for migrations (`:DATABASE_TENANT` → paytrust_tenant,
 * ...), the same as .gmrc's so the CLI and `paytrust migrate` agree
 * (tests/api/dba-loop.test.ts checks it). `:DATABASE_NAME` and `:DATABASE_OWNER`
 * are graphile-migrate's own.
 */
export const MIGRATION_PLACEHOLDERS: Record<string, string> = Object.fromEntries(
  Object.entries(ROLES).map(([key, role]) => [`:DATABASE_${key.toUpperCase()}`, role]),
);

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const migrationsFolder = join(projectRoot, "migrations");

const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;
const quoteIdent = (value: string) => `"${value.replace(/"/g, '""')}"`;

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** Roles are cluster-wide: create them once, idempotently. */
export async function ensureRoles(
  client: pg.ClientBase,
  authenticatorPassword?: string,
): Promise<void> {
  // Serialise concurrent bootstraps (parallel test workers, CLI beside `npm start`).
  await client.query("select pg_advisory_lock(hashtext('paytrust.ensure_roles'))");
  try {
    const { rows } = await client.query<{ rolname: string }>(
      "select rolname from pg_roles where rolname = any($1)",
      [Object.values(ROLES)],
    );
    const existing = new Set(rows.map((r) => r.rolname));
    for (const role of [ROLES.tenant, ROLES.admin, ROLES.analyst]) {
      if (!existing.has(role)) await client.query(`create role ${role} nologin`);
    }
    if (!existing.has(ROLES.authenticator)) {
      await client.query(`create role ${ROLES.authenticator} login noinherit`);
    }
    if (!existing.has(ROLES.runtime)) {
      await client.query(`create role ${ROLES.runtime} login noinherit`);
    }
    // Not a superuser, never the owner; BYPASSRLS: it processes every tenant's
    // webhooks and jobs (and needs a superuser to grant, hence here).
    await client.query(
      `alter role ${ROLES.runtime} with login nosuperuser nocreatedb nocreaterole noreplication bypassrls`,
    );
    if (authenticatorPassword) {
      await client.query(
        `alter role ${ROLES.authenticator} with login password ${quoteLiteral(authenticatorPassword)}`,
      );
      await client.query(
        `alter role ${ROLES.runtime} with password ${quoteLiteral(runtimePasswordFor(authenticatorPassword))}`,
      );
    }
    await client.query(`grant ${ROLES.tenant}, ${ROLES.admin} to ${ROLES.authenticator}`);
  } finally {
    await client.query("select pg_advisory_unlock(hashtext('paytrust.ensure_roles'))");
  }
}

export async function ensureDatabase(rootUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(rootUrl, "postgres") });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [
      database,
    ]);
    if (!rowCount) {
      await client.query(`create database ${quoteIdent(database)}`).catch((error) => {
        if (error.code !== "42P04") throw error; // created concurrently
      });
    }
  } finally {
    await client.end();
  }
}

/** migrations/current.sql (graphile-migrate also accepts a migrations/current/ folder). */
async function currentMigrationHasSql(): Promise<boolean> {
  const folder = join(migrationsFolder, "current");
  const files = await readdir(folder).then(
    (names) => names.filter((n) => n.endsWith(".sql")).map((n) => join(folder, n)),
    () => [join(migrationsFolder, "current.sql")],
  );
  for (const file of files) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (text.split("\n").some((line) => line.trim() !== "" && !line.trim().startsWith("--")))
      return true;
  }
  return false;
}

export interface MigrateOptions {
  /** Owner connection (runs the migrations, owns the objects). */
  ownerUrl: string;
  /** Superuser connection used to create roles. */
  rootUrl: string;
  authenticatorPassword?: string;
  /** Apply migrations/current.sql too (development and tests only). */
  includeCurrent?: boolean;
  /** Only errors, on stderr (ignored with `logger`). */
  quiet?: boolean;
  /** graphile-migrate's and graphile-worker's migration lines go to this logger (component "migrate"). */
  logger?: Logger;
}

export async function migrateDatabase(options: MigrateOptions): Promise<void> {
  const root = new pg.Client({ connectionString: options.rootUrl });
  await root.connect();
  try {
    await ensureRoles(root, options.authenticatorPassword);
  } finally {
    await root.end();
  }
  const settings = {
    connectionString: options.ownerUrl,
    rootConnectionString: options.rootUrl,
    migrationsFolder,
    pgSettings: { search_path: "paytrust_public,paytrust_private,public" },
    placeholders: MIGRATION_PLACEHOLDERS,
    logger: options.logger
      ? new MigrateLogger(graphileLogFactory(options.logger, "migrate"))
      : options.quiet
        ? quietLogger
        : undefined,
  };
  try {
    await migrate(settings as any);
    if (options.includeCurrent && (await currentMigrationHasSql())) {
      await watch(settings as any, true);
    }
  } finally {
    // graphile-migrate keeps its pools alive briefly and exits the process if
    // one of them errors; a server stopped right after migrating would do that.
    closeMigratePools();
  }
  await runMigrations({
    connectionString: options.ownerUrl,
    logger: options.logger
      ? new WorkerLogger(graphileLogFactory(options.logger, "migrate"))
      : options.quiet
        ? quietWorkerLogger
        : undefined,
  });
  await grantRuntime(options.ownerUrl);
}

/**
 * The runtime role runs graphile-worker (its schema exists only after
 * runMigrations) and reads the migration state for /readyz.
 */
async function grantRuntime(ownerUrl: string): Promise<void> {
  const owner = new pg.Client({ connectionString: ownerUrl });
  await owner.connect();
  try {
    await owner.query(`
      grant usage on schema graphile_worker to ${ROLES.runtime};
      grant select, insert, update, delete on all tables in schema graphile_worker to ${ROLES.runtime};
      grant usage, select on all sequences in schema graphile_worker to ${ROLES.runtime};
      grant execute on all functions in schema graphile_worker to ${ROLES.runtime};
      grant usage on schema graphile_migrate to ${ROLES.runtime};
      grant select on graphile_migrate.migrations to ${ROLES.runtime};
    `);
  } finally {
    await owner.end();
  }
}

const require = createRequire(import.meta.url);
function closeMigratePools(): void {
  const { clearAllPools } = require("graphile-migrate/dist/pgReal.js") as {
    clearAllPools: () => void;
  };
  clearAllPools();
}

const quietLogger = new MigrateLogger(() => (level: string, message: string) => {
  if (level === "error") console.error(message);
});
const quietWorkerLogger = new WorkerLogger(() => (level: string, message: string) => {
  if (level === "error") console.error(message);
});
