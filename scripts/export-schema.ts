/**
 * Writes `schema.graphql` (the committed API contract) from a freshly migrated
 * database: `node scripts/export-schema.ts` (or `npx node scripts/export-schema.ts`
 * where the machine's node is older than 22).
 *
 * The database server is the test suite's: TEST_DATABASE_URL if set, else a
 * testcontainers PostgreSQL, else the embedded server. A throw-away database is
 * created on it, migrated (committed and current migrations, like the tests),
 * printed and dropped. The authenticator keeps the test suite's password (the
 * role is cluster-wide: another password would lock out running test suites).
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import {
  migrateDatabase,
  projectRoot,
  ROLES,
  withCredentials,
  withDatabase,
} from "../src/db/bootstrap.ts";
import { printLiveSchema } from "../src/plugins/schemaExport.ts";
import { AUTHENTICATOR_PASSWORD } from "../tests/helpers/db.ts";
import { findTestServer } from "../tests/setup/server.ts";

export const SCHEMA_FILE = join(projectRoot, "schema.graphql");

async function main(): Promise<void> {
  const server = await findTestServer();
  const rootUrl = withDatabase(server.rootUrl, "postgres");
  const name = `paytrust_schema_${randomBytes(4).toString("hex")}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: rootUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database ${name}`);
  try {
    const ownerUrl = withDatabase(server.rootUrl, name);
    await migrateDatabase({
      ownerUrl,
      rootUrl,
      authenticatorPassword: AUTHENTICATOR_PASSWORD,
      includeCurrent: true,
      quiet: true,
    });
    const text = await printLiveSchema(
      withCredentials(ownerUrl, ROLES.authenticator, AUTHENTICATOR_PASSWORD),
    );
    writeFileSync(SCHEMA_FILE, text);
    console.log(`Wrote ${SCHEMA_FILE} (${text.split("\n").length} lines)`);
  } finally {
    await admin(`drop database if exists ${name} with (force)`);
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
