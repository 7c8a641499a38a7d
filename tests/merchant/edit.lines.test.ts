/**
 * Editing an invoice until a payment starts, through GraphQL:
 * replaceInvoiceLineItems recomputes everything as createInvoice does, and is
 * refused after initiation (PTIMM) or on a cancelled invoice (PTSTS);
 * updateInvoice refuses a cancelled invoice and a new dueDate moves the plan.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { initiatePayment } from "../helpers/payments.ts";

const FIELDS = `id number status description currency subtotal taxTotal serviceFee total feePercent feeFixed dueDate
  paymentInitiatedAt
  lineItems(orderBy: POSITION_ASC) { nodes { position description quantity unitPrice taxRate lineAmount taxAmount } }
  installments(orderBy: NUMBER_ASC) { nodes { number dueDate principal taxAmount feeAmount total status } }`;
const CREATE = `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { ${FIELDS} } } }`;
const REPLACE = `mutation($input: ReplaceInvoiceLineItemsInput!) {
  replaceInvoiceLineItems(input: $input) { invoice { ${FIELDS} } } }`;
const UPDATE = `mutation($id: UUID!, $patch: InvoicePatch!) {
  updateInvoice(input: {id: $id, patch: $patch}) { invoice { ${FIELDS} } } }`;
const CANCEL = `mutation($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { id status } } }`;
const GET = `query($id: UUID!) { invoice(id: $id) { ${FIELDS} } }`;

const LINES_1 = [{ description: "Kopi", quantity: 2, unitPrice: "50000", taxRate: "11" }];
const LINES_2 = [
  { description: "Teh", quantity: 3, unitPrice: "15000", taxRate: "11" },
  { description: "Roti", quantity: 1, unitPrice: "20000", taxRate: "11" },
  { description: "Gula", quantity: 2, unitPrice: "50001", taxRate: "0" },
];

/** The figures that must be equal whichever way the lines arrived. */
function figures(invoice: any) {
  return {
    subtotal: invoice.subtotal,
    taxTotal: invoice.taxTotal,
    serviceFee: invoice.serviceFee,
    total: invoice.total,
    feePercent: invoice.feePercent,
    feeFixed: invoice.feeFixed,
    lineItems: invoice.lineItems.nodes,
    installments: invoice.installments.nodes,
  };
}

