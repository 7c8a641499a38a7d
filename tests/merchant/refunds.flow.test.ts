/**
 * Refunds end to end over real HTTP: GraphQL refundPayment → SQL (Σ refunds ≤
 * paid, under a row lock) → gateway__refund task → the sandbox's Xendit
 * POST /refunds or Midtrans POST /v2/{order_id}/refund → refund succeeded →
 * invoice amountRefunded / status refunded → reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { asRole, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  startPayment,
} from "../helpers/payments.ts";

const REFUND = `mutation($input: RefundPaymentInput!) {
  refundPayment(input: $input) { refund { id status amount currency reason gateway paymentTransactionId } }
}`;
const REFUND_QUERY = `query($id: UUID!) { refund(id: $id) { id status amount failureReason gatewayReference } }`;
const INVOICE_REFUNDS = `query($id: UUID!) { invoice(id: $id) {
  status amountPaid amountRefunded
  refunds { nodes { id status amount } }
  paymentTransactions { nodes { id status amountRefunded refundableAmount } }
} }`;

type Gateway = "xendit" | "midtrans";

describe("refunds through the sandbox gateways", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let tenantId: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    const tenant = await createTenant(db.pool, "Toko Refund");
    key = tenant.apiKey;
    tenantId = tenant.tenantId;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function refund(input: Record<string, unknown>) {
    const res = await app.gql(REFUND, { input }, key);
    return {
      refund: res.body.data?.refundPayment?.refund ?? null,
      code: res.body.errors?.[0]?.extensions?.code ?? null,
      errors: res.body.errors,
    };
  }

  async function refundSettles(id: string, status = "succeeded") {
    return eventually(async () => {
      const res = await app.gql(REFUND_QUERY, { id }, key);
      const r = res.body.data?.refund;
      return r?.status === status ? r : null;
    });
  }

  async function invoiceRefunds(id: string) {
    return (await app.gql(INVOICE_REFUNDS, { id }, key)).body.data.invoice;
  }

  /** An invoice paid in full through the sandbox; returns it with its paid transaction. */
  async function paidInvoice(gateway: Gateway, currency: string, unitPrice: string) {
    const invoice = await createInvoice(app, key, {
      currency,
      gateway,
      lineItems: [{ description: "Item", quantity: 2, unitPrice, taxRate: "11" }],
    });
    const started = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.pay(gateway, started.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
    const tx = await getTransaction(app, key, started.id);
    expect(tx.paidAmount).toBe(invoice.total);
    return { invoice, tx };
  }

  const cases: { gateway: Gateway; currency: string; unitPrice: string }[] = [
    { gateway: "xendit", currency: "IDR", unitPrice: "150000" },
    { gateway: "midtrans", currency: "IDR", unitPrice: "150000" },
    { gateway: "xendit", currency: "USD", unitPrice: "1999" },
  ];
  for (const c of cases) {
    it(`${c.gateway} ${c.currency}: partial, then full, then over-refund refused`, async () => {
      const { invoice, tx } = await paidInvoice(c.gateway, c.currency, c.unitPrice);
      const total = BigInt(invoice.total);
      const part = total / 3n;

      const first = await refund({
        paymentTransactionId: tx.id,
        amount: String(part),
        reason: "Damaged item",
      });
      expect(first.errors).toBeUndefined();
      expect(first.refund).toMatchObject({
        status: "pending",
        amount: String(part),
        currency: c.currency,
        reason: "Damaged item",
        gateway: c.gateway,
        paymentTransactionId: tx.id,
      });
      const done = await refundSettles(first.refund.id);
      expect(done.gatewayReference).toBeTruthy();

      let state = await invoiceRefunds(invoice.id);
      expect(state.status).toBe("paid"); // partly refunded: still paid
      expect(state.amountRefunded).toBe(String(part));
      expect(state.paymentTransactions.nodes[0].refundableAmount).toBe(String(total - part));

      // The gateway saw exactly one refund, for exactly that amount.
      const atGateway = app.runtime
        .sandbox!.refunds.list(c.gateway)
        .filter((r) => r.paymentExternalId === tx.externalId);
      expect(atGateway.map((r) => r.amountMinor)).toEqual([String(part)]);

      const rest = await refund({
        paymentTransactionId: tx.id,
        amount: String(total - part),
        reason: "Order cancelled",
      });
      expect(rest.errors).toBeUndefined();
      await refundSettles(rest.refund.id);

      state = await invoiceRefunds(invoice.id);
      expect(state.status).toBe("refunded");
      expect(state.amountRefunded).toBe(invoice.total);
      expect(state.amountPaid).toBe(invoice.total); // what was collected stays recorded
      expect(state.refunds.nodes).toHaveLength(2);
      expect(state.paymentTransactions.nodes[0]).toMatchObject({
        status: "refunded",
        amountRefunded: invoice.total,
        refundableAmount: "0",
      });

      const over = await refund({ paymentTransactionId: tx.id, amount: "1", reason: "Once more" });
      expect(over.code).toBe("PTRFA");
      expect(over.refund).toBeNull();
    });
  }

  it("refuses more than was paid, an unpaid payment, and bad input", async () => {
    const { invoice, tx } = await paidInvoice("xendit", "IDR", "50000");
    const tooMuch = await refund({
      paymentTransactionId: tx.id,
      amount: String(BigInt(invoice.total) + 1n),
      reason: "Too much",
    });
    expect(tooMuch.code).toBe("PTRFA");
    expect((await refund({ paymentTransactionId: tx.id, amount: "0", reason: "x" })).code).toBe(
      "PTVAL",
    );
    expect((await refund({ paymentTransactionId: tx.id, amount: "10", reason: " " })).code).toBe(
      "PTVAL",
    );

    const unpaid = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const pending = await startPayment(app, key, unpaid.id);
    expect(
      (await refund({ paymentTransactionId: pending.id, amount: "10", reason: "Not paid" })).code,
    ).toBe("PTRFN");

    const other = await createTenant(db.pool, "Someone else");
    const res = await app.gql(
      REFUND,
      { input: { paymentTransactionId: tx.id, amount: "10", reason: "Not mine" } },
      other.apiKey,
    );
    expect(res.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
    // Nothing reached the gateway for any of these.
    expect(
      app.runtime.sandbox!.refunds.list().filter((r) => r.paymentExternalId === tx.externalId),
    ).toEqual([]);
  });

  for (const gateway of ["xendit", "midtrans"] as const) {
    it(`${gateway}: two concurrent refunds that together exceed the payment → exactly one refused`, async () => {
      const { invoice, tx } = await paidInvoice(gateway, "IDR", "100000");
      const sixty = (BigInt(invoice.total) * 6n) / 10n;
      const results = await Promise.all(
        ["A", "B"].map((n) =>
          refund({ paymentTransactionId: tx.id, amount: String(sixty), reason: `Concurrent ${n}` }),
        ),
      );
      const accepted = results.filter((r) => r.refund);
      const refused = results.filter((r) => r.code);
      expect(accepted).toHaveLength(1);
      expect(refused.map((r) => r.code)).toEqual(["PTRFA"]);
      await refundSettles(accepted[0].refund.id);
      const state = await invoiceRefunds(invoice.id);
      expect(state.amountRefunded).toBe(String(sixty));
      expect(state.status).toBe("paid");
      expect(
        app.runtime
          .sandbox!.refunds.list(gateway)
          .filter((r) => r.paymentExternalId === tx.externalId),
      ).toHaveLength(1);
    });
  }

  it("a Xendit refund reported PENDING is confirmed later through GET /refunds/{id}", async () => {
    const { tx } = await paidInvoice("xendit", "MYR", "2500");
    app.runtime.sandbox!.refunds.nextXenditOutcome("PENDING");
    const { refund: r } = await refund({
      paymentTransactionId: tx.id,
      amount: "1000",
      reason: "REQUESTED_BY_CUSTOMER",
    });
    const pending = await eventually(async () => {
      const res = await app.gql(REFUND_QUERY, { id: r.id }, key);
      return res.body.data.refund.gatewayReference ? res.body.data.refund : null;
    });
    expect(pending.status).toBe("pending");
    app.runtime.sandbox!.refunds.completeXendit(pending.gatewayReference, "SUCCEEDED");
    await refundSettles(r.id);
  });

  it("a failed refund frees its amount and changes no money", async () => {
    const { invoice, tx } = await paidInvoice("xendit", "IDR", "70000");
    app.runtime.sandbox!.refunds.nextXenditOutcome("FAILED");
    const { refund: r } = await refund({
      paymentTransactionId: tx.id,
      amount: invoice.total,
      reason: "Will fail",
    });
    const failed = await refundSettles(r.id, "failed");
    expect(failed.failureReason).toBeTruthy();
    const state = await invoiceRefunds(invoice.id);
    expect(state.amountRefunded).toBe("0");
    expect(state.status).toBe("paid");
    expect(state.paymentTransactions.nodes[0].refundableAmount).toBe(invoice.total);
  });

  it("reports show the refunds: financialReport and paytrust_reporting.revenue_by_day", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const res = await app.gql(
      `query($d: Date!) { financialReport(from: $d, to: $d) {
         nodes { currency gateway gross serviceFee net refunds refundCount netAfterRefunds } } }`,
      { d: today },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    const rows = res.body.data.financialReport.nodes as Record<string, string | number>[];

    const { rows: expected } = await db.pool.query(
      `select currency, gateway, sum(amount)::text as refunds, count(*)::int as n
         from paytrust_public.refunds where tenant_id = $1 and status = 'succeeded'
        group by currency, gateway order by 1, 2`,
      [tenantId],
    );
    expect(expected.length).toBeGreaterThanOrEqual(3);
    for (const e of expected) {
      const row = rows.find((r) => r.currency === e.currency && r.gateway === e.gateway)!;
      expect(row.refunds).toBe(e.refunds);
      expect(row.refundCount).toBe(e.n);
      expect(BigInt(row.netAfterRefunds)).toBe(
        BigInt(row.gross) - BigInt(row.serviceFee) - BigInt(row.refunds),
      );
      expect(BigInt(row.net)).toBe(BigInt(row.gross) - BigInt(row.serviceFee));
    }
    // Refunds are not deducted from gross: every paid invoice still counts in full.
    const { rows: paid } = await db.pool.query(
      `select currency, gateway, sum(paid_amount)::text as gross from paytrust_public.payment_transactions
        where tenant_id = $1 and paid_at is not null group by 1, 2`,
      [tenantId],
    );
    for (const p of paid) {
      expect(rows.find((r) => r.currency === p.currency && r.gateway === p.gateway)!.gross).toBe(
        p.gross,
      );
    }

    const view = await asRole(db.pool, "paytrust_tenant", { tenantId }, async (client) => {
      const { rows } = await client.query(
        `select currency, gateway, gross_amount::text, refund_count, refunded_amount::text, net_amount::text
           from paytrust_reporting.revenue_by_day where day = (now() at time zone 'UTC')::date order by 1, 2`,
      );
      return rows;
    });
    for (const e of expected) {
      const row = view.find((r) => r.currency === e.currency && r.gateway === e.gateway)!;
      expect(row.refunded_amount).toBe(e.refunds);
      expect(row.refund_count).toBe(e.n);
      expect(BigInt(row.net_amount)).toBe(BigInt(row.gross_amount) - BigInt(e.refunds));
    }
  });

  it("each final refund wrote its refund.succeeded / refund.failed event in the outbox", async () => {
    const { rows } = await db.pool.query(
      `select r.status, count(e.id)::int as events, count(*)::int as refunds
         from paytrust_public.refunds r
         left join paytrust_public.outbound_events e
           on e.data ->> 'id' = r.id::text and e.type = 'refund.' || r.status
        where r.tenant_id = $1 group by r.status order by 1`,
      [tenantId],
    );
    expect(rows.map((r) => r.status)).toEqual(["failed", "succeeded"]);
    for (const r of rows) expect(r.events).toBe(r.refunds);
  });

  it("the sandbox page lists the refunds", async () => {
    const res = await fetch(`${app.url}/sandbox/refunds`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const refunds = app.runtime.sandbox!.refunds.list();
    expect(refunds.length).toBeGreaterThan(0);
    for (const r of refunds) expect(html).toContain(r.id);
  });
});
