import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
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
    expect(empty).toMatch(/No payments yet/);
    const request = paymentRequest({ description: "Order <b>42</b>" });
    const created = await h.xendit.createPayment(request);
    const html = await (await fetch(`${h.sandboxUrl}/`)).text();
    expect(html.includes(request.externalId)).toBeTruthy();
    expect(html.includes(`/sandbox/checkout/xendit/${created.gatewayReference}`)).toBeTruthy();
    // descriptions are escaped
    expect(html.includes("Order &lt;b&gt;42&lt;/b&gt;")).toBeTruthy();
    expect(!html.includes("<b>42</b>")).toBeTruthy();
  });

  it("?duplicates=n on the form action delivers n+1 identical webhooks", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    const page = await checkout(`${created.checkoutUrl}?duplicates=2`);
    expect(formAction(page.html, "pay")).toMatch(/\/pay\?duplicates=2$/);
    const result = await clickButton(`${created.checkoutUrl}?duplicates=2`, "pay");
    expect(result.html).toMatch(/webhook delivered 3 times \(HTTP 200, 200, 200\)/);
    expect(h.received.length).toBe(3);
    // identical bodies
    expect(new Set(h.received.map((r) => r.raw)).size).toBe(1);
    // one event id
    expect(new Set(h.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
  });

  it("?deliver=false pays without a notification; the status API still says PAID", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    const res = await fetch(
      `${h.sandboxUrl}/checkout/xendit/${created.gatewayReference}/pay?deliver=false`,
      {
        method: "POST",
      },
    );
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(h.received.length).toBe(0);
    expect(h.control.find("xendit", created.gatewayReference)?.status).toBe("PAID");
    // a second click is refused like any completed payment
    const again = await fetch(
      `${h.sandboxUrl}/checkout/xendit/${created.gatewayReference}/pay?deliver=false`,
      { method: "POST" },
    );
    expect(again.status).toBe(409);
    await again.arrayBuffer();
  });

  it("the duplicateWebhooks option applies to every webhook", async () => {
    const dup = await startHarness({ duplicateWebhooks: 1 });
    try {
      const created = await dup.midtrans.createPayment(paymentRequest());
      await clickButton(created.checkoutUrl, "pay");
      expect(dup.received.length).toBe(2);
      expect(dup.received[0].raw).toBe(dup.received[1].raw);
      expect(verifyMidtransSignature(dup.received[1].body, MIDTRANS_KEY)).toBeTruthy();
    } finally {
      await dup.close();
    }
  });

  it("retries webhook delivery on non-2xx answers, then reports failure", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    h.receiverStatuses.push(500, 503);
    const result = await h.control.pay("xendit", created.gatewayReference);
    expect(result.deliveries[0].delivered).toBe(true);
    expect(result.deliveries[0].attempts.map((a) => a.status)).toEqual([500, 503, 200]);
    expect(h.received.length).toBe(3);

    const other = await h.xendit.createPayment(paymentRequest());
    h.receiverStatuses.push(500, 500, 500, 500);
    const page = await clickButton(other.checkoutUrl, "pay");
    expect(page.html).toMatch(/webhook not delivered \(HTTP 500 after 4 attempts\)/);
  });

  it("refuses a second click on a completed payment, and control refuses it unless forced", async () => {
    const created = await h.midtrans.createPayment(paymentRequest());
    await clickButton(created.checkoutUrl, "pay");
    const page = await checkout(created.checkoutUrl);
    expect(page.html).toMatch(/<button id="pay" type="submit" disabled>/);
    const again = await fetch(new URL(formAction(page.html, "expire"), created.checkoutUrl), {
      method: "POST",
    });
    expect(again.status).toBe(409);
    await expect(h.control.expire("midtrans", created.gatewayReference)).rejects.toThrow(
      /is settlement, not pending/,
    );
    // Forced: an out-of-order expire notification after settlement.
    const forced = await h.control.expire("midtrans", created.gatewayReference, { force: true });
    expect(forced.payment.status).toBe("expire");
    expect(h.received.at(-1)?.body.transaction_status).toBe("expire");
  });

  it("builds a signed webhook without sending it, for replay tests", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    await h.control.pay("xendit", created.gatewayReference);
    const webhook = h.control.webhookFor("xendit", created.gatewayReference);
    expect(webhook.url).toMatch(/\/webhooks\/xendit$/);
    expect(webhook.headers["x-callback-token"]).toBe("callback-token-for-tests");
    expect(JSON.parse(webhook.body).status).toBe("PAID");
    expect(h.control.deliveries().length).toBe(1);
  });

  it("answers 404 for unknown checkout pages and API objects", async () => {
    expect((await checkout(`${h.sandboxUrl}/checkout/xendit/nope`)).status).toBe(404);
    expect((await checkout(`${h.sandboxUrl}/checkout/paypal/nope`)).status).toBe(404);
    const status = await fetch(`${h.sandboxUrl}/midtrans/v2/unknown-order/status`, {
      headers: { authorization: `Basic ${Buffer.from(`${MIDTRANS_KEY}:`).toString("base64")}` },
    });
    expect(status.status).toBe(404);
    expect((await status.json()).status_message).toBe("Transaction doesn't exist.");
  });

  it("applies faults only to matching calls, then recovers", async () => {
    h.control.failNext(2, { status: 500, method: "POST", path: "/midtrans" });
    // Xendit calls are untouched by a Midtrans fault.
    await h.xendit.createPayment(paymentRequest());
    await expect(h.midtrans.createPayment(paymentRequest())).rejects.toThrow();
    await expect(h.midtrans.createPayment(paymentRequest())).rejects.toThrow();
    await h.midtrans.createPayment(paymentRequest());
    const faulted = h.control.apiCalls().filter((c) => c.faulted);
    expect(faulted.length).toBe(2);
    expect(
      faulted.every((c) => c.method === "POST" && c.path.startsWith("/midtrans")),
    ).toBeTruthy();
  });
});
