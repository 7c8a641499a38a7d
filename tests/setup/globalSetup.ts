/**
 * jest globalSetup: one real PostgreSQL for the run and one migrated template
 * database on it. Each test file clones the template into its own database
 * (tests/helpers/db.ts), so files run in parallel without sharing rows. The
 * environment set here reaches every jest worker.
 */
import pg from "pg";
import { migrateDatabase, withDatabase } from "../../src/db/bootstrap.ts";
import { AUTHENTICATOR_PASSWORD } from "../helpers/db.ts";
import { findTestServer, type TestServer } from "./server.ts";

declare global {
  // Read back by globalTeardown (jest runs both in the parent process).
  var __PAYTRUST_TEST_SERVER__: { server: TestServer; runId: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  // Unique per run, so several runs can share one server (e.g. TEST_DATABASE_URL).
  const runId = `paytrust_t${process.pid.toString(36)}${Date.now().toString(36)}`;
  const template = `${runId}_template`;
  const server = await findTestServer();
  globalThis.__PAYTRUST_TEST_SERVER__ = { server, runId };
  console.log(`\nTest database server: ${server.kind}`);

  const rootUrl = withDatabase(server.rootUrl, "postgres");
  const root = new pg.Client({ connectionString: rootUrl });
  await root.connect();
  try {
    await root.query(`create database ${template}`);
  } finally {
    await root.end();
  }
  await migrateDatabase({
    ownerUrl: withDatabase(server.rootUrl, template),
    rootUrl,
    authenticatorPassword: AUTHENTICATOR_PASSWORD,
    includeCurrent: true,
    quiet: true,
  });

  Object.assign(process.env, {
    NODE_ENV: "test",
    GRAPHILE_ENV: "test",
    PAYTRUST_TEST_ROOT_URL: rootUrl,
    PAYTRUST_TEST_TEMPLATE: template,
    PAYTRUST_TEST_RUN_ID: runId,
  });
}
