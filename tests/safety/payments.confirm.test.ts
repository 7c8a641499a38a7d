/**
 * Issue 14.5: money moves only on a status the gateway's status API confirms.
 * Attacks come in through HTTP as an attacker holding a valid signature would
 * send them; the sandbox's status APIs answer like the real ones.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { midtransSignature } from "../../src/gateways/signatures.ts";
import { makeXenditAdapter, xenditIdempotencyKey } from "../../src/gateways/xendit.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, getInvoice, startPayment } from "../helpers/payments.ts";

const XENDIT_TOKEN = "sandbox-callback-token";
const MIDTRANS_KEY = "SB-Mid-server-sandbox";

describe("payments are confirmed through the gateway's status API", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Confirm shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const sandbox = () => app.runtime.sandbox!;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${app.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const events = async (txId: string) =>
    (
      await db.pool.query(
        `select id, status, outcome, last_error from paytrust_public.webhook_events
          where transaction_id = $1 order by id`,
        [txId],
      )
    ).rows;
  const settledEvents = async (txId: string, count: number) =>
    eventually(async () => {
      const rows = await events(txId);
      return rows.length >= count && rows.every((r) => r.status !== "received") ? rows : null;
    }, 20_000);
  const state = async (invoiceId: string, txId: string) =>
    (
      await db.pool.query(
        `select i.status as invoice_status, i.amount_paid, i.overpayment_amount,
                t.status as tx_status, t.paid_amount, s.status as installment_status, s.paid_amount as installment_paid
           from paytrust_public.invoices i
           join paytrust_public.payment_transactions t on t.invoice_id = i.id
           join paytrust_public.installments s on s.id = t.installment_id
          where i.id = $1 and t.id = $2`,
        [invoiceId, txId],
      )
    ).rows[0];

  /** A Midtrans notification for the order, signed as Midtrans signs (order_id, status_code, gross_amount). */
  function midtransNote(orderId: string, status: string, statusCode: string, gross: string) {
    return {
      transaction_time: "2026-01-01 10:00:00",
      transaction_status: status,
      transaction_id: "00000000-0000-4000-8000-000000000001",
      status_code: statusCode,
      signature_key: midtransSignature(orderId, statusCode, gross, MIDTRANS_KEY),
      payment_type: "bank_transfer",
      order_id: orderId,
      gross_amount: gross,
      fraud_status: "accept",
      currency: "IDR",
    };
  }

  it("a validly signed PAID for a Xendit invoice never paid changes nothing", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const before = await state(invoice.id, tx.id);
    // The callback an attacker with the token would forge: the real invoice, status PAID.
    const hook = sandbox().webhookFor("xendit", tx.externalId);
    const forged = { ...JSON.parse(hook.body), status: "PAID", paid_amount: Number(tx.amount) };
    const res = await post("/webhooks/xendit", forged, { "x-callback-token": XENDIT_TOKEN });
    expect(res.status).toBe(200);
    const [event] = await settledEvents(tx.id, 1);
    expect(event.status).toBe("ignored");
    expect(event.outcome).toMatch(
      /^contradicted: notification says paid; the gateway says PENDING/,
    );
    expect(event.last_error).toMatch(/^PTCNF: /);
    expect(await state(invoice.id, tx.id)).toEqual(before);
    const { rows } = await db.pool.query(
      "select 1 from paytrust_public.audit_events where action = 'webhook.contradicted' and subject_id = $1",
      [String(event.id)],
    );
    expect(rows.length).toBe(1);
  });

  it("a validly signed settlement for a Midtrans order never charged (404 at the status API) changes nothing", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    const before = await state(invoice.id, tx.id);
    const gross = `${tx.amount}.00`;
    // Like Midtrans, the sandbox's status API knows no order until a method is chosen.
    const statusUrl = `${app.url}/sandbox/midtrans/v2/${tx.externalId}/status`;
    const auth = { authorization: `Basic ${Buffer.from(`${MIDTRANS_KEY}:`).toString("base64")}` };
    expect((await fetch(statusUrl, { headers: auth })).status).toBe(404);
    // An order the gateway never charged: a PAID claim for it is contradicted (404).
    const res = await post(
      "/webhooks/midtrans",
      midtransNote(tx.externalId, "settlement", "200", gross),
    );
    expect(res.status).toBe(200);
    const [event] = await settledEvents(tx.id, 1);
    expect(event.status).toBe("ignored");
    expect(event.outcome).toMatch(
      /^contradicted: notification says settled; the gateway has no such payment/,
    );
    expect(await state(invoice.id, tx.id)).toEqual(before);
    // Once a method is chosen the order is pending there: a settlement claim is still contradicted.
    sandbox().chooseMethod(tx.externalId);
    const pending = await fetch(statusUrl, { headers: auth });
    expect(pending.status).toBe(200);
    expect((await pending.json()).transaction_status).toBe("pending");
  });

  it("a captured Midtrans cancel (status code 200) re-sent as settlement moves nothing", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    // The gateway's real state: the order was cancelled (status code 200, signed).
    const payment = sandbox().setStatus("midtrans", tx.externalId, "cancel");
    const gross = `${payment.amountMinor}.00`;
    const cancel = midtransNote(tx.externalId, "cancel", "200", gross);
    // The attacker re-sends the signed cancel with transaction_status settlement: the signature still verifies.
    const replay = { ...cancel, transaction_status: "settlement" };
    const res = await post("/webhooks/midtrans", replay);
    expect(res.status).toBe(200);
    const rows = await settledEvents(tx.id, 1);
    expect(rows[0].status).toBe("ignored");
    expect(rows[0].outcome).toMatch(
      /^contradicted: notification says settled; the gateway says cancel/,
    );
    const after = await state(invoice.id, tx.id);
    expect(after.amount_paid).toBe("0");
    expect(after.installment_status).not.toBe("paid");
    expect(after.tx_status).toBe("pending");
    // The genuine cancel itself is confirmed and applied (the signed fields are the same).
    const genuine = await post("/webhooks/midtrans", cancel);
    expect(genuine.status).toBe(200);
    await settledEvents(tx.id, 2);
    expect((await state(invoice.id, tx.id)).tx_status).toBe("cancelled");
  });

  it("a real sandbox payment is confirmed and applied, with the amount the API confirms", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    // The customer pays 5 more than due at the gateway; the notification claims far more.
    const paidMinor = String(BigInt(tx.amount) + 5n);
    await sandbox().pay("xendit", tx.externalId, { amountMinor: paidMinor, deliver: false });
    const hook = sandbox().webhookFor("xendit", tx.externalId);
    const inflated = { ...JSON.parse(hook.body), paid_amount: Number(tx.amount) * 10 };
    const res = await post("/webhooks/xendit", inflated, { "x-callback-token": XENDIT_TOKEN });
    expect(res.status).toBe(200);
    const [event] = await settledEvents(tx.id, 1);
    expect(event.status).toBe("processed");
    expect(event.outcome).toMatch(/pending → paid \(confirmed\)/);
    const after = await state(invoice.id, tx.id);
    expect(after.invoice_status).toBe("paid");
    expect(after.amount_paid).toBe(paidMinor);
    expect(after.paid_amount).toBe(paidMinor);
    expect(after.overpayment_amount).toBe("5");
    const { rows } = await db.pool.query(
      `select details from paytrust_public.audit_events
        where action = 'payment.status_change' and subject_id = $1`,
      [tx.id],
    );
    expect(rows.some((r) => r.details.confirmed_by === "status_api")).toBe(true);
  });

  it("a real Midtrans payment is confirmed and applied", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    const paid = await sandbox().pay("midtrans", tx.externalId);
    expect(paid.deliveries.every((d) => d.delivered)).toBe(true);
    const done = await eventually(async () => {
      const inv = await getInvoice(app, key, invoice.id);
      return inv.status === "paid" ? inv : null;
    });
    expect(done.amountPaid).toBe(invoice.total);
  });

  it("Xendit creation sends an x-idempotency-key derived from the attempt; a repeat gets the same invoice", async () => {
    // What the adapter sends, seen by a real HTTP server on loopback.
    const seen: { method: string; key: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ method: req.method ?? "", key: req.headers["x-idempotency-key"] as string });
      req.resume();
      req.on("end", () => {
        if (req.method === "GET") {
          res.writeHead(404, { "content-type": "application/json" });
          return res.end(JSON.stringify({ error_code: "INVOICE_NOT_FOUND_ERROR", message: "no" }));
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({ id: "inv-1", invoice_url: "https://x.test/inv-1", status: "PENDING" }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const adapter = makeXenditAdapter({
        baseUrl: `http://127.0.0.1:${port}`,
        secretKey: "xnd_development_test",
        timeoutMs: 5000,
      });
      const request = {
        externalId: "pt-attempt-42",
        currency: "IDR" as const,
        exponent: 0,
        amountMinor: "1000",
        description: "x",
        customer: { name: "A", email: "a@example.com" },
        items: [{ name: "x", quantity: 1, priceMinor: "1000" }],
      };
      await adapter.createPayment(request);
      await adapter.createPayment(request);
      const posts = seen.filter((s) => s.method === "POST");
      expect(posts.length).toBe(2);
      expect(posts[0].key).toBe(xenditIdempotencyKey(request));
      expect(posts[1].key).toBe(posts[0].key);
      expect(posts[0].key).toContain("pt-attempt-42");
    } finally {
      server.close();
    }

    // The sandbox honours it like Xendit: the same key again answers with the same invoice.
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const payment = sandbox().find("xendit", tx.externalId)!;
    expect(tx.gatewayReference).toBe(payment.id);
    const again = await fetch(`${app.url}/sandbox/xendit/v2/invoices`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from("xnd_development_sandbox:").toString("base64")}`,
        "x-idempotency-key": xenditIdempotencyKey({ externalId: tx.externalId }),
      },
      body: JSON.stringify({ external_id: tx.externalId, amount: Number(tx.amount) }),
    });
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe(payment.id);
    expect(
      sandbox()
        .payments("xendit")
        .filter((p) => p.externalId === tx.externalId).length,
    ).toBe(1);
  });

  it("a second paid gateway invoice for one attempt is recorded as overpayment, never dropped", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const second = sandbox().duplicateInvoice(tx.externalId);
    await sandbox().pay("xendit", tx.externalId);
    await eventually(async () => (await state(invoice.id, tx.id)).invoice_status === "paid");
    await sandbox().pay("xendit", second.id);
    const rows = await settledEvents(tx.id, 2);
    expect(rows[1].outcome).toMatch(/second gateway payment .* recorded as overpayment/);
    const after = await state(invoice.id, tx.id);
    expect(after.amount_paid).toBe(String(BigInt(tx.amount) * 2n));
    expect(after.overpayment_amount).toBe(tx.amount);
    expect(after.installment_paid).toBe(tx.amount);
    // The same second invoice again (a duplicate callback) adds nothing.
    const hook = sandbox().webhookFor("xendit", second.id);
    await post("/webhooks/xendit", hook.body, { ...hook.headers, "webhook-id": "dup-second" });
    await settledEvents(tx.id, 3);
    expect((await state(invoice.id, tx.id)).amount_paid).toBe(String(BigInt(tx.amount) * 2n));
  });

  const REFUND = `mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { id status } } }`;
  const refundRow = async (id: string) =>
    (
      await db.pool.query(
        "select status, external_id, gateway_reference from paytrust_public.refunds where id = $1",
        [id],
      )
    ).rows[0];

  it("a Xendit refund callback is confirmed through the refund API before the refund succeeds", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await sandbox().pay("xendit", tx.externalId);
    await eventually(async () => (await state(invoice.id, tx.id)).invoice_status === "paid");
    sandbox().refunds.nextXenditOutcome("PENDING");
    const res = await app.gql(
      REFUND,
      { input: { paymentTransactionId: tx.id, amount: "1000", reason: "REQUESTED_BY_CUSTOMER" } },
      key,
    );
    expect(res.body.errors).toBe(undefined);
    const refundId = res.body.data.refundPayment.refund.id;
    const pending = await eventually(async () => {
      const r = await refundRow(refundId);
      return r.gateway_reference ? r : null;
    });
    const callback = (status: string) => ({
      event: `refund.${status.toLowerCase()}`,
      business_id: "5f0000000000000000000001",
      created: new Date().toISOString(),
      data: {
        id: pending.gateway_reference,
        reference_id: pending.external_id,
        invoice_id: tx.gatewayReference,
        status,
        amount: 1000,
        currency: "IDR",
      },
    });
    const checks = () =>
      sandbox()
        .apiCalls()
        .filter(
          (c) => c.method === "GET" && c.path === `/xendit/refunds/${pending.gateway_reference}`,
        ).length;
    const before = checks();
    // A SUCCEEDED callback while Xendit still says PENDING: stored, checked, nothing moves.
    const early = await post("/webhooks/xendit", callback("SUCCEEDED"), {
      "x-callback-token": XENDIT_TOKEN,
      "webhook-id": "refund-early",
    });
    expect(early.status).toBe(200);
    await eventually(async () => checks() > before);
    expect((await refundRow(refundId)).status).toBe("pending");
    const { rows } = await db.pool.query(
      "select status, outcome from paytrust_public.webhook_events where event_id = 'refund-early'",
    );
    expect(rows[0].status).toBe("processed");
    expect(rows[0].outcome).toMatch(/re-checked through the gateway's refund API/);
    // Xendit completes it; its callback makes PayTrust confirm and apply it.
    sandbox().refunds.completeXendit(pending.gateway_reference, "SUCCEEDED");
    const later = await post("/webhooks/xendit", callback("SUCCEEDED"), {
      "x-callback-token": XENDIT_TOKEN,
      "webhook-id": "refund-later",
    });
    expect(later.status).toBe(200);
    await eventually(async () => (await refundRow(refundId)).status === "succeeded");
  });

  it("a signed Midtrans refund notification the status API does not confirm marks nothing refunded", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    await sandbox().pay("midtrans", tx.externalId);
    await eventually(async () => (await state(invoice.id, tx.id)).invoice_status === "paid");
    const gross = `${tx.amount}.00`;
    const res = await post(
      "/webhooks/midtrans",
      midtransNote(tx.externalId, "refund", "200", gross),
    );
    expect(res.status).toBe(200);
    const rows = await settledEvents(tx.id, 2);
    expect(rows.at(-1).outcome).toMatch(
      /^contradicted: notification says refunded; the gateway says settlement/,
    );
    const after = await state(invoice.id, tx.id);
    expect(after.tx_status).toBe("settled");
    expect(after.invoice_status).toBe("paid");
  });
});
