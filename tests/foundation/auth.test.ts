import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

describe("API key authentication over HTTP", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { tenantId: string; apiKey: string; keyId: string };
  let admin: { apiKey: string; keyId: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(db.pool, "Acme");
    admin = await createAdminKey(db.pool);
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const ME = "{ currentTenantId }";

  it("refuses a request without a key with 401 JSON and executes nothing", async () => {
    const before = await db.pool.query("select count(*) from paytrust_public.tenants");
    const res = await app.gql('mutation { createTenant(input: {name: "x"}) { tenant { id } } }');
    expect(res.status).toBe(401);
    expect(res.body.errors[0].extensions.code).toBe("PTAUTH");
    const afterCount = await db.pool.query("select count(*) from paytrust_public.tenants");
    expect(afterCount.rows[0].count).toBe(before.rows[0].count);
  });

  it("refuses malformed, unknown and wrong-secret keys with 401", async () => {
    for (const key of [
      "nonsense",
      `${tenant.apiKey}x`,
      tenant.apiKey.replace(/_[^_]+$/, `_${"A".repeat(43)}`),
    ]) {
      const res = await app.gql(ME, {}, key);
      expect(res.status).toBe(401);
      expect(res.body.errors[0].extensions.code).toBe("PTAUTH");
    }
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: { authorization: "Basic abc", "content-type": "application/json" },
      body: JSON.stringify({ query: ME }),
    });
    expect(res.status).toBe(401);
  });

  it("records failed authentications in the audit log", async () => {
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.audit_events where action = 'auth.failed'",
    );
    expect(rows[0].n >= 1).toBeTruthy();
  });

  it("sets the tenant claim from a good key", async () => {
    const res = await app.gql(ME, {}, tenant.apiKey);
    expect(res.status).toBe(200);
    expect(res.body.data.currentTenantId).toBe(tenant.tenantId);
  });

  it("refuses expired keys", async () => {
    const other = await createTenant(db.pool, "Expiring");
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = now() - interval '1 second' where id = $1",
      [other.keyId],
    );
    const res = await app.gql(ME, {}, other.apiKey);
    expect(res.status).toBe(401);
  });

  it("refuses admin-only operations to tenant keys with a stable code", async () => {
    const res = await app.gql(
      'mutation { createTenant(input: {name: "Evil"}) { tenant { id } } }',
      {},
      tenant.apiKey,
    );
    expect(res.body.errors[0].extensions.code).toBe("PTPRM");
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.tenants where name = 'Evil'",
    );
    expect(rows[0].n).toBe(0);
  });

  it("lets admin keys create tenants", async () => {
    const res = await app.gql(
      'mutation { createTenant(input: {name: "Beta"}) { tenant { id name } } }',
      {},
      admin.apiKey,
    );
    expect(res.body.data.createTenant.tenant.name).toBe("Beta");
  });

  it("invalidates the verification cache at once when a key is revoked", async () => {
    const victim = await createTenant(db.pool, "Soon revoked");
    expect((await app.gql(ME, {}, victim.apiKey)).status).toBe(200); // now cached
    await db.pool.query("update paytrust_private.api_keys set revoked_at = now() where id = $1", [
      victim.keyId,
    ]);
    // The NOTIFY is sent at commit; give the listener its round trip.
    await new Promise((r) => setTimeout(r, 100));
    const res = await app.gql(ME, {}, victim.apiKey);
    expect(res.status).toBe(401);
  });

  it("serves /healthz and /readyz", async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
