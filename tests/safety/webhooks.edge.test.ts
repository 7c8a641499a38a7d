/**
 * Issue 14.14: webhook edge cases answer 4xx with a stable code, never a 503
 * the gateway would retry for ever; installments stay unchanged; the
 * tenant-readable `lastError` and `outcome` hold a code and a short message,
 * never raw SQL error text.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { midtransSignature } from "../../src/gateways/signatures.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";

const XENDIT_TOKEN = "sandbox-callback-token";
const MIDTRANS_KEY = "SB-Mid-server-sandbox";

describe("webhook edge cases", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true, env: { PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "2" } });
    key = (await createTenant(db.pool, "Edge shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const unchanged = async () =>
    (
      await db.pool.query(
        `select (select count(*)::int from paytrust_public.webhook_events) as events,
                (select string_agg(concat_ws(',', id, status, paid_amount), ';' order by id)
                   from paytrust_public.installments) as installments,
                (select string_agg(concat_ws(',', id, status, amount_paid), ';' order by id)
                   from paytrust_public.invoices) as invoices`,
      )
    ).rows[0];

  async function refused(res: Response, status: number, code: string): Promise<void> {
    const body = await res.json();
    // JSON.stringify(body)
    expect(res.status).toBe(status);
    expect(body.errors[0].extensions.code).toBe(code);
  }

  it("Xendit: over-long ids or fields, and PAID without amount or currency, are refused with 4xx", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const base = {
      id: tx.gatewayReference,
      external_id: tx.externalId,
      status: "PAID",
      amount: Number(tx.amount),
      paid_amount: Number(tx.amount),
      currency: "IDR",
    };
    const before = await unchanged();
    const token = { "x-callback-token": XENDIT_TOKEN };
    await refused(
      await post("/webhooks/xendit", { ...base, id: "i".repeat(400) }, token),
      400,
      "PTBODY",
    );
    await refused(
      await post("/webhooks/xendit", { ...base, external_id: "e".repeat(300) }, token),
      400,
      "PTBODY",
    );
    await refused(
      await post("/webhooks/xendit", { ...base, status: "S".repeat(41) }, token),
      400,
      "PTBODY",
    );
    await refused(
      await post("/webhooks/xendit", base, { ...token, "webhook-id": "w".repeat(250) }),
      400,
      "PTBODY",
    );
    const { amount: _a, paid_amount: _p, ...noAmount } = base;
    await refused(await post("/webhooks/xendit", noAmount, token), 422, "PTWHM");
    const { currency: _c, ...noCurrency } = base;
    await refused(await post("/webhooks/xendit", noCurrency, token), 422, "PTWHM");
    await refused(
      await post("/webhooks/xendit", { ...noCurrency, status: "SETTLED" }, token),
      422,
      "PTWHM",
    );
    // A 200-character webhook-id with a 255-character invoice id: within limits, stored (no 503).
    const long = await post(
      "/webhooks/xendit",
      { ...base, id: "i".repeat(255), status: "EXPIRED" },
      { ...token, "webhook-id": "w".repeat(200) },
    );
    expect(long.status).toBe(200);
    // Nothing was stored by the refusals, and no installment moved.
    const after = await unchanged();
    expect(after.installments).toBe(before.installments);
    expect(after.invoices).toBe(before.invoices);
    expect(after.events).toBe(before.events + 1);
  });

  it("Midtrans: over-long ids and a settlement without currency are refused with 4xx", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    const gross = `${tx.amount}.00`;
    const note = (orderId: string, extra: Record<string, unknown> = {}) => ({
      order_id: orderId,
      status_code: "200",
      gross_amount: gross,
      signature_key: midtransSignature(orderId, "200", gross, MIDTRANS_KEY),
      transaction_status: "settlement",
      transaction_id: "tx-1",
      fraud_status: "accept",
      currency: "IDR",
      ...extra,
    });
    const before = await unchanged();
    await refused(await post("/webhooks/midtrans", note("o".repeat(51))), 400, "PTBODY");
    await refused(
      await post("/webhooks/midtrans", note(tx.externalId, { transaction_id: "t".repeat(300) })),
      400,
      "PTBODY",
    );
    await refused(
      await post("/webhooks/midtrans", note(tx.externalId, { transaction_status: "s".repeat(41) })),
      400,
      "PTBODY",
    );
    const { currency: _c, ...noCurrency } = note(tx.externalId);
    await refused(await post("/webhooks/midtrans", noCurrency), 422, "PTWHM");
    const after = await unchanged();
    expect(after).toEqual(before);
  });

  it("lastError and outcome hold a code and a short message, never SQL error text", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    // An internal SQL error while applying (a broken trigger standing in for any bug).
    await db.pool.query(`
      create function public.test_edge_fault() returns trigger language plpgsql as
        $$ begin raise exception 'relation "paytrust_private.secret_table" does not exist' using errcode = '42P01'; end $$;
      create trigger test_edge_fault before update on paytrust_public.payment_transactions
        for each row when (new.status <> old.status) execute procedure public.test_edge_fault();`);
    try {
      await app.runtime.sandbox!.pay("xendit", tx.externalId);
      const read = async () => {
        const res = await app.gql(
          `query($id: UUID!) { paymentTransaction(id: $id) { webhookEvents { nodes { status lastError outcome } } } }`,
          { id: tx.id },
          key,
        );
        if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
        return res.body.data.paymentTransaction.webhookEvents.nodes as any[];
      };
      const nodes = await eventually(async () => {
        const n = await read();
        return n.length && n.every((e) => e.status === "failed") ? n : null;
      }, 30_000);
      for (const node of nodes) {
        expect(node.lastError).toMatch(/^PT[A-Z0-9]{3,10}: /);
        expect(node.lastError.length).toBeLessThanOrEqual(300);
        for (const text of [node.lastError, node.outcome ?? ""]) {
          expect(text).not.toMatch(/secret_table|relation|does not exist|42P01|paytrust_private/);
        }
      }
      // The raw error is in the worker log, for operators.
      expect(app.logs.some((l) => l.includes("secret_table"))).toBe(true);
      const { rows } = await db.pool.query(
        "select error from paytrust_public.webhook_retry_log where webhook_event_id in (select id from paytrust_public.webhook_events where transaction_id = $1)",
        [tx.id],
      );
      expect(rows.length).toBeGreaterThan(0);
      for (const r of rows) expect(r.error).not.toMatch(/secret_table/);
      // The installment did not move.
      const { rows: inst } = await db.pool.query(
        "select status, paid_amount from paytrust_public.installments where invoice_id = $1",
        [invoice.id],
      );
      expect(inst[0]).toEqual({ status: "pending", paid_amount: "0" });
    } finally {
      await db.pool.query(
        "drop trigger test_edge_fault on paytrust_public.payment_transactions; drop function public.test_edge_fault()",
      );
    }
  });
});
