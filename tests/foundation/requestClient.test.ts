/**
 * src/db/requestClient.ts, the client of PostGraphile's pool: `begin`,
 * @dataplan/pg's settings statement and the operation after them go out in one
 * socket write (one round trip), a begin with nothing after it sends nothing,
 * errors still roll back and read as the failing statement's, and
 * @dataplan/pg's unnamed row-array statements (mutations) are prepared once
 * per connection.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from "@jest/globals";
import pg from "pg";
import { makePool } from "../../src/db/connection.ts";
import { RequestClient, SET_SETTINGS_SQL } from "../../src/db/requestClient.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

describe("RequestClient", () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase();
    pool = makePool(db.ownerUrl, 2, { Client: RequestClient });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  /** The statements pg sends while fn runs, and how many socket writes carried them. */
  async function sent(
    fn: (client: pg.PoolClient) => Promise<void>,
  ): Promise<string[] & { writes: number }> {
    const client = await pool.connect();
    const texts = Object.assign([] as string[], { writes: 0 });
    const spy = jest.spyOn(pg.Client.prototype, "query");
    // Each flush of the socket is one of these two calls (a corked batch is one _writev).
    const stream = (client as any).connection.stream;
    const counted = (name: "_write" | "_writev") => {
      const original = stream[name];
      stream[name] = function (this: unknown, ...args: unknown[]) {
        texts.writes++;
        return original.apply(this, args);
      };
      return () => {
        stream[name] = original;
      };
    };
    const restores = [counted("_write"), counted("_writev")];
    try {
      await fn(client);
      for (const call of spy.mock.calls) {
        const config = call[0] as any;
        texts.push(
          typeof config === "string"
            ? config
            : `${config.name ? `[${config.name}] ` : ""}${config.text}`,
        );
      }
    } finally {
      for (const restore of restores) restore();
      spy.mockRestore();
      client.release();
    }
    return texts;
  }

  const settings = JSON.stringify([
    ["paytrust.tenant_id", "it's a 'quoted' \\ value"],
    ["paytrust.role", "tenant"],
  ]);

  it("sends begin, the settings and the next statement in one write; settings stay in the transaction", async () => {
    let inside: string[] = [];
    const texts = await sent(async (client) => {
      await client.query({ text: "begin" });
      await client.query({ text: SET_SETTINGS_SQL, values: [settings] });
      const { rows } = await client.query(
        "select current_setting('paytrust.tenant_id') as t, current_setting('paytrust.role') as r",
      );
      inside = [rows[0].t, rows[0].r];
      await client.query({ text: "commit" });
    });
    expect(inside).toEqual(["it's a 'quoted' \\ value", "tenant"]);
    expect(texts).toHaveLength(3);
    expect(texts[0]).toMatch(
      /^begin; select set_config\(el->>0, el->>1, true\) from json_array_elements\(/,
    );
    expect(texts[1]).toMatch(/^select current_setting/);
    expect(texts[2]).toBe("commit");
    // two round trips: the opening with the select, then the commit
    expect(texts.writes).toBe(2);
    const { rows } = await pool.query("select current_setting('paytrust.tenant_id', true) as t");
    expect(rows[0].t ?? "").toBe("");
  });

  it("sends nothing for a begin followed directly by commit or rollback", async () => {
    const texts = await sent(async (client) => {
      await client.query({ text: "begin" });
      await client.query({ text: "commit" });
      await client.query({ text: "begin" });
      await client.query({ text: "rollback" });
    });
    expect([...texts]).toEqual([]);
    expect(texts.writes).toBe(0);
  });

  it("forgets a held-back begin and settings when the client goes back to the pool", async () => {
    const first = await pool.connect();
    await first.query({ text: "begin" });
    await first.query({ text: SET_SETTINGS_SQL, values: [settings] });
    first.release();
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const client of clients) {
        const { rows } = await client.query(
          "select current_setting('paytrust.tenant_id', true) as t",
        );
        expect(rows[0].t ?? "").toBe("");
      }
    } finally {
      for (const client of clients) client.release();
    }
  });

  it("puts the begin in front of any other first statement", async () => {
    const texts = await sent(async (client) => {
      await client.query({ text: "begin" });
      await client.query({ text: "create temporary table t (x int)" });
      await client.query({ text: "rollback" });
      // rolled back: the table is gone, so the begin really opened a transaction
      const { rows } = await client.query("select to_regclass('pg_temp.t') as t");
      expect(rows[0].t).toBe(null);
    });
    expect(texts.slice(0, 3)).toEqual(["begin", "create temporary table t (x int)", "rollback"]);
  });

  it("rolls back after a failing statement and after failing settings (their error, at the next statement)", async () => {
    const client = await pool.connect();
    try {
      await client.query({ text: "begin" });
      await client.query({ text: SET_SETTINGS_SQL, values: [settings] });
      await expect(client.query({ text: "select 1 / 0" })).rejects.toThrow(/division by zero/);
      await client.query({ text: "rollback" });
      expect((await client.query("select 1 as one")).rows[0].one).toBe(1);

      await client.query({ text: "begin" });
      // Held back (answered at once, as @dataplan/pg only awaits it), sent with the next statement.
      await client.query({
        text: SET_SETTINGS_SQL,
        values: [JSON.stringify([["role", "no_such_role"]])],
      });
      await expect(client.query({ text: "select 1 as one" })).rejects.toThrow(
        /role "no_such_role" does not exist/,
      );
      await client.query({ text: "rollback" });
      const { rows } = await client.query("select current_user = session_user as same");
      expect(rows[0].same).toBe(true);
    } finally {
      client.release();
    }
  });

  it("prepares unnamed row-array statements with parameters once per connection", async () => {
    const text = "select $1::int + 1 as n";
    const texts = await sent(async (client) => {
      for (let i = 0; i < 3; i++) {
        const { rows } = await client.query({ text, values: [i], rowMode: "array" } as any);
        expect(rows[0][0]).toBe(i + 1);
      }
      // other statements keep their own shape
      await client.query({ text, values: [1] });
      await client.query({ text, values: [1], name: "own_name", rowMode: "array" } as any);
    });
    const names = texts.map((t) => /^\[(\w+)\]/.exec(t)?.[1] ?? null);
    expect(names[0]).toMatch(/^pt_[0-9a-f]{40}$/);
    expect(names.slice(0, 3)).toEqual([names[0], names[0], names[0]]);
    expect(names.slice(3)).toEqual([null, "own_name"]);
  });
});
