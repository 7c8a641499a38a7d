/**
 * Concurrency, ordering and authenticity of payments: duplicate storms,
 * racing initiations, out-of-order and forged webhooks.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { midtransSignature } from "../../src/gateways/signatures.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  initiatePayment,
  startPayment,
} from "../helpers/payments.ts";

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

describe("payments under concurrency and hostile delivery", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Concurrent shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const count = async (sql: string, params: unknown[] = []) =>
    Number((await db.pool.query(sql, params)).rows[0].n);

  it("50 concurrent deliveries of the same webhook apply the money once", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const sandbox = app.runtime.sandbox!;
    // Mark paid in the sandbox without delivering, then deliver the same signed webhook 50 times at once.
    await sandbox.pay("xendit", tx.externalId, { deliver: false });
    const webhook = sandbox.webhookFor("xendit", tx.externalId);
    const paidBody = webhook.body;
    const results = await Promise.all(
      Array.from({ length: 50 }, () => post(webhook.url, paidBody, webhook.headers)),
    );
    // JSON.stringify(results.map((r) => r.status))
    expect(results.every((r) => r.status === 200)).toBeTruthy();
    expect(results.filter((r) => r.body.duplicate === false).length).toBe(1);
    const done = await eventually(async () => {
      const inv = await getInvoice(app, key, invoice.id);
      return inv.status === "paid" ? inv : null;
    });
    expect(done.amountPaid).toBe(invoice.total);
    expect(
      await count(
        "select count(*) as n from paytrust_public.webhook_events where transaction_id = $1",
        [tx.id],
      ),
    ).toBe(1);
  });

  it("two concurrent initiatePayment calls for one installment: exactly one wins", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const results = await Promise.all([1, 2].map(() => initiatePayment(app, key, invoice.id, 1)));
    const winners = results.filter((r) => r.tx);
    const losers = results.filter((r) => r.errors);
    expect(winners.length).toBe(1);
    expect(losers[0].errors[0].extensions.code).toBe("PTLIV");
    expect(
      await count(
        "select count(*) as n from paytrust_public.payment_transactions where invoice_id = $1",
        [invoice.id],
      ),
    ).toBe(1);
  });

  it("out-of-order delivery (PAID then PENDING) stays paid", async () => {
    const invoice = await createInvoice(app, key, { currency: "MYR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const sandbox = app.runtime.sandbox!;
    const pending = sandbox.webhookFor("xendit", tx.externalId); // PENDING, captured before paying
    await sandbox.pay("xendit", tx.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
    const late = await post(pending.url, pending.body, pending.headers);
    expect(late.status).toBe(200);
    await eventually(
      async () =>
        (await count(
          "select count(*) as n from paytrust_public.webhook_events where transaction_id = $1 and status = 'processed'",
          [tx.id],
        )) === 2,
    );
    const final = await getTransaction(app, key, tx.id);
    expect(final.status).toBe("paid");
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe(invoice.total);
  });

  it("SETTLED after PAID upgrades the status without applying money twice", async () => {
    const invoice = await createInvoice(app, key, { currency: "USD", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);
    await eventually(async () => (await getTransaction(app, key, tx.id)).status === "paid");
    await app.runtime.sandbox!.settle(tx.externalId);
    const settled = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "settled" ? t : null;
    });
    expect(settled.iso20022Status).toBe("ACSC");
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe(invoice.total);
  });

  it("forged Xendit tokens and Midtrans signatures get 401 and store nothing", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    const before = await count("select count(*) as n from paytrust_public.webhook_events");
    const xendit = await post(
      `${app.url}/webhooks/xendit`,
      JSON.stringify({
        id: "inv-1",
        external_id: tx.externalId,
        status: "PAID",
        amount: 1,
        paid_amount: 1,
        currency: "IDR",
      }),
      { "x-callback-token": "not-the-token" },
    );
    expect(xendit.status).toBe(401);
    expect(xendit.body.errors[0].extensions.code).toBe("PTSIG");
    const noToken = await post(`${app.url}/webhooks/xendit`, JSON.stringify({ id: "x" }));
    expect(noToken.status).toBe(401);
    const gross = `${invoice.total}.00`;
    const forged = {
      order_id: tx.externalId,
      transaction_id: "m-1",
      transaction_status: "settlement",
      status_code: "200",
      gross_amount: gross,
      fraud_status: "accept",
      signature_key: midtransSignature(tx.externalId, "200", gross, "wrong-server-key"),
    };
    const midtrans = await post(`${app.url}/webhooks/midtrans`, JSON.stringify(forged));
    expect(midtrans.status).toBe(401);
    // A genuine signature over a tampered amount fails too.
    const tampered = {
      ...forged,
      signature_key: midtransSignature(tx.externalId, "200", gross, "SB-Mid-server-sandbox"),
      gross_amount: "1.00",
    };
    expect((await post(`${app.url}/webhooks/midtrans`, JSON.stringify(tampered))).status).toBe(401);
    expect(await count("select count(*) as n from paytrust_public.webhook_events")).toBe(before);
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe("0");
  });

  it("a replayed genuine webhook is a duplicate and changes nothing", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    const paid = await app.runtime.sandbox!.pay("midtrans", tx.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
    const delivered = app.runtime
      .sandbox!.deliveries()
      .filter((d) => d.paymentId === paid.payment.id)
      .at(-1)!;
    const replay = await post(
      delivered.webhook.url,
      delivered.webhook.body,
      delivered.webhook.headers,
    );
    expect(replay.status).toBe(200);
    expect(replay.body.duplicate).toBe(true);
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe(invoice.total);
  });

  it("refuses bodies that are not JSON objects with clear codes", async () => {
    const headers = { "x-callback-token": "sandbox-callback-token" };
    expect((await post(`${app.url}/webhooks/xendit`, "{not json", headers)).status).toBe(400);
    expect((await post(`${app.url}/webhooks/xendit`, "[1,2]", headers)).status).toBe(400);
    const wrongType = await fetch(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: { ...headers, "content-type": "text/plain" },
      body: "hi",
    });
    expect(wrongType.status).toBe(415);
    const huge = await post(
      `${app.url}/webhooks/xendit`,
      JSON.stringify({ pad: "x".repeat(200_000) }),
      headers,
    );
    expect(huge.status).toBe(413);
  });
});
