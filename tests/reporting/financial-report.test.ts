/**
 * financialReport / financialTaxReport on the fixed dataset of fixture.ts:
 * exact figures per currency × gateway (and per tax rate), the period and
 * currency filters, the error codes, and tenant isolation, through GraphQL
 * (API keys) and through SQL as the tenant role.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  asRole,
  createAdminKey,
  freshDatabase,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";
import { buildFixture, type Fixture } from "./fixture.ts";

const REPORT = `query Report($from: Date!, $to: Date!, $currency: String) {
  financialReport(from: $from, to: $to, currency: $currency) {
    nodes { currency gateway gross tax serviceFee net invoiceCount transactionCount installmentCount }
  }
}`;

const TAX_REPORT = `query TaxReport($from: Date!, $to: Date!, $currency: String) {
  financialTaxReport(from: $from, to: $to, currency: $currency) {
    nodes { currency taxRate taxableAmount tax invoiceCount lineCount }
  }
}`;

/** "IDR xendit gross tax fee net invoices transactions installments" */
const line = (n: Record<string, unknown>) =>
  [
    n.currency,
    n.gateway,
    n.gross,
    n.tax,
    n.serviceFee,
    n.net,
    n.invoiceCount,
    n.transactionCount,
    n.installmentCount,
  ].join(" ");

function shiftDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

