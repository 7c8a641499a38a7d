/**
 * Every createInvoice validation error through the HTTP GraphQL API: the
 * project error code in `extensions.code`, and proof that nothing was written
 * (invoices, line items, installments and invoice audit rows counted before
 * and after). Idempotency keys: replay, conflict, concurrency.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { inContext } from "../helpers/context.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const CREATE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    invoice { id total lineItems { totalCount } installments { totalCount } }
  }
}`;

const BASE = {
  currency: "IDR",
  gateway: "xendit",
  customerName: "Andi Wijaya",
  customerEmail: "andi@example.co.id",
  lineItems: [{ description: "Batik shirt", quantity: 2, unitPrice: "250000", taxRate: "11" }],
};

function line(overrides: Record<string, unknown>) {
  return { description: "Item", quantity: 1, unitPrice: "1000", taxRate: "11", ...overrides };
}

describe("createInvoice validation (GraphQL over HTTP)", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { tenantId: string; apiKey: string };
  let other: { tenantId: string; apiKey: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(db.pool, "Validation tenant");
    other = await createTenant(db.pool, "Other tenant");
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function counts(): Promise<Record<string, number>> {
    const { rows } = await db.pool.query(
      `select (select count(*)::int from paytrust_public.invoices) as invoices,
              (select count(*)::int from paytrust_public.line_items) as line_items,
              (select count(*)::int from paytrust_public.installments) as installments,
              (select count(*)::int from paytrust_public.audit_events where action like 'invoice.%') as audits`,
    );
    return rows[0];
  }

  async function create(input: Record<string, unknown>, apiKey = tenant.apiKey) {
    return app.gql(CREATE, { input }, apiKey);
  }

  /** Sends the input, expects `code`, and proves that no row was written. */
  async function expectRefused(input: Record<string, unknown>, code: string): Promise<void> {
    const before = await counts();
    const res = await create(input);
    const after = await counts();
    await inContext(JSON.stringify(input).slice(0, 300), () => {
      expect(res.status).toBe(200);
      expect(res.body.errors?.length).toBeTruthy();
      expect(res.body.errors[0].extensions?.code).toBe(code);
      expect(res.body.data?.createInvoice ?? null).toBe(null);
      // no partial write
      expect(after).toEqual(before);
    });
  }

  it("accepts the base input (control)", async () => {
    const before = await counts();
    const res = await create(BASE);
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    expect(res.body.data.createInvoice.invoice.lineItems.totalCount).toBe(1);
    expect(res.body.data.createInvoice.invoice.installments.totalCount).toBe(1);
    const afterCounts = await counts();
    expect(afterCounts.invoices).toBe(before.invoices! + 1);
    expect(afterCounts.line_items).toBe(before.line_items! + 1);
    expect(afterCounts.installments).toBe(before.installments! + 1);
    expect(afterCounts.audits).toBe(before.audits! + 1);
  });

  describe("currency and gateway", () => {
    it("refuses an unknown currency (PTCUR)", async () => {
      await expectRefused({ ...BASE, currency: "EUR" }, "PTCUR");
      await expectRefused({ ...BASE, currency: "idr" }, "PTCUR");
      await expectRefused({ ...BASE, currency: "" }, "PTCUR");
    });

    it("refuses an unknown gateway (PTGWY)", async () => {
      await expectRefused({ ...BASE, gateway: "paypal" }, "PTGWY");
    });

    it("refuses midtrans with MYR or USD: Midtrans takes rupiah only (PTGWC)", async () => {
      await expectRefused({ ...BASE, gateway: "midtrans", currency: "MYR" }, "PTGWC");
      await expectRefused({ ...BASE, gateway: "midtrans", currency: "USD" }, "PTGWC");
    });

    it("refuses a disabled gateway configuration (PTGWC)", async () => {
      await db.pool.query(
        "update paytrust_public.gateway_configurations set enabled = false where gateway = 'xendit' and currency = 'USD'",
      );
      try {
        await expectRefused({ ...BASE, currency: "USD" }, "PTGWC");
      } finally {
        await db.pool.query(
          "update paytrust_public.gateway_configurations set enabled = true where gateway = 'xendit' and currency = 'USD'",
        );
      }
    });
  });

  describe("customer and texts", () => {
    it("refuses bad email addresses (PTVAL)", async () => {
      for (const email of [
        "not-an-email",
        "andi@example",
        "andi @example.com",
        "@example.com",
        "",
      ]) {
        await expectRefused({ ...BASE, customerEmail: email }, "PTVAL");
      }
      await expectRefused({ ...BASE, customerEmail: `${"a".repeat(250)}@x.co` }, "PTVAL");
    });

    it("refuses an empty or too long customer name, description or external ref (PTVAL)", async () => {
      await expectRefused({ ...BASE, customerName: "" }, "PTVAL");
      await expectRefused({ ...BASE, customerName: "   " }, "PTVAL");
      await expectRefused({ ...BASE, customerName: "x".repeat(201) }, "PTVAL");
      await expectRefused({ ...BASE, description: "x".repeat(1001) }, "PTVAL");
      await expectRefused({ ...BASE, externalRef: "" }, "PTVAL");
      await expectRefused({ ...BASE, externalRef: "x".repeat(201) }, "PTVAL");
    });
  });

  describe("line items", () => {
    it("refuses an invoice without line items (PTEMP)", async () => {
      await expectRefused({ ...BASE, lineItems: [] }, "PTEMP");
    });

    it("refuses more than 1000 line items (PTLIN)", async () => {
      await expectRefused(
        { ...BASE, lineItems: Array.from({ length: 1001 }, () => line({})) },
        "PTLIN",
      );
    });

    it("refuses quantity 0 or negative (PTQTY)", async () => {
      await expectRefused({ ...BASE, lineItems: [line({ quantity: 0 })] }, "PTQTY");
      await expectRefused({ ...BASE, lineItems: [line({ quantity: -1 })] }, "PTQTY");
      // the bad line is not the first one: still nothing written
      await expectRefused(
        { ...BASE, lineItems: [line({}), line({}), line({ quantity: -5 })] },
        "PTQTY",
      );
    });

    it("refuses a negative unit price (PTPRC)", async () => {
      await expectRefused({ ...BASE, lineItems: [line({ unitPrice: "-1" })] }, "PTPRC");
    });

    it("refuses tax rates below 0, above 100 or with more than 2 decimals (PTTAX)", async () => {
      for (const taxRate of ["-1", "100.01", "11.555", "-0.01", "101"]) {
        await expectRefused({ ...BASE, lineItems: [line({ taxRate })] }, "PTTAX");
      }
    });

    it("accepts the boundary tax rates 0, 100 and 11.55 (control)", async () => {
      for (const taxRate of ["0", "100", "11.55", "100.00"]) {
        const res = await create({ ...BASE, lineItems: [line({ taxRate })] });
        // `${taxRate}: ${JSON.stringify(res.body.errors)}`
        expect(res.body.errors).toBe(undefined);
      }
    });

    it("refuses a line without description (PTVAL)", async () => {
      await expectRefused({ ...BASE, lineItems: [line({ description: "" })] }, "PTVAL");
      await expectRefused({ ...BASE, lineItems: [line({ description: null })] }, "PTVAL");
    });

    it("refuses a line amount beyond max_amount(): (2^31 − 1) × 10^15 (PTCAP)", async () => {
      await expectRefused(
        {
          ...BASE,
          lineItems: [
            line({ quantity: 2_147_483_647, unitPrice: "1000000000000000", taxRate: "0" }),
          ],
        },
        "PTCAP",
      );
      // 1000 × 10^12 = 10^15 = max_amount() + 1
      await expectRefused(
        {
          ...BASE,
          lineItems: [line({ quantity: 1000, unitPrice: "1000000000000", taxRate: "0" })],
        },
        "PTCAP",
      );
    });

    it("refuses an invoice whose total exceeds max_amount() (PTCAP)", async () => {
      const { rows } = await db.pool.query("select paytrust_public.max_amount()::text as max");
      const max = rows[0].max as string;
      expect(max).toBe("999999999999999");
      // the line itself is allowed, the service fee pushes the total over
      await expectRefused(
        { ...BASE, lineItems: [line({ unitPrice: max, taxRate: "0" })] },
        "PTCAP",
      );
      // the tax pushes it over
      await expectRefused(
        { ...BASE, lineItems: [line({ unitPrice: "900000000000000", taxRate: "12" })] },
        "PTCAP",
      );
      // two lines each within the limit, their sum is not
      await expectRefused(
        {
          ...BASE,
          lineItems: [
            line({ unitPrice: "600000000000000", taxRate: "0" }),
            line({ unitPrice: "600000000000000", taxRate: "0" }),
          ],
        },
        "PTCAP",
      );
    });
  });

  describe("installment plan", () => {
    it("refuses 0, 13 or a negative number of installments (PTINS)", async () => {
      await expectRefused({ ...BASE, installmentCount: 0 }, "PTINS");
      await expectRefused({ ...BASE, installmentCount: 13 }, "PTINS");
      await expectRefused({ ...BASE, installmentCount: -1 }, "PTINS");
    });

    it("refuses an interval of 0 or more than 366 days (PTINS)", async () => {
      await expectRefused({ ...BASE, installmentCount: 2, installmentIntervalDays: 0 }, "PTINS");
      await expectRefused({ ...BASE, installmentCount: 2, installmentIntervalDays: 367 }, "PTINS");
    });

    it("refuses weights with the wrong count, zero or negative values (PTWGT)", async () => {
      await expectRefused(
        { ...BASE, installmentCount: 3, installmentWeights: ["1", "2"] },
        "PTWGT",
      );
      await expectRefused(
        { ...BASE, installmentCount: 2, installmentWeights: ["1", "2", "3"] },
        "PTWGT",
      );
      await expectRefused(
        { ...BASE, installmentCount: 3, installmentWeights: ["1", "0", "1"] },
        "PTWGT",
      );
      await expectRefused(
        { ...BASE, installmentCount: 2, installmentWeights: ["3", "-1"] },
        "PTWGT",
      );
      await expectRefused({ ...BASE, installmentCount: 2, installmentWeights: [] }, "PTWGT");
    });

    it("refuses due dates with the wrong count or not strictly increasing (PTDUE)", async () => {
      await expectRefused(
        { ...BASE, installmentCount: 3, installmentDueDates: ["2030-01-01", "2030-02-01"] },
        "PTDUE",
      );
      await expectRefused(
        { ...BASE, installmentCount: 2, installmentDueDates: ["2030-02-01", "2030-01-01"] },
        "PTDUE",
      );
      await expectRefused(
        { ...BASE, installmentCount: 2, installmentDueDates: ["2030-01-01", "2030-01-01"] },
        "PTDUE",
      );
      await expectRefused(
        {
          ...BASE,
          installmentCount: 3,
          installmentDueDates: ["2030-01-01", "2030-03-01", "2030-02-01"],
        },
        "PTDUE",
      );
      await expectRefused(
        { ...BASE, installmentCount: 2, installmentDueDates: ["2030-01-01", null] },
        "PTDUE",
      );
    });
  });

  describe("idempotency keys", () => {
    async function invoicesWithKey(key: string, tenantId = tenant.tenantId): Promise<number> {
      const { rows } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.invoices where tenant_id = $1 and idempotency_key = $2",
        [tenantId, key],
      );
      return rows[0].n;
    }

    it("replays the same key with the same input: same invoice, one row", async () => {
      const input = { ...BASE, installmentCount: 3, idempotencyKey: "order-1001" };
      const first = await create(input);
      // JSON.stringify(first.body.errors)
      expect(first.body.errors).toBe(undefined);
      const before = await counts();
      const second = await create(input);
      // JSON.stringify(second.body.errors)
      expect(second.body.errors).toBe(undefined);
      expect(second.body.data.createInvoice.invoice.id).toBe(
        first.body.data.createInvoice.invoice.id,
      );
      expect(second.body.data.createInvoice.invoice.total).toBe(
        first.body.data.createInvoice.invoice.total,
      );
      expect(second.body.data.createInvoice.invoice.installments.totalCount).toBe(3);
      expect(await counts()).toEqual(before);
      expect(await invoicesWithKey("order-1001")).toBe(1);
    });

    it("refuses the same key with a different input (PTIDM), writing nothing", async () => {
      const input = { ...BASE, idempotencyKey: "order-1002" };
      const first = await create(input);
      // JSON.stringify(first.body.errors)
      expect(first.body.errors).toBe(undefined);
      await expectRefused({ ...input, lineItems: [line({ unitPrice: "999" })] }, "PTIDM");
      await expectRefused({ ...input, customerEmail: "someone.else@example.co.id" }, "PTIDM");
      await expectRefused({ ...input, installmentCount: 2 }, "PTIDM");
      expect(await invoicesWithKey("order-1002")).toBe(1);
    });

    it("keys are per tenant: another tenant's same key is a new invoice", async () => {
      const input = { ...BASE, idempotencyKey: "order-1003" };
      const mine = await create(input);
      const theirs = await create(input, other.apiKey);
      expect(mine.body.errors).toBe(undefined);
      // JSON.stringify(theirs.body.errors)
      expect(theirs.body.errors).toBe(undefined);
      expect(theirs.body.data.createInvoice.invoice.id).not.toBe(
        mine.body.data.createInvoice.invoice.id,
      );
      expect(await invoicesWithKey("order-1003")).toBe(1);
      expect(await invoicesWithKey("order-1003", other.tenantId)).toBe(1);
    });

    it("refuses an over-long key (PTVAL)", async () => {
      await expectRefused({ ...BASE, idempotencyKey: "k".repeat(256) }, "PTVAL");
    });

    it("two concurrent createInvoice calls with the same key create one invoice", async () => {
      const input = {
        ...BASE,
        installmentCount: 4,
        lineItems: [line({}), line({ unitPrice: "2000" }), line({ unitPrice: "3000" })],
        idempotencyKey: "order-concurrent",
      };
      const before = await counts();
      const results = await Promise.all(Array.from({ length: 6 }, () => create(input)));
      // JSON.stringify(r.body.errors)
      for (const r of results) expect(r.body.errors).toBe(undefined);
      const ids = new Set(results.map((r) => r.body.data.createInvoice.invoice.id));
      expect(ids.size).toBe(1);
      expect(await invoicesWithKey("order-concurrent")).toBe(1);
      const afterCounts = await counts();
      expect(afterCounts.invoices).toBe(before.invoices! + 1);
      expect(afterCounts.line_items).toBe(before.line_items! + 3);
      expect(afterCounts.installments).toBe(before.installments! + 4);
    });
  });
});