describe("editing an invoice until payment starts", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    key = (await createTenant(db.pool, "Toko Edit")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function create(input: Record<string, unknown>) {
    const res = await app.gql(
      CREATE,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "Budi",
          customerEmail: "budi@example.com",
          lineItems: LINES_1,
          ...input,
        },
      },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data.createInvoice.invoice;
  }

  async function replace(invoiceId: string, lineItems: unknown[]) {
    const res = await app.gql(REPLACE, { input: { invoiceId, lineItems } }, key);
    return {
      invoice: res.body.data?.replaceInvoiceLineItems?.invoice ?? null,
      code: res.body.errors?.[0]?.extensions?.code ?? null,
    };
  }

  async function get(id: string) {
    return (await app.gql(GET, { id }, key)).body.data.invoice;
  }

  for (const c of [
    { currency: "IDR", gateway: "xendit", installmentCount: 1 },
    { currency: "IDR", gateway: "midtrans", installmentCount: 4 },
    { currency: "MYR", gateway: "xendit", installmentCount: 3 },
  ]) {
    it(`${c.currency} ${c.gateway} × ${c.installmentCount}: the result equals createInvoice with the new lines`, async () => {
      const plan = {
        currency: c.currency,
        gateway: c.gateway,
        installmentCount: c.installmentCount,
        dueDate: "2030-01-15",
        installmentIntervalDays: 14,
      };
      const original = await create({ ...plan, lineItems: LINES_1 });
      const { invoice, code } = await replace(original.id, LINES_2);
      expect(code).toBeNull();
      const fresh = await create({ ...plan, lineItems: LINES_2 });
      expect(figures(invoice)).toEqual(figures(fresh));
      expect(invoice.id).toBe(original.id);
      expect(invoice.number).toBe(original.number);
      expect(invoice.status).toBe("open");
      expect(invoice.installments.nodes.map((i: any) => i.dueDate)).toEqual(
        original.installments.nodes.map((i: any) => i.dueDate),
      );
      // Replacing again with the first lines gives the original figures back.
      expect(figures((await replace(original.id, LINES_1)).invoice)).toEqual(figures(original));
    });
  }

  it("a weighted plan keeps its count, due dates and sums", async () => {
    const original = await create({
      installmentCount: 3,
      installmentWeights: ["1", "2", "3"],
      installmentDueDates: ["2030-02-01", "2030-03-01", "2030-05-01"],
    });
    const { invoice } = await replace(original.id, LINES_2);
    const plan = invoice.installments.nodes;
    expect(plan.map((i: any) => i.dueDate)).toEqual(["2030-02-01", "2030-03-01", "2030-05-01"]);
    const sum = (k: string) => plan.reduce((a: bigint, i: any) => a + BigInt(i[k]), 0n);
    expect(String(sum("principal"))).toBe(invoice.subtotal);
    expect(String(sum("taxAmount"))).toBe(invoice.taxTotal);
    expect(String(sum("feeAmount"))).toBe(invoice.serviceFee);
    expect(String(sum("total"))).toBe(invoice.total);
    // proportions 1 : 2 : 3 kept (within rounding)
    const p = plan.map((i: any) => Number(i.principal));
    expect(Math.abs(p[1] / p[0] - 2)).toBeLessThan(0.01);
    expect(Math.abs(p[2] / p[0] - 3)).toBeLessThan(0.01);
  });

  it("invalid lines are refused with createInvoice's codes and change nothing", async () => {
    const original = await create({});
    const cases: [unknown[], string][] = [
      [[], "PTEMP"],
      [[{ description: "x", quantity: 0, unitPrice: "1", taxRate: "0" }], "PTQTY"],
      [[{ description: "x", quantity: 1, unitPrice: "-1", taxRate: "0" }], "PTPRC"],
      [[{ description: "x", quantity: 1, unitPrice: "1", taxRate: "11.555" }], "PTTAX"],
      [[{ description: "x", quantity: 1, unitPrice: "999999999999999", taxRate: "11" }], "PTCAP"],
    ];
    for (const [lines, expected] of cases) {
      expect((await replace(original.id, lines)).code).toBe(expected);
    }
    expect(figures(await get(original.id))).toEqual(figures(original));
  });

  it("replacing lines uses no invoice number (the probe is rolled back)", async () => {
    const a = await create({});
    await replace(a.id, LINES_2);
    await replace(a.id, LINES_1);
    const b = await create({});
    expect(Number(b.number)).toBe(Number(a.number) + 1);
  });

  it("edit before initiation works; after initiatePayment → PTIMM and nothing changes", async () => {
    const invoice = await create({ installmentCount: 2 });
    const edited = await replace(invoice.id, LINES_2);
    expect(edited.code).toBeNull();
    expect(edited.invoice.lineItems.nodes).toHaveLength(3);

    const { errors } = await initiatePayment(app, key, invoice.id);
    expect(errors).toBeUndefined();
    const refused = await replace(invoice.id, LINES_1);
    expect(refused.code).toBe("PTIMM");
    expect(refused.invoice).toBeNull();
    const after = await get(invoice.id);
    expect(after.paymentInitiatedAt).not.toBeNull();
    expect(figures(after)).toEqual(figures(edited.invoice));

    const due = await app.gql(UPDATE, { id: invoice.id, patch: { dueDate: "2031-01-01" } }, key);
    expect(due.body.errors?.[0]?.extensions?.code).toBe("PTIMM");
  });

  it("a cancelled invoice: replaceInvoiceLineItems and updateInvoice → PTSTS", async () => {
    const invoice = await create({});
    const cancelled = await app.gql(CANCEL, { id: invoice.id }, key);
    expect(cancelled.body.data.cancelInvoice.invoice.status).toBe("cancelled");
    expect((await replace(invoice.id, LINES_2)).code).toBe("PTSTS");
    const update = await app.gql(UPDATE, { id: invoice.id, patch: { description: "Again" } }, key);
    expect(update.body.errors?.[0]?.extensions?.code).toBe("PTSTS");
    expect((await get(invoice.id)).description ?? null).toBeNull();
  });

  it("a new dueDate before payment moves every installment by the same number of days", async () => {
    const invoice = await create({
      installmentCount: 3,
      dueDate: "2030-01-31",
      installmentIntervalDays: 30,
    });
    const before = invoice.installments.nodes.map((i: any) => i.dueDate);
    expect(before).toEqual(["2030-01-31", "2030-03-02", "2030-04-01"]);
    const res = await app.gql(UPDATE, { id: invoice.id, patch: { dueDate: "2030-02-10" } }, key);
    expect(res.body.errors).toBeUndefined();
    const moved = res.body.data.updateInvoice.invoice;
    expect(moved.dueDate).toBe("2030-02-10");
    expect(moved.installments.nodes.map((i: any) => i.dueDate)).toEqual([
      "2030-02-10",
      "2030-03-12",
      "2030-04-11",
    ]);
    // Earlier works the same way; other fields leave the plan alone.
    const back = await app.gql(
      UPDATE,
      { id: invoice.id, patch: { dueDate: "2030-01-01", description: "Moved" } },
      key,
    );
    expect(
      back.body.data.updateInvoice.invoice.installments.nodes.map((i: any) => i.dueDate),
    ).toEqual(["2030-01-01", "2030-01-31", "2030-03-02"]);
    const text = await app.gql(
      UPDATE,
      { id: invoice.id, patch: { description: "Only text" } },
      key,
    );
    expect(text.body.data.updateInvoice.invoice.installments.nodes[0].dueDate).toBe("2030-01-01");
  });
});
