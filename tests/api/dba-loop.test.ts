/**
 * The DBA loop (issue 16.5): in development PostGraphile watches the database
 * (event triggers in the `postgraphile_watch` schema, installed through a
 * superuser connection), so DDL applied by `graphile-migrate watch` changes the
 * running API without a restart. Here the app runs with PAYTRUST_WATCH=true and
 * the owner adds a function to paytrust_public, as the current migration would;
 * the new field answers within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { loadConfig } from "../../src/config.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

let db: TestDatabase;
let app: TestApp;
let apiKey: string;

beforeAll(async () => {
  db = await freshDatabase();
  app = await startTestApp(db, { env: { PAYTRUST_WATCH: "true" } });
  ({ apiKey } = await createTenant(db.pool, "DBA loop"));
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

async function poll<T>(fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("PAYTRUST_WATCH", () => {
  it("is on by default only in development", () => {
    expect(loadConfig({}).watch).toBe(true);
    expect(loadConfig({ NODE_ENV: "development" }).watch).toBe(true);
    expect(loadConfig({ NODE_ENV: "test" }).watch).toBe(false);
    expect(loadConfig({ NODE_ENV: "test", PAYTRUST_WATCH: "true" }).watch).toBe(true);
    const production = { NODE_ENV: "production", PAYTRUST_GATEWAY_MODE: "sandbox" };
    expect(loadConfig(production).watch).toBe(false);
    expect(loadConfig({ NODE_ENV: "development", PAYTRUST_WATCH: "false" }).watch).toBe(false);
    expect(() => loadConfig({ PAYTRUST_WATCH: "yes" })).toThrow(/PAYTRUST_WATCH/);
  });
});

describe("the running API follows the database (watch mode)", () => {
  it("installs the watch triggers", async () => {
    const { rows } = await db.pool.query(
      "select evtname from pg_event_trigger where evtname like 'postgraphile_watch%' order by 1",
    );
    expect(rows.map((r) => r.evtname)).toEqual([
      "postgraphile_watch_ddl",
      "postgraphile_watch_drop",
    ]);
  });

  it("a function added by the owner is callable through the API within seconds", async () => {
    const before = await app.gql("{ dbaLoopProbe }", {}, apiKey);
    expect(before.body.errors?.[0]?.message).toMatch(/dbaLoopProbe/);

    const started = Date.now();
    await db.pool.query(`
      create or replace function paytrust_public.dba_loop_probe() returns text
        language sql stable as $$ select 'hello from current.sql' $$;
      comment on function paytrust_public.dba_loop_probe() is E'Added while the API runs.';
      grant execute on function paytrust_public.dba_loop_probe() to paytrust_tenant;
    `);
    const answer = await poll(async () => {
      const { body } = await app.gql("{ dbaLoopProbe }", {}, apiKey);
      return body.data?.dbaLoopProbe ?? undefined;
    }, 15_000);
    expect(answer).toBe("hello from current.sql");
    expect(Date.now() - started).toBeLessThan(15_000);

    // Its comment is its description, like every other field.
    const { body } = await app.gql(
      `{ __schema { queryType { fields { name description } } } }`,
      {},
      apiKey,
    );
    const field = body.data.__schema.queryType.fields.find(
      (f: { name: string }) => f.name === "dbaLoopProbe",
    );
    expect(field.description).toBe("Added while the API runs.");
  });

  it("a dropped function disappears again", async () => {
    await db.pool.query("drop function paytrust_public.dba_loop_probe()");
    await poll(async () => {
      const { body } = await app.gql("{ dbaLoopProbe }", {}, apiKey);
      return body.errors?.[0]?.message?.includes("dbaLoopProbe") ? true : undefined;
    }, 15_000);
  });
});
