/**
 * Issue 14 item 7: an installment plan with an installment of total 0 can
 * never be paid (an attempt needs >= 1 minor unit), so the SQL split refuses
 * it (PTWGT): createInvoice, createSupplementaryInvoice and split_installments.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const CREATE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) { invoice { id total installments(orderBy: NUMBER_ASC) { nodes { number total } } } }
}`;

const BASE = {
  currency: "IDR",
  gateway: "xendit",
  customerName: "Andi Wijaya",
  customerEmail: "andi@example.co.id",
  lineItems: [{ description: "Batik shirt", quantity: 1, unitPrice: "1", taxRate: "0" }],
};

describe("unpayable installment plans are refused (PTWGT)", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { tenantId: string; apiKey: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(db.pool, "Plans tenant");
    // No service fee: the plan's total is the 1-rupiah line alone.
    await db.pool.query(
      "update paytrust_public.gateway_configurations set fee_percent = 0, fee_fixed = 0 where gateway = 'xendit' and currency = 'IDR'",
    );
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  async function invoiceCount(): Promise<number> {
    const { rows } = await db.pool.query("select count(*)::int as n from paytrust_public.invoices");
    return rows[0].n;
  }

  it('weights ["1000000","1","1000000"] would make installment 2 total 0: refused, nothing written', async () => {
    const before = await invoiceCount();
    const res = await app.gql(
      CREATE,
      {
        input: {
          ...BASE,
          lineItems: [{ description: "Batik shirt", quantity: 1, unitPrice: "3", taxRate: "0" }],
          installmentCount: 3,
          installmentWeights: ["1000000", "1", "1000000"],
        },
      },
      tenant.apiKey,
    );
    expect(res.status).toBe(200);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("PTWGT");
    expect(res.body.errors[0].message).toMatch(/Installment 2 of 3 would total 0/);
    expect(res.body.data?.createInvoice ?? null).toBe(null);
    expect(await invoiceCount()).toBe(before);
  });

  it("more installments than minor units (2 × Rp 1) is refused too", async () => {
    const res = await app.gql(CREATE, { input: { ...BASE, installmentCount: 2 } }, tenant.apiKey);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("PTWGT");
  });

  it("a plan where every installment is at least 1 is accepted (control)", async () => {
    const res = await app.gql(
      CREATE,
      {
        input: {
          ...BASE,
          lineItems: [{ description: "Batik shirt", quantity: 1, unitPrice: "3", taxRate: "0" }],
          installmentCount: 3,
        },
      },
      tenant.apiKey,
    );
    expect(res.body.errors).toBe(undefined);
    expect(res.body.data.createInvoice.invoice.installments.nodes).toEqual([
      { number: 1, total: "1" },
      { number: 2, total: "1" },
      { number: 3, total: "1" },
    ]);
  });

  it("createSupplementaryInvoice and replaceInvoiceLineItems refuse such a plan too", async () => {
    const parent = await app.gql(
      CREATE,
      {
        input: {
          ...BASE,
          lineItems: [{ description: "Batik shirt", quantity: 1, unitPrice: "300", taxRate: "0" }],
          installmentCount: 3,
        },
      },
      tenant.apiKey,
    );
    expect(parent.body.errors).toBe(undefined);
    const parentId = parent.body.data.createInvoice.invoice.id;
    // Still open: re-split with a 2-rupiah line over the 3 installments.
    const replaced = await app.gql(
      `mutation ($id: UUID!) { replaceInvoiceLineItems(input: {invoiceId: $id,
         lineItems: [{description: "Cheaper", quantity: 1, unitPrice: "2", taxRate: "0"}]}) { invoice { id } } }`,
      { id: parentId },
      tenant.apiKey,
    );
    expect(replaced.body.errors?.[0]?.extensions?.code).toBe("PTWGT");
    const started = await app.gql(
      `mutation ($id: UUID!) { initiatePayment(input: {invoiceId: $id}) { paymentTransaction { id } } }`,
      { id: parentId },
      tenant.apiKey,
    );
    expect(started.body.errors).toBe(undefined);
    const supplement = await app.gql(
      `mutation ($id: UUID!) { createSupplementaryInvoice(input: {parentInvoiceId: $id,
         lineItems: [{description: "Extra", quantity: 1, unitPrice: "3", taxRate: "0"}],
         installmentCount: 3, installmentWeights: ["1000000", "1", "1000000"]}) { invoice { id } } }`,
      { id: parentId },
      tenant.apiKey,
    );
    expect(supplement.body.errors?.[0]?.extensions?.code).toBe("PTWGT");
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.invoices where parent_invoice_id = $1",
      [parentId],
    );
    expect(rows[0].n).toBe(0);
  });

  it("split_installments itself refuses (every caller, e.g. supplementary invoices and re-splits)", async () => {
    await expect(
      db.pool.query(
        "select * from paytrust_public.split_installments(3, 0, 0, array[1000000, 1, 1000000]::numeric[])",
      ),
    ).rejects.toMatchObject({ code: "PTWGT" });
    const { rows } = await db.pool.query(
      "select total from paytrust_public.split_installments(2, 1, 0, array[1, 1]::numeric[])",
    );
    expect(rows.map((r) => r.total)).toEqual(["1", "2"]);
  });
});
