import assert from "node:assert/strict";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { midtransSnapBody } from "../../src/gateways/midtrans.ts";
import { midtransSignature, verifyMidtransSignature } from "../../src/gateways/signatures.ts";
import { GatewayError } from "../../src/gateways/types.ts";
import {
  checkout,
  clickButton,
  type Harness,
  MIDTRANS_KEY,
  paymentRequest,
  startHarness,
} from "./harness.ts";

function isGatewayError(check: (e: GatewayError) => void) {
  return (error: unknown) => {
    // `expected GatewayError, got ${error}`
    expect(error instanceof GatewayError).toBeTruthy();
    check(error as GatewayError);
    return true;
  };
}

const auth = `Basic ${Buffer.from(`${MIDTRANS_KEY}:`).toString("base64")}`;

describe("Midtrans adapter against the sandbox", () => {
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
  });

  it("builds the Snap body with integer IDR amounts and item_details summing to gross_amount", () => {
    const body = JSON.parse(
      midtransSnapBody(paymentRequest({ redirectUrl: "https://shop.example/done" })),
    );
    expect(body.transaction_details.gross_amount).toBe(145000);
    expect(body.item_details.map((i: any) => [i.id, i.price, i.quantity])).toEqual([
      ["item-1", 60000, 2],
      ["item-2", 25000, 1],
    ]);
    expect(body.customer_details).toEqual({
      first_name: "Budi Santoso",
      email: "budi@example.com",
    });
    expect(body.callbacks).toEqual({ finish: "https://shop.example/done" });
  });

  it("creates a Snap transaction and delivers a notification whose signature verifies", async () => {
    const request = paymentRequest();
    const created = await h.midtrans.createPayment(request);
    expect(created.reused).toBe(false);
    expect(created.checkoutUrl).toBe(
      `${h.sandboxUrl}/checkout/midtrans/${created.gatewayReference}`,
    );

    const page = await checkout(created.checkoutUrl);
    expect(page.html).toMatch(/IDR 145,000/);
    for (const id of ["pay", "fail", "expire"])
      expect(page.html).toMatch(new RegExp(`<button id="${id}"`));

    const result = await clickButton(created.checkoutUrl, "pay");
    expect(result.html).toMatch(
      /Payment received — <span class="ok">webhook delivered \(HTTP 200\)/,
    );
    expect(h.received.length).toBe(1);
    const note = h.received[0].body;
    expect(h.received[0].gateway).toBe("midtrans");
    expect(note.order_id).toBe(request.externalId);
    expect(note.transaction_status).toBe("settlement");
    expect(note.status_code).toBe("200");
    expect(note.gross_amount).toBe("145000.00");
    expect(note.fraud_status).toBe("accept");
    expect(note.currency).toBe("IDR");
    expect(note.transaction_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(note.snap_token).toBe(undefined);
    expect(verifyMidtransSignature(note, MIDTRANS_KEY)).toBeTruthy();
    expect(!verifyMidtransSignature(note, "SB-Mid-server-other")).toBeTruthy();
    expect(
      !verifyMidtransSignature({ ...note, gross_amount: "1450000.00" }, MIDTRANS_KEY),
    ).toBeTruthy();
  });

  it("sends deny (202) for Fail and expire (407) for Expire, both signed", async () => {
    const a = await h.midtrans.createPayment(paymentRequest());
    const b = await h.midtrans.createPayment(paymentRequest());
    const failed = await clickButton(a.checkoutUrl, "fail");
    expect(failed.html).toMatch(/Payment denied — /);
    await clickButton(b.checkoutUrl, "expire");
    expect(h.received.map((r) => [r.body.transaction_status, r.body.status_code])).toEqual([
      ["deny", "202"],
      ["expire", "407"],
    ]);
    for (const r of h.received) expect(verifyMidtransSignature(r.body, MIDTRANS_KEY)).toBeTruthy();
  });

  it("refuses item_details that do not sum to gross_amount, before any call", async () => {
    const request = paymentRequest({ amountMinor: "145001" });
    await assert.rejects(
      h.midtrans.createPayment(request),
      isGatewayError((e) => {
        expect(e.transient).toBe(false);
        expect(e.message).toMatch(/sum to 145000, gross_amount is 145001/);
      }),
    );
    expect(h.control.apiCalls().length).toBe(0);
  });

  it("the sandbox itself refuses a sum mismatch and a duplicate order_id like Snap", async () => {
    const post = (body: unknown) =>
      fetch(`${h.sandboxUrl}/midtrans/snap/v1/transactions`, {
        method: "POST",
        headers: { authorization: auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const mismatch = await post({
      transaction_details: { order_id: "order-x", gross_amount: 100 },
      item_details: [{ id: "a", name: "A", price: 30, quantity: 3 }],
    });
    expect(mismatch.status).toBe(400);
    expect((await mismatch.json()).error_messages).toEqual([
      "transaction_details.gross_amount is not equal to the sum of item_details",
    ]);
    const ok = await post({ transaction_details: { order_id: "order-y", gross_amount: 100 } });
    expect(ok.status).toBe(201);
    const again = await post({ transaction_details: { order_id: "order-y", gross_amount: 100 } });
    expect(again.status).toBe(400);
    expect((await again.json()).error_messages[0]).toMatch(/order_id/);
  });

  it("refuses currencies other than IDR as permanent", async () => {
    for (const currency of ["MYR", "USD"] as const) {
      await assert.rejects(
        h.midtrans.createPayment(paymentRequest({ currency })),
        isGatewayError((e) => {
          expect(e.transient).toBe(false);
          expect(e.message).toMatch(/IDR only/);
        }),
      );
    }
    expect(h.control.apiCalls().length).toBe(0);
  });

  it("does not create a second transaction for the same order_id", async () => {
    const request = paymentRequest();
    const first = await h.midtrans.createPayment(request);
    const second = await h.midtrans.createPayment(request);
    expect(second.reused).toBe(true);
    // The sandbox's status extension gives the stored token back.
    expect(second.gatewayReference).toBe(first.gatewayReference);
    expect(second.checkoutUrl).toBe(first.checkoutUrl);
    expect(h.control.payments("midtrans").length).toBe(1);
  });

  it("a lost Snap response (500 after commit) is reused on retry, and a 500 before commit retried once", async () => {
    const lost = paymentRequest();
    h.control.failNext(1, { status: 500, method: "POST", commit: true });
    await assert.rejects(
      h.midtrans.createPayment(lost),
      isGatewayError((e) => expect(e.transient).toBeTruthy()),
    );
    const retry = await h.midtrans.createPayment(lost);
    expect(retry.reused).toBe(true);
    expect(h.control.payments("midtrans").length).toBe(1);

    const failing = paymentRequest();
    h.control.failNext(1, { status: 503 });
    await assert.rejects(
      h.midtrans.createPayment(failing),
      isGatewayError((e) => expect(e.transient).toBeTruthy()),
    );
    expect((await h.midtrans.createPayment(failing)).reused).toBe(false);
    expect(
      h.control.payments("midtrans").filter((p) => p.externalId === failing.externalId).length,
    ).toBe(1);
  });

  it("reports status like a notification: signed, with a reconcile event id; unknown orders are null", async () => {
    const request = paymentRequest();
    expect(await h.midtrans.getStatus(request.externalId, null)).toBe(null);
    const created = await h.midtrans.createPayment(request);
    // Like Midtrans, the status API knows the order only once the customer chose a method.
    expect(await h.midtrans.getStatus(request.externalId, created.gatewayReference)).toBe(null);
    h.control.chooseMethod(request.externalId);
    const pending = await h.midtrans.getStatus(request.externalId, created.gatewayReference);
    expect(pending?.payload.transaction_status).toBe("pending");
    expect(pending?.payload.status_code).toBe("201");
    // sandbox extensions are stripped
    expect(pending?.payload.snap_token).toBe(undefined);
    expect(pending?.eventId).toBe(`${pending?.payload.transaction_id}:pending:reconcile`);
    expect(verifyMidtransSignature(pending?.payload, MIDTRANS_KEY)).toBeTruthy();

    await h.control.pay("midtrans", request.externalId, { amountMinor: "150000" });
    const paid = await h.midtrans.getStatus(request.externalId, null);
    expect(paid?.payload.transaction_status).toBe("settlement");
    expect(paid?.payload.gross_amount).toBe("150000.00");
    expect(paid?.payload.fraud_status).toBe("accept");
    expect(paid?.eventId).toBe(`${paid?.payload.transaction_id}:settlement:reconcile`);
    expect(verifyMidtransSignature(paid?.payload, MIDTRANS_KEY)).toBeTruthy();
  });

  it("a wrong server key is a permanent 401 whose message does not carry the key", async () => {
    const wrongKey = "SB-Mid-server-WRONG_KEY_987654321";
    const { midtrans } = h.adapters(2000, { midtrans: wrongKey });
    await assert.rejects(
      midtrans.createPayment(paymentRequest()),
      isGatewayError((e) => {
        expect(e.transient).toBe(false);
        expect(e.status).toBe(401);
        expect(!e.message.includes(wrongKey)).toBeTruthy();
      }),
    );
    await assert.rejects(
      midtrans.getStatus("any-order", null),
      isGatewayError((e) => expect(e.status).toBe(401)),
    );
  });

  it("classifies status API faults: 429 with Retry-After, 5xx and slow answers are transient", async () => {
    h.control.failNext(1, { status: 429, retryAfterSeconds: 3, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => {
        expect(e.transient).toBe(true);
        expect(e.retryAfterMs).toBe(3000);
      }),
    );
    h.control.failNext(1, { status: 502, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => expect(e.transient).toBeTruthy()),
    );
    h.control.failNext(1, { malformedJson: true, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => expect(e.transient).toBeTruthy()),
    );
    const { midtrans } = h.adapters(100);
    h.control.failNext(1, { delayMs: 300, method: "GET" });
    await assert.rejects(
      midtrans.getStatus("order-1", null),
      isGatewayError((e) => {
        expect(e.transient).toBe(true);
        expect(e.message).toMatch(/timed out/);
      }),
    );
  });

  it("signs with SHA512(order_id + status_code + gross_amount + server_key)", async () => {
    const created = await h.midtrans.createPayment(paymentRequest());
    await h.control.pay("midtrans", created.gatewayReference);
    const note = h.received[0].body;
    expect(note.signature_key).toBe(
      midtransSignature(note.order_id, "200", "145000.00", MIDTRANS_KEY),
    );
  });
});
