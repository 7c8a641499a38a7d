/**
 * A lean root (issue 16.3): no root lookup or mutation asks callers for their
 * own tenant id; invoice(id), invoiceByNumber and invoiceByIdempotencyKey stay
 * (the last needs no tenant id), and relations read naturally
 * (`currencyDetails`, not `currencyByCurrency`).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

describe("a lean root", () => {
  let db: TestDatabase;
  let app: TestApp;
  let a: { apiKey: string; tenantId: string };
  let b: { apiKey: string; tenantId: string };
  let invoice: { id: string; number: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    a = await createTenant(db.pool, "Lean A");
    b = await createTenant(db.pool, "Lean B");
    const res = await app.gql(
      `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id number } } }`,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "Budi",
          customerEmail: "budi@example.com",
          idempotencyKey: "order-42",
          lineItems: [{ description: "Kopi", quantity: 1, unitPrice: "15000", taxRate: "11" }],
        },
      },
      a.apiKey,
    );
    expect(res.body.errors).toBe(undefined);
    invoice = res.body.data.createInvoice.invoice;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  const rootFields = async (type: "Query" | "Mutation") => {
    const res = await app.gql(
      `query($t: String!) { __type(name: $t) { fields { name args { name } } } }`,
      { t: type },
      a.apiKey,
    );
    expect(res.body.errors).toBe(undefined);
    return res.body.data.__type.fields as { name: string; args: { name: string }[] }[];
  };

  it("no root field or mutation takes a tenant id", async () => {
    const fields = [...(await rootFields("Query")), ...(await rootFields("Mutation"))];
    const names = fields.map((f) => f.name);
    for (const gone of [
      "invoiceByIdAndTenantId",
      "installmentByIdAndTenantId",
      "invoiceByTenantIdAndIdempotencyKey",
      "webhookEventByGatewayAndEventIdAndTenantId",
      "updateInvoiceByIdAndTenantId",
      "updateInvoiceByTenantIdAndIdempotencyKey",
    ]) {
      expect(names).not.toContain(gone);
    }
    // Admin operations name a tenant on purpose (createApiKey(tenantId), tenant(id)); lookups never do.
    const byTenant = fields.filter(
      (f) =>
        /By.*TenantId/.test(f.name) ||
        (/^update|^delete/.test(f.name) && f.name.includes("TenantId")),
    );
    expect(byTenant.map((f) => f.name)).toEqual([]);
    for (const kept of [
      "invoice",
      "invoiceByNumber",
      "invoiceByIdempotencyKey",
      "invoices",
      "lineItem",
      "installment",
      "paymentTransaction",
      "createInvoice",
      "initiatePayment",
      "cancelInvoice",
    ]) {
      expect(names).toContain(kept);
    }
  });

  it("invoiceByIdempotencyKey finds the caller's own invoice, never another tenant's", async () => {
    const q = `query($k: String!) { invoiceByIdempotencyKey(idempotencyKey: $k) { id number } }`;
    const own = await app.gql(q, { k: "order-42" }, a.apiKey);
    expect(own.body.errors).toBe(undefined);
    expect(own.body.data.invoiceByIdempotencyKey).toEqual(invoice);
    const other = await app.gql(q, { k: "order-42" }, b.apiKey);
    expect(other.body.errors).toBe(undefined);
    expect(other.body.data.invoiceByIdempotencyKey).toBe(null);
    const unknown = await app.gql(q, { k: "order-43" }, a.apiKey);
    expect(unknown.body.data.invoiceByIdempotencyKey).toBe(null);
  });

  it("relations read naturally: currencyDetails, Currency.gatewayConfigurations", async () => {
    const res = await app.gql(
      `query($id: UUID!) { invoice(id: $id) { currency currencyDetails { code exponent name } } }
       `,
      { id: invoice.id },
      a.apiKey,
    );
    expect(res.body.errors).toBe(undefined);
    expect(res.body.data.invoice.currencyDetails).toMatchObject({ code: "IDR", exponent: 0 });
    const currency = await app.gql(
      `{ currency(code: "IDR") { gatewayConfigurations { nodes { gateway currencyDetails { code } } } } }`,
      {},
      a.apiKey,
    );
    expect(currency.body.errors).toBe(undefined);
    const gateways = currency.body.data.currency.gatewayConfigurations.nodes.map(
      (n: any) => n.gateway,
    );
    expect(gateways).toEqual(expect.arrayContaining(["xendit", "midtrans"]));
    // No type has a `xByX` relation name (the rule also covers tables added later, e.g. refunds).
    const types = await app.gql("{ __schema { types { name fields { name } } } }", {}, a.apiKey);
    const awkward = types.body.data.__schema.types.flatMap((t: any) =>
      (t.fields ?? [])
        .map((f: any) => f.name as string)
        .filter((n: string) => {
          // `currencyByCurrency`: the part before "By" repeats after it.
          const match = /^([a-z]\w*)By([A-Z]\w*)$/.exec(n);
          return match !== null && match[1] === match[2][0].toLowerCase() + match[2].slice(1);
        })
        .map((n: string) => `${t.name}.${n}`),
    );
    expect(awkward).toEqual([]);
  });
});
