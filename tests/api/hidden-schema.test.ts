/**
 * The hidden schema (issue 16.6, graphile/starter's app_hidden): helpers the
 * API roles call but PostGraphile must not expose live in paytrust_hidden, not
 * behind `@behavior -*` in paytrust_public (migrations/committed/000015-paytrust_hidden-helpers-the-api-must-not-expose.sql).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { printLiveSchema } from "../../src/plugins/schemaExport.ts";
import { asRole, freshDatabase, sqlError, type TestDatabase } from "../helpers/db.ts";

const HIDDEN = [
  "api_key_issue",
  "api_key_rotate",
  "create_webhook_endpoint",
  "invoices_iso20022_data",
  "is_admin",
  "rotate_webhook_endpoint_secret",
  "update_webhook_endpoint",
];

describe("paytrust_hidden", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("holds the helpers; nothing in paytrust_public hides itself with @behavior -*", async () => {
    const { rows: hidden } = await db.pool.query<{ proname: string }>(
      `select distinct p.proname from pg_proc p
        where p.pronamespace = 'paytrust_hidden'::regnamespace order by 1`,
    );
    expect(hidden.map((r) => r.proname)).toEqual(expect.arrayContaining(HIDDEN));
    const { rows: tagged } = await db.pool.query<{ name: string }>(
      `select p.oid::regprocedure::text as name from pg_proc p
         join pg_description d on d.objoid = p.oid and d.classoid = 'pg_proc'::regclass
        where p.pronamespace = 'paytrust_public'::regnamespace and d.description ~ '^@behavior -\\*'
       union all
       select c.oid::regclass::text from pg_class c
         join pg_description d on d.objoid = c.oid and d.classoid = 'pg_class'::regclass and d.objsubid = 0
        where c.relnamespace = 'paytrust_public'::regnamespace and d.description ~ '^@behavior -\\*'`,
    );
    expect(tagged).toEqual([]);
    const { rows: stale } = await db.pool.query(
      `select p.proname from pg_proc p
        where p.pronamespace = 'paytrust_public'::regnamespace and p.proname = any($1)`,
      [HIDDEN],
    );
    expect(stale).toEqual([]);
  });

  it("the API roles and the runtime may call it; the analyst and the authenticator may not", async () => {
    const { rows } = await db.pool.query<{ role: string; usage: boolean }>(
      `select r.role, has_schema_privilege(r.role, 'paytrust_hidden', 'USAGE') as usage
         from unnest(array['paytrust_tenant', 'paytrust_admin', 'paytrust_runtime',
                           'paytrust_analyst', 'paytrust_authenticator']) r(role) order by 1`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.role, r.usage]))).toEqual({
      paytrust_admin: true,
      paytrust_analyst: false,
      paytrust_authenticator: false,
      paytrust_runtime: true,
      paytrust_tenant: true,
    });
    // is_admin() answers in its new schema (RLS policies follow it by oid).
    const admin = await asRole(
      db.pool,
      "paytrust_admin",
      {},
      async (client) => (await client.query("select paytrust_hidden.is_admin() as is")).rows[0].is,
    );
    expect(admin).toBe(true);
    // assert_admin() (PL/pgSQL, names is_admin in text) lets the admin through.
    const outcome = await asRole(db.pool, "paytrust_admin", {}, (client) =>
      sqlError(client, "select * from paytrust_public.failed_webhooks()"),
    );
    expect(outcome).toBeNull();
  });

  it("is not part of the GraphQL schema", async () => {
    const schema = await printLiveSchema(db.authUrl);
    for (const name of ["apiKeyIssue", "apiKeyRotate", "isAdmin", "iso20022Data"])
      expect(schema).not.toContain(name);
    // The mutations built on the helpers are there.
    for (const name of [
      "createApiKey(",
      "rotateApiKey(",
      "createWebhookEndpoint(",
      "paymentInitiationXml",
    ])
      expect(schema).toContain(name);
  });
});
