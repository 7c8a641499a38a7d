/** jest globalTeardown: drops this run's databases and stops the server globalSetup started. */
import pg from "pg";
import { withDatabase } from "../../src/db/bootstrap.ts";

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__PAYTRUST_TEST_SERVER__;
  if (!state) return;
  const { server, runId } = state;
  try {
    const root = new pg.Client({ connectionString: withDatabase(server.rootUrl, "postgres") });
    await root.connect();
    try {
      const { rows } = await root.query<{ datname: string }>(
        "select datname from pg_database where datname like $1",
        [`${runId}%`],
      );
      for (const { datname } of rows)
        await root.query(`drop database if exists "${datname}" with (force)`);
    } finally {
      await root.end();
    }
  } catch (error) {
    console.error(error);
  } finally {
    await server.stop();
  }
}
