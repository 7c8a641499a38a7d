/**
 * Hand-computed invoices, through the real HTTP GraphQL API with a tenant key.
 * Every number below is worked out in the comments (DESIGN.md "Money rules"):
 *   line amount = quantity × unitPrice; line tax = round half up (amount × rate / 100)
 *   fee = round half up ((subtotal + tax) × percent / 100) + fixed
 *   installment shares truncated proportionally, the last one absorbs the remainder.
 * Default fees: xendit IDR 2.90 % + 2000, MYR 2.90 % + 100, USD 2.90 % + 30; midtrans IDR 2.00 % + 4000.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const INVOICE = `
  id status currency gateway subtotal taxTotal serviceFee total amountPaid overpaymentAmount
  paymentInitiatedAt parentInvoiceId reference nextInstallmentNumber dueDate installmentCount
  feePercent feeFixed
  lineItems(orderBy: POSITION_ASC) {
    nodes { position description quantity unitPrice taxRate lineAmount taxAmount }
  }
  installments(orderBy: NUMBER_ASC) {
    nodes { number dueDate principal taxAmount feeAmount total status paidAmount }
  }`;

const CREATE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) { invoice { ${INVOICE} } }
}`;

type Plan = [principal: string, tax: string, fee: string, total: string][];

describe("hand-computed invoice examples (GraphQL over HTTP)", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { tenantId: string; apiKey: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(db.pool, "Toko Contoh");
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function createInvoice(input: Record<string, unknown>): Promise<any> {
    const res = await app.gql(
      CREATE,
      { input: { customerName: "Siti Rahma", customerEmail: "siti@example.co.id", ...input } },
      tenant.apiKey,
    );
    expect(res.status).toBe(200);
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    return res.body.data.createInvoice.invoice;
  }

  function planOf(invoice: any): Plan {
    return invoice.installments.nodes.map((i: any) => [
      i.principal,
      i.taxAmount,
      i.feeAmount,
      i.total,
    ]);
  }

  function assertSumsMatch(invoice: any): void {
    const sum = (k: string) =>
      invoice.installments.nodes.reduce((a: bigint, i: any) => a + BigInt(i[k]), 0n).toString();
    expect(sum("principal")).toBe(invoice.subtotal);
    expect(sum("taxAmount")).toBe(invoice.taxTotal);
    expect(sum("feeAmount")).toBe(invoice.serviceFee);
    expect(sum("total")).toBe(invoice.total);
    const lines = (k: string) =>
      invoice.lineItems.nodes.reduce((a: bigint, l: any) => a + BigInt(l[k]), 0n).toString();
    expect(lines("lineAmount")).toBe(invoice.subtotal);
    expect(lines("taxAmount")).toBe(invoice.taxTotal);
  }

  it("IDR, xendit: 3 items with PPN 11 % in 3 installments", async () => {
    // Laptop 2 × 7,499,000 = 14,998,000   tax 11 % = 1,649,780.00 → 1,649,780
    // Mouse  3 ×   149,999 =    449,997   tax 11 % =    49,499.67 →    49,500
    // Cable  5 ×    12,350 =     61,750   tax 11 % =     6,792.50 →     6,793 (half up)
    // subtotal 15,509,747; tax 1,706,073; subtotal + tax = 17,215,820
    // fee = 17,215,820 × 2.90 % = 499,258.78 → 499,259, + 2,000 = 501,259
    // total = 15,509,747 + 1,706,073 + 501,259 = 17,717,079
    // principal 15,509,747 / 3 = 5,169,915.67 → 5,169,915, 5,169,915, last 5,169,917
    // tax        1,706,073 / 3 =   568,691     → 568,691 × 3
    // fee          501,259 / 3 =   167,086.33  → 167,086, 167,086, last 167,087
    // totals 5,905,692, 5,905,692, 5,905,695 (Σ 17,717,079)
    const invoice = await createInvoice({
      currency: "IDR",
      gateway: "xendit",
      lineItems: [
        { description: "Laptop", quantity: 2, unitPrice: "7499000", taxRate: "11" },
        { description: "Mouse", quantity: 3, unitPrice: "149999", taxRate: "11" },
        { description: "Cable", quantity: 5, unitPrice: "12350", taxRate: "11" },
      ],
      installmentCount: 3,
    });
    expect(invoice.status).toBe("open");
    expect(invoice.currency).toBe("IDR");
    expect(invoice.gateway).toBe("xendit");
    expect(invoice.lineItems.nodes.map((l: any) => [l.lineAmount, l.taxAmount])).toEqual([
      ["14998000", "1649780"],
      ["449997", "49500"],
      ["61750", "6793"],
    ]);
    expect(invoice.subtotal).toBe("15509747");
    expect(invoice.taxTotal).toBe("1706073");
    expect(invoice.serviceFee).toBe("501259");
    expect(invoice.total).toBe("17717079");
    expect(invoice.amountPaid).toBe("0");
    expect(invoice.overpaymentAmount).toBe("0");
    expect(invoice.paymentInitiatedAt).toBe(null);
    expect(invoice.parentInvoiceId).toBe(null);
    expect(invoice.reference).toMatch(/^INV-\d{8}$/);
    expect(invoice.nextInstallmentNumber).toBe(1);
    expect(invoice.installmentCount).toBe(3);
    expect(planOf(invoice)).toEqual([
      ["5169915", "568691", "167086", "5905692"],
      ["5169915", "568691", "167086", "5905692"],
      ["5169917", "568691", "167087", "5905695"],
    ]);
    expect(
      invoice.installments.nodes.every((i: any) => i.status === "pending" && i.paidAmount === "0"),
    ).toBeTruthy();
    assertSumsMatch(invoice);
  });

  it("USD, xendit: 6 % tax on cents, single payment", async () => {
    // Widget  3 × $19.99 = 5,997 ¢   tax 6 % = 359.82 → 360
    // Gadget  1 × $4.25  =   425 ¢   tax 6 % =  25.50 →  26 (half up)
    // Sticker 10 × $0.33 =   330 ¢   tax 6 % =  19.80 →  20
    // subtotal 6,752; tax 406; fee = 7,158 × 2.90 % = 207.582 → 208, + 30 = 238
    // total = 6,752 + 406 + 238 = 7,396 ($73.96), one installment of everything
    const invoice = await createInvoice({
      currency: "USD",
      gateway: "xendit",
      lineItems: [
        { description: "Widget", quantity: 3, unitPrice: "1999", taxRate: "6" },
        { description: "Gadget", quantity: 1, unitPrice: "425", taxRate: "6.00" },
        { description: "Sticker", quantity: 10, unitPrice: "33", taxRate: "6" },
      ],
    });
    expect(invoice.lineItems.nodes.map((l: any) => [l.lineAmount, l.taxAmount])).toEqual([
      ["5997", "360"],
      ["425", "26"],
      ["330", "20"],
    ]);
    expect([invoice.subtotal, invoice.taxTotal, invoice.serviceFee, invoice.total]).toEqual([
      "6752",
      "406",
      "238",
      "7396",
    ]);
    expect(invoice.feeFixed).toBe("30");
    expect(Number(invoice.feePercent)).toBe(2.9);
    expect(planOf(invoice)).toEqual([["6752", "406", "238", "7396"]]);
    assertSumsMatch(invoice);
  });

  it("MYR, xendit: mixed 8 % and 6 % tax in 2 installments", async () => {
    // Consulting hour 4 × RM 150.00 = 60,000 sen   tax 8 % = 4,800
    // Printed manual  1 × RM 12.34  =  1,234 sen   tax 6 % =    74.04 → 74
    // subtotal 61,234; tax 4,874; fee = 66,108 × 2.90 % = 1,917.132 → 1,917, + 100 = 2,017
    // total = 61,234 + 4,874 + 2,017 = 68,125 (RM 681.25)
    // principal 30,617 + 30,617; tax 2,437 + 2,437; fee 2,017 / 2 = 1,008.5 → 1,008, last 1,009
    // totals 34,062 and 34,063 (Σ 68,125)
    const invoice = await createInvoice({
      currency: "MYR",
      gateway: "xendit",
      lineItems: [
        { description: "Consulting hour", quantity: 4, unitPrice: "15000", taxRate: "8" },
        { description: "Printed manual", quantity: 1, unitPrice: "1234", taxRate: "6" },
      ],
      installmentCount: 2,
    });
    expect([invoice.subtotal, invoice.taxTotal, invoice.serviceFee, invoice.total]).toEqual([
      "61234",
      "4874",
      "2017",
      "68125",
    ]);
    expect(planOf(invoice)).toEqual([
      ["30617", "2437", "1008", "34062"],
      ["30617", "2437", "1009", "34063"],
    ]);
    assertSumsMatch(invoice);
  });

  it("IDR, midtrans: a plan weighted [1, 2, 3, 4]", async () => {
    // Service 1 × 1,000,003, tax 11 % = 110,000.33 → 110,000
    // fee = 1,110,003 × 2.00 % = 22,200.06 → 22,200, + 4,000 = 26,200; total 1,136,203
    // Σweights = 10
    // principal 100,000.3 → 100,000; 200,000.6 → 200,000; 300,000.9 → 300,000; last 400,003
    // tax 11,000; 22,000; 33,000; last 44,000
    // fee  2,620;  5,240;  7,860; last 10,480
    // totals 113,620; 227,240; 340,860; 454,483 (Σ 1,136,203)
    const invoice = await createInvoice({
      currency: "IDR",
      gateway: "midtrans",
      lineItems: [{ description: "Service", quantity: 1, unitPrice: "1000003", taxRate: "11" }],
      installmentCount: 4,
      installmentWeights: ["1", "2", "3", "4"],
    });
    expect([invoice.subtotal, invoice.taxTotal, invoice.serviceFee, invoice.total]).toEqual([
      "1000003",
      "110000",
      "26200",
      "1136203",
    ]);
    expect(planOf(invoice)).toEqual([
      ["100000", "11000", "2620", "113620"],
      ["200000", "22000", "5240", "227240"],
      ["300000", "33000", "7860", "340860"],
      ["400003", "44000", "10480", "454483"],
    ]);
    assertSumsMatch(invoice);
  });

  it("uses explicit installmentDueDates, and dueDate + interval otherwise", async () => {
    // 3 × 100,000 tax 0: fee = 300,000 × 2.90 % = 8,700, + 2,000 = 10,700; total 310,700
    // principal 100,000 each; fee 3,566.67 → 3,566, 3,566, last 3,568
    const explicit = await createInvoice({
      currency: "IDR",
      gateway: "xendit",
      lineItems: [{ description: "Rent", quantity: 3, unitPrice: "100000", taxRate: "0" }],
      installmentCount: 3,
      installmentDueDates: ["2030-01-15", "2030-02-15", "2030-03-31"],
    });
    expect(explicit.installments.nodes.map((i: any) => i.dueDate)).toEqual([
      "2030-01-15",
      "2030-02-15",
      "2030-03-31",
    ]);
    expect(explicit.dueDate).toBe("2030-01-15"); // the first installment's date when dueDate is omitted
    expect(planOf(explicit)).toEqual([
      ["100000", "0", "3566", "103566"],
      ["100000", "0", "3566", "103566"],
      ["100000", "0", "3568", "103568"],
    ]);
    assertSumsMatch(explicit);

    // dueDate 2030-01-01, default interval 30 days: 01-01, 01-31, 03-02
    const every30 = await createInvoice({
      currency: "IDR",
      gateway: "xendit",
      lineItems: [{ description: "Rent", quantity: 3, unitPrice: "100000", taxRate: "0" }],
      installmentCount: 3,
      dueDate: "2030-01-01",
    });
    expect(every30.dueDate).toBe("2030-01-01");
    expect(every30.installments.nodes.map((i: any) => i.dueDate)).toEqual([
      "2030-01-01",
      "2030-01-31",
      "2030-03-02",
    ]);

    // installmentIntervalDays 14: 01-01, 01-15, 01-29
    const every14 = await createInvoice({
      currency: "IDR",
      gateway: "xendit",
      lineItems: [{ description: "Rent", quantity: 3, unitPrice: "100000", taxRate: "0" }],
      installmentCount: 3,
      dueDate: "2030-01-01",
      installmentIntervalDays: 14,
    });
    expect(every14.installments.nodes.map((i: any) => i.dueDate)).toEqual([
      "2030-01-01",
      "2030-01-15",
      "2030-01-29",
    ]);
  });

  it("createInvoice with 3 line items and 4 installments returns the whole schedule in one call", async () => {
    // Kopi      12 × 25,000 = 300,000   tax 11 % = 33,000
    // Roti       7 × 18,500 = 129,500   tax 11 % = 14,245
    // Gift card  1 × 100,001 = 100,001  tax 0
    // subtotal 529,501; tax 47,245; fee = 576,746 × 2.90 % = 16,725.634 → 16,726, + 2,000 = 18,726
    // total = 529,501 + 47,245 + 18,726 = 595,472
    // principal 529,501 / 4 = 132,375.25 → 132,375 × 3, last 132,376
    // tax        47,245 / 4 =  11,811.25 →  11,811 × 3, last  11,812
    // fee        18,726 / 4 =   4,681.5  →   4,681 × 3, last   4,683
    // totals 148,867 × 3 and 148,871 (Σ 595,472)
    const res = await app.gql(
      `mutation ($input: CreateInvoiceInput!) {
        createInvoice(input: $input) {
          invoice {
            id subtotal taxTotal serviceFee total
            lineItems { totalCount }
            installments(orderBy: NUMBER_ASC) {
              nodes { number dueDate principal taxAmount feeAmount total status paidAmount }
            }
          }
        }
      }`,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "Warung Kopi Jaya",
          customerEmail: "finance@kopijaya.example",
          description: "October supplies",
          dueDate: "2030-10-01",
          lineItems: [
            { description: "Kopi", quantity: 12, unitPrice: "25000", taxRate: "11" },
            { description: "Roti", quantity: 7, unitPrice: "18500", taxRate: "11" },
            { description: "Gift card", quantity: 1, unitPrice: "100001", taxRate: "0" },
          ],
          installmentCount: 4,
          externalRef: "PO-2030-10",
        },
      },
      tenant.apiKey,
    );
    expect(res.status).toBe(200);
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    const invoice = res.body.data.createInvoice.invoice;
    expect([invoice.subtotal, invoice.taxTotal, invoice.serviceFee, invoice.total]).toEqual([
      "529501",
      "47245",
      "18726",
      "595472",
    ]);
    expect(invoice.lineItems.totalCount).toBe(3);
    expect(invoice.installments.nodes).toEqual([
      {
        number: 1,
        dueDate: "2030-10-01",
        principal: "132375",
        taxAmount: "11811",
        feeAmount: "4681",
        total: "148867",
        status: "pending",
        paidAmount: "0",
      },
      {
        number: 2,
        dueDate: "2030-10-31",
        principal: "132375",
        taxAmount: "11811",
        feeAmount: "4681",
        total: "148867",
        status: "pending",
        paidAmount: "0",
      },
      {
        number: 3,
        dueDate: "2030-11-30",
        principal: "132375",
        taxAmount: "11811",
        feeAmount: "4681",
        total: "148867",
        status: "pending",
        paidAmount: "0",
      },
      {
        number: 4,
        dueDate: "2030-12-30",
        principal: "132376",
        taxAmount: "11812",
        feeAmount: "4683",
        total: "148871",
        status: "pending",
        paidAmount: "0",
      },
    ]);
    // Σ to the minor unit, and the stored rows say the same.
    const sum = (k: string) =>
      invoice.installments.nodes.reduce((a: bigint, i: any) => a + BigInt(i[k]), 0n).toString();
    expect(sum("principal")).toBe(invoice.subtotal);
    expect(sum("taxAmount")).toBe(invoice.taxTotal);
    expect(sum("feeAmount")).toBe(invoice.serviceFee);
    expect(sum("total")).toBe(invoice.total);
    const { rows } = await db.pool.query(
      `select i.tenant_id, i.total::text, i.external_ref, count(*)::int as n, sum(s.total)::text as plan_total
         from paytrust_public.invoices i join paytrust_public.installments s on s.invoice_id = i.id
        where i.id = $1 group by i.id`,
      [invoice.id],
    );
    expect(rows[0]).toEqual({
      tenant_id: tenant.tenantId,
      total: "595472",
      external_ref: "PO-2030-10",
      n: 4,
      plan_total: "595472",
    });
  });

  it("a zero-price line still gets the fixed fee, and 100 % tax doubles the line", async () => {
    // Free sample 1 × 0 (tax 0) + Luxury 1 × 10,001 at 100 % tax = 10,001
    // subtotal 10,001; tax 10,001; fee = 20,002 × 2.90 % = 580.058 → 580, + 2,000 = 2,580
    // total 22,582; 2 installments: principal 5,000 / 5,001; tax 5,000 / 5,001; fee 1,290 / 1,290
    const invoice = await createInvoice({
      currency: "IDR",
      gateway: "xendit",
      lineItems: [
        { description: "Free sample", quantity: 1, unitPrice: "0", taxRate: "11" },
        { description: "Luxury", quantity: 1, unitPrice: "10001", taxRate: "100" },
      ],
      installmentCount: 2,
    });
    expect([invoice.subtotal, invoice.taxTotal, invoice.serviceFee, invoice.total]).toEqual([
      "10001",
      "10001",
      "2580",
      "22582",
    ]);
    expect(planOf(invoice)).toEqual([
      ["5000", "5000", "1290", "11290"],
      ["5001", "5001", "1290", "11292"],
    ]);
    assertSumsMatch(invoice);
  });
});
