/**
 * createAnalyst (src/db/analyst.ts, behind `paytrust create-analyst NAME`):
 * a real LOGIN role that connects with its own password, reads the reporting
 * views (every tenant), is refused everything else, and is read-only by default.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { createAnalyst } from "../../src/db/analyst.ts";
import type { PayTrustError } from "../../src/errors.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { buildFixture, type Fixture } from "./fixture.ts";

/** The SQLSTATE a statement fails with (autocommit), or null. */
async function sqlError(client: pg.Client, sql: string): Promise<string | null> {
  try {
    await client.query(sql);
    return null;
  } catch (error: any) {
    return error.code ?? "UNKNOWN";
  }
}

describe("analyst logins", () => {
  let db: TestDatabase;
  let fx: Fixture;
  const name = `analyst_${randomBytes(4).toString("hex")}`;
  const clients: pg.Client[] = [];

  async function connect(connectionString: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString });
    await client.connect();
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    db = await freshDatabase();
    fx = await buildFixture(db.pool);
  });
  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => {});
    // Roles are cluster-wide: remove the login (its database grants go with the database).
    await db.pool.query(`revoke connect on database ${db.name} from ${name}`).catch(() => {});
    await db.drop();
    const root = new pg.Client({ connectionString: db.rootUrl });
    await root.connect();
    await root.query(`drop role if exists ${name}`);
    await root.end();
  });

  it("creates a login that reads the reporting views for every tenant", async () => {
    const login = await createAnalyst(db.rootUrl, db.name, name);
    expect(login.user).toBe(name);
    expect(login.password.length >= 32).toBeTruthy();
    const url = new URL(login.connectionString);
    expect(url.pathname).toBe(`/${db.name}`);
    expect(decodeURIComponent(url.username)).toBe(name);

    const client = await connect(login.connectionString);
    const { rows } = await client.query(
      "select current_user as who, current_setting('search_path') as path from paytrust_reporting.revenue_by_day limit 1",
    );
    expect(rows[0]).toEqual({ who: name, path: "paytrust_reporting" });
    // search_path: the view names work unqualified
    const { rows: tenants } = await client.query("select distinct tenant_id from revenue_by_day");
    expect(tenants.map((r) => fx.label(r.tenant_id)).sort()).toEqual(["A", "B"]);
  });

  it("refuses the login everything outside the reporting schema", async () => {
    const login = await createAnalyst(db.rootUrl, db.name, name); // re-issues the password
    const client = await connect(login.connectionString);
    for (const sql of [
      "select * from paytrust_public.invoices",
      "select * from paytrust_private.api_keys",
      "select * from graphile_worker.jobs",
      "select * from paytrust_private.report_revenue_by_day",
    ]) {
      expect(await sqlError(client, sql)).toBe("42501");
    }
    // Read-only transactions by default (25006), and no privileges when that is switched off.
    expect(await sqlError(client, "create temp table scratch (x int)")).toBe("25006");
    await client.query("set default_transaction_read_only = off");
    for (const sql of [
      "update paytrust_public.invoices set status = 'paid'",
      "insert into paytrust_public.tenants (name) values ('x')",
      "delete from paytrust_private.api_keys",
      "create table paytrust_reporting.mine (id int)",
      "select lo_create(0)", // large objects would be a write too
      "select lo_from_bytea(0, 'x')",
    ]) {
      expect(await sqlError(client, sql)).toBe("42501");
    }
  });

  it("re-issues the password (a new hash) and keeps the login unprivileged", async () => {
    const hash = async () =>
      (await db.pool.query("select rolpassword from pg_authid where rolname = $1", [name])).rows[0]
        .rolpassword;
    const first = await createAnalyst(db.rootUrl, db.name, name);
    const before = await hash();
    const second = await createAnalyst(db.rootUrl, db.name, name);
    expect(first.password).not.toBe(second.password);
    expect(await hash()).not.toBe(before);
    expect(await hash()).toMatch(/^(SCRAM-SHA-256\$|md5)/);
    const { rows: member } = await db.pool.query(
      `select pg_has_role($1, 'paytrust_analyst', 'USAGE') as analyst, rolsuper, rolcreaterole, rolcreatedb,
              rolbypassrls, rolinherit
         from pg_roles where rolname = $1`,
      [name],
    );
    expect(member[0]).toEqual({
      analyst: true,
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
      rolinherit: true,
    });
  });

  it("refuses bad names and roles that are not analyst logins", async () => {
    for (const bad of [
      "",
      "Robert'); drop table x;--",
      "1abc",
      "pg_monitor",
      "paytrust_admin",
      "a-b",
    ]) {
      await assert.rejects(
        createAnalyst(db.rootUrl, db.name, bad),
        (e: PayTrustError) => e.code === "PTVAL",
        bad,
      );
    }
    await assert.rejects(
      createAnalyst(db.rootUrl, db.name, "postgres"),
      (e: PayTrustError) => e.code === "PTDUP",
    );
  });
});
