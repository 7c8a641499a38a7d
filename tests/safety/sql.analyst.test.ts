/**
 * Issue 14 item 10: analyst logins (paytrust create-analyst) cannot lift their
 * limits. PostgreSQL lets any role SET its own timeouts and read-only flag, so
 * the limits do not rely on those settings: writes are impossible by grants,
 * the timeouts are enforced by the worker (enforce_analyst_limits), and
 * pg_notify / advisory locks are not executable by them.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { type AnalystLogin, createAnalyst } from "../../src/db/analyst.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

async function code(client: pg.Client, sql: string): Promise<string | null> {
  try {
    await client.query(sql);
    return null;
  } catch (error: any) {
    return error.code ?? "UNKNOWN";
  }
}

describe("analyst logins: limits they cannot override", () => {
  let db: TestDatabase;
  let login: AnalystLogin;
  const clients: pg.Client[] = [];

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: login.connectionString });
    client.on("error", () => {});
    await client.connect();
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    db = await freshDatabase();
    login = await createAnalyst(db.rootUrl, db.name, `analyst_${randomBytes(4).toString("hex")}`, {
      statementTimeout: "2s",
      idleInTransactionTimeout: "2s",
    });
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await db?.drop();
    if (login) {
      const root = new pg.Client({ connectionString: db.rootUrl });
      await root.connect();
      await root.query(`drop role if exists ${login.user}`).catch(() => {});
      await root.end();
    }
  });

  it("turning read-only off writes nothing: no write grant, no TEMP, no large objects, no DDL", async () => {
    const a = await connect();
    await a.query("set default_transaction_read_only = off");
    await a.query("set statement_timeout = 0");
    expect((await a.query("show transaction_read_only")).rows[0].transaction_read_only).toBe("off");
    expect(await code(a, "insert into paytrust_public.tenants (name) values ('analyst')")).toBe(
      "42501",
    );
    expect(await code(a, "update paytrust_public.gateway_configurations set fee_fixed = 0")).toBe(
      "42501",
    );
    expect(await code(a, "delete from paytrust_public.audit_events")).toBe("42501");
    expect(await code(a, "create temp table scratch (x int)")).toBe("42501");
    expect(await code(a, "create table paytrust_reporting.scratch (x int)")).toBe("42501");
    expect(await code(a, "create table public.scratch (x int)")).toBe("42501");
    expect(await code(a, "select lo_create(0)")).toBe("42501");
    expect(await code(a, "set role paytrust_admin")).toBe("42501");
    // what they are for still works
    await expect(
      a.query("select count(*) from paytrust_reporting.revenue_by_day"),
    ).resolves.toBeTruthy();
  });

  it("no pg_notify on the key-cache channel; the start-up advisory lock (and any other) refused", async () => {
    const a = await connect();
    expect(await code(a, "select pg_notify('paytrust_api_keys', 'x')")).toBe("42501");
    // LISTEN/NOTIFY take no privilege in PostgreSQL: the channel's name is a secret instead.
    expect(await code(a, "select paytrust_private.key_cache_channel()")).toBe("42501");
    const { rows } = await db.pool.query("select paytrust_private.key_cache_channel() as channel");
    expect(rows[0].channel).toMatch(/^paytrust_api_keys_[0-9a-f]{24}$/);
    expect(await code(a, "select pg_advisory_lock(hashtext('paytrust.ensure_roles'))")).toBe(
      "42501",
    );
    expect(await code(a, "select pg_try_advisory_lock(hashtext('paytrust.ensure_roles'))")).toBe(
      "42501",
    );
    expect(await code(a, "select pg_advisory_lock_shared(1)")).toBe("42501");
    expect(await code(a, "begin; select pg_advisory_xact_lock(1)")).toBe("42501");
    await a.query("rollback");
  });

  it("connection limit and limits table are out of reach", async () => {
    const a = await connect();
    await a.query("set default_transaction_read_only = off");
    expect(await code(a, `alter role ${login.user} connection limit -1`)).toBe("42501");
    expect(
      await code(a, "update paytrust_private.analyst_limits set statement_timeout = '1 day'"),
    ).toBe("42501");
    const { rows } = await db.pool.query(
      `select r.rolconnlimit, l.statement_timeout::text, l.idle_in_transaction_timeout::text
         from pg_roles r join paytrust_private.analyst_limits l on l.role_name = r.rolname
        where r.rolname = $1`,
      [login.user],
    );
    expect(rows).toEqual([
      { rolconnlimit: 5, statement_timeout: "00:00:02", idle_in_transaction_timeout: "00:00:02" },
    ]);
  });

  describe("timeouts the session turned off are enforced by the worker", () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startTestApp(db, { serve: false, worker: true });
    });
    afterAll(async () => {
      await app?.stop();
    });

    it("set statement_timeout = 0 cannot run unbounded: cancelled within limit + interval", async () => {
      const a = await connect();
      await a.query("set statement_timeout = 0");
      const started = Date.now();
      await expect(a.query("select pg_sleep(60)")).rejects.toMatchObject({ code: "57014" });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(2_000);
      expect(elapsed).toBeLessThan(15_000);
      // The cancelled query can fail before the watchdog's own result (and
      // its log line) has come back: wait for the line, bounded.
      const line = new RegExp(`analyst ${login.user} over its limit: backend \\d+ cancelled`);
      for (let i = 0; i < 50 && !line.test(app.logs.join("\n")); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(app.logs.join("\n")).toMatch(line);
    });

    it("set idle_in_transaction_session_timeout = 0 cannot hold a transaction open: session ended", async () => {
      const a = await connect();
      await a.query("set idle_in_transaction_session_timeout = 0");
      await a.query("begin");
      await a.query("select count(*) from paytrust_reporting.webhook_health");
      await new Promise((r) => setTimeout(r, 9_000));
      await expect(a.query("select 1")).rejects.toBeTruthy();
      expect(app.logs.join("\n")).toMatch(/over its limit: backend \d+ terminated/);
    });
  });
});
