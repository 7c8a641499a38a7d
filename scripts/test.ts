/**
 * `npm test`: finds a real PostgreSQL (TEST_DATABASE_URL, else a
 * testcontainers PostgreSQL when a Docker engine answers, else the embedded
 * server under .paytrust/test), builds one migrated template database, then
 * runs the suite with node's test runner. Each test file clones the template
 * into its own database, so files run in parallel without sharing rows.
 */
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import pg from "pg";
import { migrateDatabase, projectRoot, withDatabase } from "../src/db/bootstrap.ts";
import { ensureEmbeddedServer } from "../src/db/embedded.ts";

// Unique per run, so several runs can share one server (e.g. TEST_DATABASE_URL).
const RUN_ID = `paytrust_t${process.pid.toString(36)}${Date.now().toString(36)}`;
const TEMPLATE = `${RUN_ID}_template`;

function dockerAnswers(): boolean {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function findServer(): Promise<{ rootUrl: string; stop: () => Promise<void>; kind: string }> {
  if (process.env.TEST_DATABASE_URL) {
    return {
      rootUrl: process.env.TEST_DATABASE_URL,
      stop: async () => {},
      kind: "TEST_DATABASE_URL",
    };
  }
  if (dockerAnswers()) {
    const { GenericContainer, Wait } = await import("testcontainers");
    const container = await new GenericContainer("postgres:17")
      .withEnvironment({ POSTGRES_PASSWORD: "postgres" })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    const rootUrl = `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    return { rootUrl, stop: async () => void (await container.stop()), kind: "testcontainers" };
  }
  const server = await ensureEmbeddedServer(join(projectRoot, ".paytrust", "test"), (l) =>
    console.error(l),
  );
  return { rootUrl: server.rootUrl, stop: server.stop, kind: "embedded" };
}

function testFiles(dir: string, filter: string[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path, filter));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out
    .filter((f) => filter.length === 0 || filter.some((x) => relative(projectRoot, f).includes(x)))
    .sort();
}

async function dropRunDatabases(rootUrl: string): Promise<void> {
  const root = new pg.Client({ connectionString: withDatabase(rootUrl, "postgres") });
  await root.connect();
  const { rows } = await root.query<{ datname: string }>(
    "select datname from pg_database where datname like $1",
    [`${RUN_ID}%`],
  );
  for (const { datname } of rows)
    await root.query(`drop database if exists "${datname}" with (force)`);
  await root.end();
}

async function main() {
  const filter = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const server = await findServer();
  console.log(`Test database server: ${server.kind}`);
  let code = 1;
  try {
    const root = new pg.Client({ connectionString: withDatabase(server.rootUrl, "postgres") });
    await root.connect();
    await root.query(`create database ${TEMPLATE}`);
    await root.end();
    await migrateDatabase({
      ownerUrl: withDatabase(server.rootUrl, TEMPLATE),
      rootUrl: withDatabase(server.rootUrl, "postgres"),
      authenticatorPassword: "paytrust-test-authenticator",
      includeCurrent: true,
      quiet: true,
    });
    const files = testFiles(join(projectRoot, "tests"), filter);
    code = await new Promise<number>((resolveCode) => {
      const child = spawn(
        process.execPath,
        [
          "--test",
          "--test-reporter=spec",
          `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
          ...files,
        ],
        {
          stdio: "inherit",
          env: {
            ...process.env,
            NODE_ENV: "test",
            GRAPHILE_ENV: "test",
            PAYTRUST_TEST_ROOT_URL: withDatabase(server.rootUrl, "postgres"),
            PAYTRUST_TEST_TEMPLATE: TEMPLATE,
            PAYTRUST_TEST_RUN_ID: RUN_ID,
          },
        },
      );
      child.on("exit", (c) => resolveCode(c ?? 1));
    });
  } finally {
    await dropRunDatabases(server.rootUrl).catch((e) => console.error(e));
    await server.stop();
  }
  process.exit(code);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
