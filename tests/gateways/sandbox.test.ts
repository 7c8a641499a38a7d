import assert from "node:assert/strict";
import { afterAll, beforeAll, beforeEach, describe, it } from "@jest/globals";
import { verifyMidtransSignature } from "../../src/gateways/signatures.ts";
import {
  checkout,
  clickButton,
  formAction,
  type Harness,
  MIDTRANS_KEY,
  paymentRequest,
  startHarness,
} from "./harness.ts";

describe("sandbox gateway", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  beforeEach(() => {
    h.control.reset();
    h.received.length = 0;
    h.receiverStatuses.length = 0;
  });

  it("lists payments on its index page", async () => {
    const empty = await (await fetch(`${h.sandboxUrl}/`)).text();
    assert.match(empty, /No payments yet/);
    const request = paymentRequest({ description: "Order <b>42</b>" });
    const created = await h.xendit.createPayment(request);
    const html = await (await fetch(`${h.sandboxUrl}/`)).text();
    assert.ok(html.includes(request.externalId));
    assert.ok(html.includes(`/sandbox/checkout/xendit/${created.gatewayReference}`));
    assert.ok(html.includes("Order &lt;b&gt;42&lt;/b&gt;"), "descriptions are escaped");
    assert.ok(!html.includes("<b>42</b>"));
  });

  it("?duplicates=n on the form action delivers n+1 identical webhooks", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    const page = await checkout(`${created.checkoutUrl}?duplicates=2`);
    assert.match(formAction(page.html, "pay"), /\/pay\?duplicates=2$/);
    const result = await clickButton(`${created.checkoutUrl}?duplicates=2`, "pay");
    assert.match(result.html, /webhook delivered 3 times \(HTTP 200, 200, 200\)/);
    assert.equal(h.received.length, 3);
    assert.equal(new Set(h.received.map((r) => r.raw)).size, 1, "identical bodies");
    assert.equal(new Set(h.received.map((r) => r.headers["webhook-id"])).size, 1, "one event id");
  });

  it("the duplicateWebhooks option applies to every webhook", async () => {
    const dup = await startHarness({ duplicateWebhooks: 1 });
    try {
      const created = await dup.midtrans.createPayment(paymentRequest());
      await clickButton(created.checkoutUrl, "pay");
      assert.equal(dup.received.length, 2);
      assert.equal(dup.received[0].raw, dup.received[1].raw);
      assert.ok(verifyMidtransSignature(dup.received[1].body, MIDTRANS_KEY));
    } finally {
      await dup.close();
    }
  });

  it("retries webhook delivery on non-2xx answers, then reports failure", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    h.receiverStatuses.push(500, 503);
    const result = await h.control.pay("xendit", created.gatewayReference);
    assert.equal(result.deliveries[0].delivered, true);
    assert.deepEqual(
      result.deliveries[0].attempts.map((a) => a.status),
      [500, 503, 200],
    );
    assert.equal(h.received.length, 3);

    const other = await h.xendit.createPayment(paymentRequest());
    h.receiverStatuses.push(500, 500, 500, 500);
    const page = await clickButton(other.checkoutUrl, "pay");
    assert.match(page.html, /webhook not delivered \(HTTP 500 after 4 attempts\)/);
  });

  it("refuses a second click on a completed payment, and control refuses it unless forced", async () => {
    const created = await h.midtrans.createPayment(paymentRequest());
    await clickButton(created.checkoutUrl, "pay");
    const page = await checkout(created.checkoutUrl);
    assert.match(page.html, /<button id="pay" type="submit" disabled>/);
    const again = await fetch(new URL(formAction(page.html, "expire"), created.checkoutUrl), {
      method: "POST",
    });
    assert.equal(again.status, 409);
    await assert.rejects(
      h.control.expire("midtrans", created.gatewayReference),
      /is settlement, not pending/,
    );
    // Forced: an out-of-order expire notification after settlement.
    const forced = await h.control.expire("midtrans", created.gatewayReference, { force: true });
    assert.equal(forced.payment.status, "expire");
    assert.equal(h.received.at(-1)?.body.transaction_status, "expire");
  });

  it("builds a signed webhook without sending it, for replay tests", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    await h.control.pay("xendit", created.gatewayReference);
    const webhook = h.control.webhookFor("xendit", created.gatewayReference);
    assert.match(webhook.url, /\/webhooks\/xendit$/);
    assert.equal(webhook.headers["x-callback-token"], "callback-token-for-tests");
    assert.equal(JSON.parse(webhook.body).status, "PAID");
    assert.equal(h.control.deliveries().length, 1);
  });

  it("answers 404 for unknown checkout pages and API objects", async () => {
    assert.equal((await checkout(`${h.sandboxUrl}/checkout/xendit/nope`)).status, 404);
    assert.equal((await checkout(`${h.sandboxUrl}/checkout/paypal/nope`)).status, 404);
    const status = await fetch(`${h.sandboxUrl}/midtrans/v2/unknown-order/status`, {
      headers: { authorization: `Basic ${Buffer.from(`${MIDTRANS_KEY}:`).toString("base64")}` },
    });
    assert.equal(status.status, 404);
    assert.equal((await status.json()).status_message, "Transaction doesn't exist.");
  });

  it("applies faults only to matching calls, then recovers", async () => {
    h.control.failNext(2, { status: 500, method: "POST", path: "/midtrans" });
    // Xendit calls are untouched by a Midtrans fault.
    await h.xendit.createPayment(paymentRequest());
    await assert.rejects(h.midtrans.createPayment(paymentRequest()));
    await assert.rejects(h.midtrans.createPayment(paymentRequest()));
    await h.midtrans.createPayment(paymentRequest());
    const faulted = h.control.apiCalls().filter((c) => c.faulted);
    assert.equal(faulted.length, 2);
    assert.ok(faulted.every((c) => c.method === "POST" && c.path.startsWith("/midtrans")));
  });
});
