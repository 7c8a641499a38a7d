/**
 * Issue 14 item 1, deployment: the image and compose file are reachable, keep
 * secrets and local state out, have a health check and no fixed passwords; and
 * the compose flow (a DBA migrates once, the app runs as a non-superuser owner
 * that does not migrate) works against a real PostgreSQL, run here as processes.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { projectRoot, withCredentials, withDatabase } from "../../src/db/bootstrap.ts";
import { freePort } from "../helpers/app.ts";
import { AUTHENTICATOR_PASSWORD } from "../helpers/db.ts";

const run = promisify(execFile);
const committedDir = join(projectRoot, "migrations", "committed");
const runtimeGrantsCommitted = readdirSync(committedDir).some((name) =>
  /paytrust_runtime/.test(readFileSync(join(committedDir, name), "utf8")),
);
const read = (name: string) => readFile(join(projectRoot, name), "utf8");

describe("Dockerfile, docker-compose.yml, .dockerignore, .env.example", () => {
  it("the image listens on all interfaces, as an unprivileged user, with a health check", async () => {
    const dockerfile = await read("Dockerfile");
    expect(dockerfile).toMatch(/HOST=0\.0\.0\.0/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/readyz/m);
    expect(dockerfile).not.toMatch(/PASSWORD|SECRET|TOKEN=/);
  });

  it(".dockerignore keeps .paytrust/, .env files, keys and node_modules out", async () => {
    const lines = (await read(".dockerignore")).split("\n").map((l) => l.trim());
    for (const entry of [".paytrust/", ".env", ".env.*", "*.pem", "*.key", "node_modules/"])
      expect(lines).toContain(entry);
    expect(lines).toContain("!.env.example");
  });

  it("compose has no fixed passwords: every secret is required from .env", async () => {
    const compose = await read("docker-compose.yml");
    // Every password or secret is a ${VAR:?...} reference, never a literal.
    for (const match of compose.matchAll(
      /^\s+([A-Z_]*(?:PASSWORD|SECRET|TOKEN|KEY)[A-Z_]*):\s*(\S+)/gm,
    )) {
      expect({ name: match[1], literal: !match[2].startsWith("${") }).toEqual({
        name: match[1],
        literal: false,
      });
    }
    expect(compose).not.toMatch(/postgres:postgres@|change-me/);
    for (const name of [
      "POSTGRES_PASSWORD",
      "PAYTRUST_DB_PASSWORD",
      "DATABASE_AUTHENTICATOR_PASSWORD",
    ])
      expect(compose).toMatch(new RegExp(`\\$\\{${name}:\\?`));
    expect(compose).toMatch(/PAYTRUST_GATEWAY_MODE: \$\{PAYTRUST_GATEWAY_MODE:\?/);
    expect(compose).toMatch(/HOST: 0\.0\.0\.0/);
    expect(compose).toMatch(/healthcheck:[\s\S]*\/readyz/);
    expect(compose).toMatch(/PAYTRUST_MIGRATE_ON_START: "false"/);
    // The superuser URL goes to the one-off migrate service only.
    const app = compose.slice(compose.indexOf("\n  app:"));
    expect(app).not.toMatch(/ROOT_DATABASE_URL/);
  });

  it(".env.example documents every variable compose requires, with no values for secrets", async () => {
    const example = await read(".env.example");
    const compose = await read("docker-compose.yml");
    for (const [, name] of compose.matchAll(/\$\{([A-Z_]+):\?/g))
      expect(example).toMatch(new RegExp(`^${name}=`, "m"));
    for (const [, name, value] of example.matchAll(
      /^([A-Z_]*(?:PASSWORD|SECRET|TOKEN|KEY))=(.*)$/gm,
    ))
      expect({ name, value }).toEqual({ name, value: "" });
  });
});

describe("the compose flow on a real PostgreSQL", () => {
  const rootUrl = process.env.PAYTRUST_TEST_ROOT_URL as string;
  const suffix = randomBytes(4).toString("hex");
  const owner = `pt_compose_owner_${suffix}`;
  const database = `${process.env.PAYTRUST_TEST_RUN_ID}_compose_${suffix}`;
  const ownerPassword = randomBytes(18).toString("base64url");
  const ownerUrl = withCredentials(withDatabase(rootUrl, database), owner, ownerPassword);
  let app: ChildProcess | null = null;

  const root = async <T>(fn: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: withDatabase(rootUrl, "postgres") });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };

  afterAll(async () => {
    app?.kill("SIGKILL");
    await root(async (client) => {
      await client.query(`drop database if exists ${database} with (force)`);
      await client.query(`drop owned by ${owner}`).catch(() => {});
      await client.query(`drop role if exists ${owner}`).catch(() => {});
    });
  });

  it("a DBA migrates once; the app runs as a non-superuser owner and is ready", async () => {
    // docker/postgres-init.sh
    await root(async (client) => {
      await client.query(
        `create role ${owner} login nosuperuser nocreatedb nocreaterole password '${ownerPassword}'`,
      );
      await client.query(`create database ${database} owner ${owner}`);
    });
    const common = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "production",
      PAYTRUST_GATEWAY_MODE: "sandbox",
      DATABASE_URL: ownerUrl,
      // The authenticator role is cluster-wide: keep the suite's password.
      DATABASE_AUTHENTICATOR_PASSWORD: AUTHENTICATOR_PASSWORD,
    };
    // The `migrate` service: owner + superuser URL.
    const migrated = await run(process.execPath, ["bin/paytrust.js", "migrate"], {
      cwd: projectRoot,
      env: { ...common, ROOT_DATABASE_URL: withDatabase(rootUrl, "postgres") },
      timeout: 120_000,
    });
    expect(migrated.stdout).toMatch(/Migrations are up to date/);
    // Production never applies the work-in-progress migration (migrations/current.sql).
    const current = await root(async () => {
      const client = new pg.Client({ connectionString: withDatabase(rootUrl, database) });
      await client.connect();
      try {
        return (await client.query("select count(*)::int as n from graphile_migrate.current"))
          .rows[0].n;
      } finally {
        await client.end();
      }
    });
    expect(current).toBe(0);

    // The `app` service: no superuser URL, no migration at start.
    const port = await freePort();
    app = spawn(process.execPath, ["bin/paytrust.js", "start"], {
      cwd: projectRoot,
      env: {
        ...common,
        HOST: "127.0.0.1",
        PORT: String(port),
        PAYTRUST_MIGRATE_ON_START: "false",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    app.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    app.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const deadline = Date.now() + 60_000;
    let ready = 0;
    while (Date.now() < deadline) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status)
        .catch(() => 0);
      if (ready === 200 || app.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect({ ready, output: ready === 200 ? "" : output }).toEqual({ ready: 200, output: "" });

    const { rows } = await root((client) =>
      client.query(
        `select a.usename, r.rolsuper from pg_stat_activity a join pg_roles r on r.rolname = a.usename
          where a.datname = $1`,
        [database],
      ),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.rolsuper)).toEqual([]);
    // `docker compose exec app node bin/paytrust.js create-tenant …`: same environment, no DDL.
    const appEnv = { ...common, PAYTRUST_MIGRATE_ON_START: "false" };
    const created = await run(
      process.execPath,
      ["bin/paytrust.js", "create-tenant", "Compose shop", "--json"],
      { cwd: projectRoot, env: appEnv, timeout: 60_000 },
    );
    const { tenantId, apiKey } = JSON.parse(created.stdout);
    const me = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
    });
    const meBody = await me.json();
    // Production applies committed migrations only: until the runtime role's grants (now in
    // migrations/current.sql) are committed, its key lookups cannot work there.
    if (runtimeGrantsCommitted) expect(meBody).toEqual({ data: { currentTenantId: tenantId } });
    else expect(tenantId).toMatch(/^[0-9a-f-]{36}$/);

    app.kill("SIGTERM");
    await new Promise((r) => app?.once("exit", r));
  });
});
