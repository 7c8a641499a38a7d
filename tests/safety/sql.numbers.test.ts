/**
 * Issue 14 item 9: invoice numbers count 1, 2, 3… per tenant (the reference
 * follows), so no tenant can read the platform's volume from its own numbers.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const CREATE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) { invoice { id number reference } }
}`;
const INPUT = {
  currency: "IDR",
  gateway: "xendit",
  customerName: "Andi Wijaya",
  customerEmail: "andi@example.co.id",
  lineItems: [{ description: "Batik shirt", quantity: 1, unitPrice: "250000", taxRate: "11" }],
};

describe("per-tenant invoice numbers", () => {
  let db: TestDatabase;
  let app: TestApp;
  let a: { tenantId: string; apiKey: string };
  let b: { tenantId: string; apiKey: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    a = await createTenant(db.pool, "Tenant A");
    b = await createTenant(db.pool, "Tenant B");
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  async function create(apiKey: string) {
    const res = await app.gql(CREATE, { input: INPUT }, apiKey);
    expect(res.body.errors).toBe(undefined);
    return res.body.data.createInvoice.invoice as { id: string; number: string; reference: string };
  }

  it("two tenants both get invoice number 1, then 2, 3…", async () => {
    const a1 = await create(a.apiKey);
    const b1 = await create(b.apiKey);
    const a2 = await create(a.apiKey);
    const a3 = await create(a.apiKey);
    const b2 = await create(b.apiKey);
    expect([a1.number, a2.number, a3.number]).toEqual(["1", "2", "3"]);
    expect([b1.number, b2.number]).toEqual(["1", "2"]);
    expect(a1.reference).toBe("INV-00000001");
    expect(b1.reference).toBe("INV-00000001");
    expect(b2.reference).toBe("INV-00000002");
  });

  it("invoiceByNumber finds the caller's own invoice with that number, never another tenant's", async () => {
    const q = `query ($n: BigInt!) { invoiceByNumber(number: $n) { id number } }`;
    const ra = await app.gql(q, { n: "3" }, a.apiKey);
    expect(ra.body.errors).toBe(undefined);
    expect(ra.body.data.invoiceByNumber.number).toBe("3");
    // B has no invoice 3: A's is not visible.
    const rb = await app.gql(q, { n: "3" }, b.apiKey);
    expect(rb.body.errors).toBe(undefined);
    expect(rb.body.data.invoiceByNumber).toBe(null);
    const rb1 = await app.gql(q, { n: "1" }, b.apiKey);
    const ra1 = await app.gql(q, { n: "1" }, a.apiKey);
    expect(rb1.body.data.invoiceByNumber.id).not.toBe(ra1.body.data.invoiceByNumber.id);
  });

  it("concurrent invoices of one tenant get distinct consecutive numbers; (tenant, number) is unique", async () => {
    const c = await createTenant(db.pool, "Tenant C");
    const made = await Promise.all(Array.from({ length: 8 }, () => create(c.apiKey)));
    expect(made.map((i) => Number(i.number)).sort((x, y) => x - y)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    await expect(
      db.pool.query(
        "update paytrust_public.invoices set tenant_id = tenant_id, number = 1 where tenant_id = $1 and number = 2 returning number",
        [c.tenantId],
      ),
    ).resolves.toMatchObject({ rows: [{ number: "2" }] }); // a number never changes
    const { rows } = await db.pool.query(
      `select count(*)::int as n from pg_constraint
        where conrelid = 'paytrust_public.invoices'::regclass and contype = 'u'
          and pg_get_constraintdef(oid) = 'UNIQUE (tenant_id, number)'`,
    );
    expect(rows[0].n).toBe(1);
  });
});
