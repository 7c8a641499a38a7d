/**
 * The DBA loop (issue 16.5): in development PostGraphile watches the database
 * (event triggers in the `postgraphile_watch` schema, installed through a
 * superuser connection), so DDL applied by `graphile-migrate watch` changes the
 * running API without a restart. Here the app runs with PAYTRUST_WATCH=true and
 * the owner adds a function to paytrust_public, as the current migration would;
 * the new field answers within seconds. And `.gmrc` makes `graphile-migrate
 * reset --erase` and `commit` (against a shadow database) work from nothing:
 * its afterReset creates the roles, its placeholders match bootstrap.ts.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { commit, Logger, reset } from "graphile-migrate";
import pg from "pg";
import { loadConfig } from "../../src/config.ts";
import { MIGRATION_PLACEHOLDERS, projectRoot, withDatabase } from "../../src/db/bootstrap.ts";
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

/** .gmrc is JSON5: drop its comments (none of its strings contain comment markers). */
async function gmrc(): Promise<any> {
  const text = await readFile(join(projectRoot, ".gmrc"), "utf8");
  return JSON.parse(text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, ""));
}

const quiet = new Logger(() => (level: string, message: string) => {
  if (level === "error") console.error(message);
});

describe(".gmrc: reset --erase and commit against a shadow database", () => {
  it("has the placeholders bootstrap.ts passes, and an afterReset that exists", async () => {
    const settings = await gmrc();
    expect(settings.placeholders).toEqual(MIGRATION_PLACEHOLDERS);
    expect(settings.afterReset).toEqual(["!afterReset.sql"]);
    const sql = await readFile(join(projectRoot, "migrations", "afterReset.sql"), "utf8");
    for (const placeholder of Object.keys(MIGRATION_PLACEHOLDERS))
      expect(sql).toContain(placeholder);
  });

  it("reset --erase builds the database from nothing; commit moves current.sql into committed/", async () => {
    const rootUrl = process.env.PAYTRUST_TEST_ROOT_URL!;
    const run = process.env.PAYTRUST_TEST_RUN_ID!;
    const dev = `${run}_dba_dev`;
    const shadow = `${run}_dba_shadow`;
    const folder = await mkdtemp(join(tmpdir(), "paytrust-dba-"));
    try {
      await cp(join(projectRoot, "migrations", "committed"), join(folder, "committed"), {
        recursive: true,
      });
      await cp(join(projectRoot, "migrations", "afterReset.sql"), join(folder, "afterReset.sql"));
      const committedBefore = (await readdir(join(folder, "committed"))).length;
      // The change docs/migrations.md walks through: a new currency.
      await writeFile(
        join(folder, "current.sql"),
        `insert into paytrust_public.currencies (code, exponent, name)
           values ('SGD', 2, 'Singapore dollar') on conflict (code) do nothing;
         insert into paytrust_public.gateway_configurations (gateway, currency, fee_percent, fee_fixed)
           values ('xendit', 'SGD', 2.90, 50) on conflict do nothing;\n`,
      );
      const { afterReset, placeholders, pgSettings } = await gmrc();
      const settings = {
        connectionString: withDatabase(rootUrl, dev),
        shadowConnectionString: withDatabase(rootUrl, shadow),
        rootConnectionString: rootUrl,
        migrationsFolder: folder,
        afterReset,
        placeholders,
        pgSettings,
        logger: quiet,
      };
      await reset(settings as any, false);
      await commit(settings as any, "Currency SGD through Xendit");
      const committed = (await readdir(join(folder, "committed"))).sort();
      expect(committed).toHaveLength(committedBefore + 1);
      expect(committed.at(-1)).toMatch(/-currency-sgd-through-xendit\.sql$/);
      // current.sql is emptied (only a comment is left) for the next change
      const current = await readFile(join(folder, "current.sql"), "utf8");
      expect(current.split("\n").filter((l) => l.trim() && !l.trim().startsWith("--"))).toEqual([]);
      for (const database of [dev, shadow]) {
        const client = new pg.Client({ connectionString: withDatabase(rootUrl, database) });
        await client.connect();
        try {
          const { rows } = await client.query(
            "select exponent from paytrust_public.currencies where code = 'SGD'",
          );
          expect(rows).toEqual([{ exponent: 2 }]);
        } finally {
          await client.end();
        }
      }
    } finally {
      createRequire(import.meta.url)("graphile-migrate/dist/pgReal.js").clearAllPools();
      const root = new pg.Client({ connectionString: rootUrl });
      await root.connect();
      await root.query(`drop database if exists ${dev} with (force)`);
      await root.query(`drop database if exists ${shadow} with (force)`);
      await root.end();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
