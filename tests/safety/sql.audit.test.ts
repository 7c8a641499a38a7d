/**
 * Issue 14 item 8: critical changes are audited by triggers in SQL, so no path
 * (GraphQL, CLI, psql) skips them: tenant updates (bank details, legal name,
 * rate limit), gateway configuration, invoice updates and cancellations, key
 * changes, each with actor, time and old and new values.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

interface AuditRow {
  action: string;
  api_key_id: string | null;
  tenant_id: string | null;
  actor_role: string | null;
  subject_id: string;
  occurred_at: Date;
  details: {
    old: Record<string, unknown> | null;
    new: Record<string, unknown> | null;
    db_user: string;
  };
}

describe("audit triggers", () => {
  let db: TestDatabase;
  let app: TestApp;
  let admin: { apiKey: string; keyId: string };
  let tenant: { tenantId: string; apiKey: string; keyId: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    admin = await createAdminKey(db.pool);
    tenant = await createTenant(db.pool, "Audited tenant");
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  async function audits(action: string, subject: string): Promise<AuditRow[]> {
    const { rows } = await db.pool.query<AuditRow>(
      `select action, api_key_id, tenant_id, actor_role, subject_id, occurred_at, details
         from paytrust_public.audit_events where action = $1 and subject_id = $2 order by id`,
      [action, subject],
    );
    return rows;
  }

  function ok(res: { status: number; body: any }) {
    expect(res.body.errors).toBe(undefined);
    return res.body.data;
  }

  it("updateTenant: old and new bank details, legal name and rate limit, by the admin key", async () => {
    const q = `mutation ($id: UUID!, $patch: TenantPatch!) {
      updateTenant(input: {id: $id, patch: $patch}) { tenant { id accountIban } } }`;
    ok(
      await app.gql(
        q,
        {
          id: tenant.tenantId,
          patch: {
            legalName: "PT Toko Maju",
            accountIban: "ID12BANK0000000001",
            bankBic: "BANKIDJA",
            rateLimitPerMinute: 600,
          },
        },
        admin.apiKey,
      ),
    );
    ok(
      await app.gql(
        q,
        { id: tenant.tenantId, patch: { accountIban: "ID34EVIL0000000002", bankBic: "EVILIDJA" } },
        admin.apiKey,
      ),
    );
    const rows = await audits("tenant.update", tenant.tenantId);
    expect(rows.length).toBe(2);
    expect(rows[0]).toMatchObject({
      api_key_id: admin.keyId,
      actor_role: "admin",
      tenant_id: tenant.tenantId,
      details: {
        old: { legal_name: null, account_iban: null, bank_bic: null, rate_limit_per_minute: null },
        new: {
          legal_name: "PT Toko Maju",
          account_iban: "ID12BANK0000000001",
          bank_bic: "BANKIDJA",
          rate_limit_per_minute: 600,
        },
      },
    });
    expect(rows[1].details.old).toEqual({
      account_iban: "ID12BANK0000000001",
      bank_bic: "BANKIDJA",
    });
    expect(rows[1].details.new).toEqual({
      account_iban: "ID34EVIL0000000002",
      bank_bic: "EVILIDJA",
    });
    expect(rows[1].occurred_at.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("updateGatewayConfiguration: old and new fees", async () => {
    ok(
      await app.gql(
        `mutation { updateGatewayConfiguration(input: {gateway: "xendit", currency: "USD",
           patch: {feePercent: "3.40", feeFixed: "50"}}) { gatewayConfiguration { feePercent } } }`,
        {},
        admin.apiKey,
      ),
    );
    const rows = await audits("gateway_configuration.update", "xendit/USD");
    expect(rows.length).toBe(1);
    expect(rows[0]).toMatchObject({
      api_key_id: admin.keyId,
      actor_role: "admin",
      details: {
        old: { fee_percent: 2.9, fee_fixed: 30 },
        new: { fee_percent: 3.4, fee_fixed: 50 },
      },
    });
  });

  it("updateInvoice and cancelInvoice: old and new values, by the tenant key; the tenant reads its invoice's trail", async () => {
    const created = ok(
      await app.gql(
        `mutation { createInvoice(input: {currency: "IDR", gateway: "xendit", customerName: "Andi",
           customerEmail: "andi@example.co.id", description: "Original",
           lineItems: [{description: "Shirt", quantity: 1, unitPrice: "100000", taxRate: "11"}]}) {
           invoice { id } } }`,
        {},
        tenant.apiKey,
      ),
    );
    const id = created.createInvoice.invoice.id;
    ok(
      await app.gql(
        `mutation ($id: UUID!) { updateInvoice(input: {id: $id, patch: {description: "Edited",
           customerEmail: "andi@other.co.id"}}) { invoice { id } } }`,
        { id },
        tenant.apiKey,
      ),
    );
    ok(
      await app.gql(
        `mutation ($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { status } } }`,
        { id },
        tenant.apiKey,
      ),
    );
    const rows = await audits("invoice.update", id);
    expect(rows.length).toBe(2);
    expect(rows[0]).toMatchObject({
      api_key_id: tenant.keyId,
      actor_role: "tenant",
      tenant_id: tenant.tenantId,
      details: {
        old: { description: "Original", customer_email: "andi@example.co.id" },
        new: { description: "Edited", customer_email: "andi@other.co.id" },
      },
    });
    expect(rows[1].details.old).toMatchObject({ status: "open", cancelled_at: null });
    expect(rows[1].details.new).toMatchObject({ status: "cancelled" });

    const trail = ok(
      await app.gql(
        `query ($id: UUID!) { invoice(id: $id) { auditEvents { nodes { action details } } } }`,
        { id },
        tenant.apiKey,
      ),
    );
    expect(trail.invoice.auditEvents.nodes.map((n: { action: string }) => n.action)).toEqual([
      "invoice.create",
      "invoice.update",
      "invoice.update",
      "invoice.cancel",
    ]);
  });

  it("key changes are audited once: revokeApiKey's own row, or old and new values for any other path", async () => {
    const other = await createTenant(db.pool, "Key tenant");
    // Issued outside the GraphQL mutations (the CLI path): the trigger's row.
    const inserted = await audits("api_key.insert", other.keyId);
    expect(inserted.length).toBe(1);
    expect(inserted[0].details.new).toMatchObject({ role: "tenant", tenant_id: other.tenantId });
    expect(JSON.stringify(inserted[0].details)).not.toMatch(/argon2|secret_hash/);
    ok(
      await app.gql(
        `mutation ($id: UUID!) { revokeApiKey(input: {id: $id}) { apiKey { revokedAt } } }`,
        { id: other.keyId },
        admin.apiKey,
      ),
    );
    expect((await audits("api_key.revoke", other.keyId)).length).toBe(1);
    expect((await audits("api_key.update", other.keyId)).length).toBe(0);
    // Changed in SQL (a DBA un-revoking it): old and new values, the database user as actor.
    await db.pool.query("update paytrust_private.api_keys set revoked_at = null where id = $1", [
      other.keyId,
    ]);
    const updated = await audits("api_key.update", other.keyId);
    expect(updated.length).toBe(1);
    expect(updated[0]).toMatchObject({
      actor_role: "db:postgres",
      details: { new: { revoked_at: null } },
    });
    expect(updated[0].details.old?.revoked_at).toEqual(expect.any(String));
  });

  it("changes made in SQL directly are audited too, with the database user as actor", async () => {
    await db.pool.query(
      "update paytrust_public.tenants set legal_name = 'Set in psql' where id = $1",
      [tenant.tenantId],
    );
    const rows = await audits("tenant.update", tenant.tenantId);
    const last = rows[rows.length - 1];
    expect(last).toMatchObject({
      actor_role: "db:postgres",
      api_key_id: null,
      details: {
        old: { legal_name: "PT Toko Maju" },
        new: { legal_name: "Set in psql" },
        db_user: "postgres",
      },
    });
    // A no-op update and last_used_at alone write nothing.
    const before = (
      await db.pool.query("select count(*)::int as n from paytrust_public.audit_events")
    ).rows[0].n;
    await db.pool.query(
      "update paytrust_public.tenants set legal_name = legal_name where id = $1",
      [tenant.tenantId],
    );
    await db.pool.query("update paytrust_private.api_keys set last_used_at = now() where id = $1", [
      tenant.keyId,
    ]);
    const after = (
      await db.pool.query("select count(*)::int as n from paytrust_public.audit_events")
    ).rows[0].n;
    expect(after).toBe(before);
  });
});