describe("financialReport", () => {
  let db: TestDatabase;
  let app: TestApp;
  let fx: Fixture;
  let admin: { apiKey: string };
  let lastWeek: { from: string; to: string };

  beforeAll(async () => {
    db = await freshDatabase();
    fx = await buildFixture(db.pool);
    admin = await createAdminKey(db.pool);
    app = await startTestApp(db);
    lastWeek = { from: shiftDays(fx.today, -7), to: fx.today };
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const report = async (apiKey: string, variables: Record<string, unknown>) => {
    const res = await app.gql(REPORT, variables, apiKey);
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    return (res.body.data.financialReport.nodes as Record<string, unknown>[]).map(line);
  };

  it("gives tenant A its collected money, tax, fees and net per currency × gateway", async () => {
    expect(await report(fx.a.apiKey, lastWeek)).toEqual([
      // currency gateway gross tax serviceFee net invoices transactions installments
      "IDR midtrans 58610 5500 3110 55500 1 1 1", // A2 installment 1 of 2: 58,610 − 3,110
      "IDR xendit 219119 11000 8119 211000 1 1 1", // A1: 219,119 − 8,119
      "MYR xendit 7000 360 284 6716 1 1 1", // A3: RM 70.00 received (359 over), fee 284
      "USD xendit 5690 500 190 5500 1 1 1", // A5: paid then settled, counted once
    ]);
  });

  it("gives tenant B only its own rows, and only the period asked for", async () => {
    expect(await report(fx.b.apiKey, lastWeek)).toEqual([
      "IDR midtrans 230440 22000 8440 222000 1 1 1", // B4
      "MYR xendit 11213 800 413 10800 1 1 1", // B2
      "USD xendit 10300 0 300 10000 1 1 1", // B3 installment 1 of 3
    ]); // B1 was paid 40 days ago: outside the period
    expect(await report(fx.b.apiKey, { from: fx.day40, to: fx.day40 })).toEqual([
      "IDR xendit 1144190 110000 34190 1110000 1 1 1", // B1 alone
    ]);
    expect(await report(fx.b.apiKey, { from: shiftDays(fx.today, -60), to: fx.today })).toEqual([
      "IDR midtrans 230440 22000 8440 222000 1 1 1",
      "IDR xendit 1144190 110000 34190 1110000 1 1 1",
      "MYR xendit 11213 800 413 10800 1 1 1",
      "USD xendit 10300 0 300 10000 1 1 1",
    ]);
  });

  it("filters one currency", async () => {
    expect(await report(fx.a.apiKey, { ...lastWeek, currency: "MYR" })).toEqual([
      "MYR xendit 7000 360 284 6716 1 1 1",
    ]);
    expect(await report(fx.a.apiKey, { ...lastWeek, currency: "IDR" })).toEqual([
      "IDR midtrans 58610 5500 3110 55500 1 1 1",
      "IDR xendit 219119 11000 8119 211000 1 1 1",
    ]);
  });

  it("is empty for a period without payments", async () => {
    expect(await report(fx.a.apiKey, { from: "2020-01-01", to: "2020-12-31" })).toEqual([]);
  });

  it("agrees with the reporting views summed over the same days", async () => {
    await asRole(db.pool, "paytrust_tenant", { tenantId: fx.a.tenantId }, async (client) => {
      const { rows } = await client.query(
        `select r.currency, r.gateway, sum(r.gross_amount)::text as gross,
                (select sum(f.fee_amount)::text from paytrust_reporting.service_fees_by_day f
                  where f.currency = r.currency and f.gateway = r.gateway and f.day between $1 and $2) as fee
           from paytrust_reporting.revenue_by_day r
          where r.day between $1 and $2 group by 1, 2 order by 1, 2`,
        [lastWeek.from, lastWeek.to],
      );
      const { rows: fn } = await client.query(
        "select currency, gateway, gross::text, service_fee::text as fee from paytrust_public.financial_report($1, $2)",
        [lastWeek.from, lastWeek.to],
      );
      expect(fn).toEqual(rows);
    });
  });

  it("gives the tax per currency and rate on fully paid invoices", async () => {
    const res = await app.gql(TAX_REPORT, lastWeek, fx.a.apiKey);
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    const rows = res.body.data.financialTaxReport.nodes.map((n: Record<string, unknown>) =>
      [n.currency, n.taxRate, n.taxableAmount, n.tax, n.invoiceCount, n.lineCount].join(" "),
    );
    expect(rows).toEqual([
      "IDR 0.00 100000 0 1 1", // A1's exempt line
      "IDR 11.00 100000 11000 1 1", // A1's 2 × 50,000 (A2 is only partly paid)
      "MYR 6.00 5997 360 1 1", // A3
      "USD 10.00 5000 500 1 1", // A5
    ]);
    const b = await app.gql(
      TAX_REPORT,
      { from: fx.day40, to: fx.today, currency: "IDR" },
      fx.b.apiKey,
    );
    expect(
      b.body.data.financialTaxReport.nodes.map(
        (n: Record<string, unknown>) => `${n.taxRate} ${n.tax}`,
      ),
    ).toEqual(["11.00 132000"]);
  });

  it("refuses bad periods with PTVAL, unknown currencies with PTCUR", async () => {
    for (const [variables, code] of [
      [{ from: fx.today, to: shiftDays(fx.today, -1) }, "PTVAL"], // ends before it starts
      [{ from: "2000-01-01", to: "2020-01-02" }, "PTVAL"], // over 20 years
      [{ ...lastWeek, currency: "EUR" }, "PTCUR"],
    ] as const) {
      for (const query of [REPORT, TAX_REPORT]) {
        const res = await app.gql(query, variables, fx.a.apiKey);
        // JSON.stringify(variables)
        expect(res.body.errors?.[0]?.extensions?.code).toBe(code);
      }
    }
    // exactly 20 years is allowed
    expect(await report(fx.a.apiKey, { from: "2000-01-01", to: "2020-01-01" })).toEqual([]);
  });

  it("requires the dates", async () => {
    const res = await app.gql(
      '{ financialReport(from: "2025-01-01") { nodes { gross } } }',
      {},
      fx.a.apiKey,
    );
    expect(res.body.errors?.length).toBeTruthy();
  });

  it("refuses admin keys (no tenant) with PTTEN", async () => {
    const res = await app.gql(REPORT, lastWeek, admin.apiKey);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("PTTEN");
  });

  it("keeps SQL callers to their tenant too", async () => {
    await asRole(db.pool, "paytrust_tenant", { tenantId: fx.b.tenantId }, async (client) => {
      const { rows } = await client.query(
        "select currency, gateway, gross::text from paytrust_public.financial_report($1, $2)",
        [fx.day40, fx.today],
      );
      expect(rows.map((r) => `${r.currency} ${r.gateway} ${r.gross}`)).toEqual([
        "IDR midtrans 230440",
        "IDR xendit 1144190",
        "MYR xendit 11213",
        "USD xendit 10300",
      ]);
    });
    await asRole(db.pool, "paytrust_tenant", { tenantId: null }, async (client) => {
      expect(
        await sqlError(client, "select * from paytrust_public.financial_report($1, $2)", [
          fx.day40,
          fx.today,
        ]),
      ).toBe("PTTEN");
    });
    await asRole(db.pool, "paytrust_tenant", { tenantId: fx.a.tenantId }, async (client) => {
      expect(
        await sqlError(
          client,
          "select * from paytrust_public.financial_report('2025-02-01', '2025-01-01')",
        ),
      ).toBe("PTVAL");
    });
  });
});
