/**
 * Resolves where the database is: DATABASE_URL when set, else the embedded
 * server under the state directory. Returns the three connection strings the
 * process needs (owner: migrations only; runtime: worker, webhooks, /pay and
 * key lookups; authenticator: PostGraphile; superuser: roles) and a stop function.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import type { Config } from "../config.ts";
import {
  ensureDatabase,
  ROLES,
  runtimePasswordFor,
  withCredentials,
  withDatabase,
} from "./bootstrap.ts";
import { ensureEmbeddedServer } from "./embedded.ts";

// BIGINT (int8) stays a string in JS: money is never turned into a float.
pg.types.setTypeParser(20, (value) => value);

export interface DatabaseUrls {
  ownerUrl: string;
  authUrl: string;
  /** The runtime role (not the owner); derived from ownerUrl and the authenticator password when absent. */
  runtimeUrl?: string;
  rootUrl: string;
  authenticatorPassword: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export const EMBEDDED_DATABASE = "paytrust";

export async function resolveDatabase(
  config: Config,
  options: { database?: string; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {},
): Promise<DatabaseUrls> {
  const env = options.env ?? process.env;
  if (config.databaseUrl) {
    const ownerUrl = options.database
      ? withDatabase(config.databaseUrl, options.database)
      : config.databaseUrl;
    // The role is cluster-wide, so the password is derived from the cluster's
    // URL without the database name: every instance and CLI run on that
    // cluster agrees on it (a per-database value would make them overwrite
    // each other). Override with DATABASE_AUTHENTICATOR_PASSWORD or AUTH_DATABASE_URL.
    const authenticatorPassword =
      env.DATABASE_AUTHENTICATOR_PASSWORD ||
      createHash("sha256")
        .update(`paytrust-authenticator:${withDatabase(config.databaseUrl, "")}`)
        .digest("base64url");
    return {
      ownerUrl,
      rootUrl:
        env.ROOT_DATABASE_URL ||
        withDatabase(
          ownerUrl,
          new URL(ownerUrl).pathname === "/postgres" ? "template1" : "postgres",
        ),
      authUrl:
        env.AUTH_DATABASE_URL ||
        withCredentials(ownerUrl, ROLES.authenticator, authenticatorPassword),
      runtimeUrl: env.RUNTIME_DATABASE_URL || undefined,
      authenticatorPassword,
      embedded: false,
      stop: async () => {},
    };
  }
  const server = await ensureEmbeddedServer(config.stateDir, options.log);
  const database = options.database ?? EMBEDDED_DATABASE;
  await ensureDatabase(server.rootUrl, database);
  const ownerUrl = withDatabase(server.rootUrl, database);
  return {
    ownerUrl,
    rootUrl: server.rootUrl,
    authUrl: withCredentials(ownerUrl, ROLES.authenticator, server.state.authenticatorPassword),
    authenticatorPassword: server.state.authenticatorPassword,
    embedded: true,
    stop: server.stop,
  };
}

/** Where the runtime role connects: RUNTIME_DATABASE_URL, else the owner's server and database. */
export function runtimeUrlOf(
  db: Pick<DatabaseUrls, "ownerUrl" | "runtimeUrl" | "authenticatorPassword">,
): string {
  return (
    db.runtimeUrl ||
    withCredentials(db.ownerUrl, ROLES.runtime, runtimePasswordFor(db.authenticatorPassword))
  );
}

export function makePool(
  connectionString: string,
  max: number,
  options: { Client?: typeof pg.Client } = {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    ...(options.Client ? { Client: options.Client } : {}),
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A statement that hangs (lock waits, outages) must not hang a request forever.
    statement_timeout: 30_000,
  } as pg.PoolConfig);
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", () => {});
  pool.on("connect", (client) => {
    client.on("error", () => {});
  });
  // A RequestClient back in the pool forgets any begin and settings it held back.
  pool.on("release", (_error, client) => {
    (client as { discardHeldBack?: () => void }).discardHeldBack?.();
  });
  return pool;
}
