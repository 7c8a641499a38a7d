import assert from "node:assert/strict";
import { afterAll, beforeAll, beforeEach, describe, it } from "@jest/globals";
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
    assert.ok(error instanceof GatewayError, `expected GatewayError, got ${error}`);
    check(error);
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
    assert.equal(body.transaction_details.gross_amount, 145000);
    assert.deepEqual(
      body.item_details.map((i: any) => [i.id, i.price, i.quantity]),
      [
        ["item-1", 60000, 2],
        ["item-2", 25000, 1],
      ],
    );
    assert.deepEqual(body.customer_details, {
      first_name: "Budi Santoso",
      email: "budi@example.com",
    });
    assert.deepEqual(body.callbacks, { finish: "https://shop.example/done" });
  });

  it("creates a Snap transaction and delivers a notification whose signature verifies", async () => {
    const request = paymentRequest();
    const created = await h.midtrans.createPayment(request);
    assert.equal(created.reused, false);
    assert.equal(
      created.checkoutUrl,
      `${h.sandboxUrl}/checkout/midtrans/${created.gatewayReference}`,
    );

    const page = await checkout(created.checkoutUrl);
    assert.match(page.html, /IDR 145,000/);
    for (const id of ["pay", "fail", "expire"])
      assert.match(page.html, new RegExp(`<button id="${id}"`));

    const result = await clickButton(created.checkoutUrl, "pay");
    assert.match(result.html, /Payment received — <span class="ok">webhook delivered \(HTTP 200\)/);
    assert.equal(h.received.length, 1);
    const note = h.received[0].body;
    assert.equal(h.received[0].gateway, "midtrans");
    assert.equal(note.order_id, request.externalId);
    assert.equal(note.transaction_status, "settlement");
    assert.equal(note.status_code, "200");
    assert.equal(note.gross_amount, "145000.00");
    assert.equal(note.fraud_status, "accept");
    assert.equal(note.currency, "IDR");
    assert.match(note.transaction_id, /^[0-9a-f-]{36}$/);
    assert.equal(note.snap_token, undefined);
    assert.ok(verifyMidtransSignature(note, MIDTRANS_KEY));
    assert.ok(!verifyMidtransSignature(note, "SB-Mid-server-other"));
    assert.ok(!verifyMidtransSignature({ ...note, gross_amount: "1450000.00" }, MIDTRANS_KEY));
  });

  it("sends deny (202) for Fail and expire (407) for Expire, both signed", async () => {
    const a = await h.midtrans.createPayment(paymentRequest());
    const b = await h.midtrans.createPayment(paymentRequest());
    const failed = await clickButton(a.checkoutUrl, "fail");
    assert.match(failed.html, /Payment denied — /);
    await clickButton(b.checkoutUrl, "expire");
    assert.deepEqual(
      h.received.map((r) => [r.body.transaction_status, r.body.status_code]),
      [
        ["deny", "202"],
        ["expire", "407"],
      ],
    );
    for (const r of h.received) assert.ok(verifyMidtransSignature(r.body, MIDTRANS_KEY));
  });

  it("refuses item_details that do not sum to gross_amount, before any call", async () => {
    const request = paymentRequest({ amountMinor: "145001" });
    await assert.rejects(
      h.midtrans.createPayment(request),
      isGatewayError((e) => {
        assert.equal(e.transient, false);
        assert.match(e.message, /sum to 145000, gross_amount is 145001/);
      }),
    );
    assert.equal(h.control.apiCalls().length, 0);
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
    assert.equal(mismatch.status, 400);
    assert.deepEqual((await mismatch.json()).error_messages, [
      "transaction_details.gross_amount is not equal to the sum of item_details",
    ]);
    const ok = await post({ transaction_details: { order_id: "order-y", gross_amount: 100 } });
    assert.equal(ok.status, 201);
    const again = await post({ transaction_details: { order_id: "order-y", gross_amount: 100 } });
    assert.equal(again.status, 400);
    assert.match((await again.json()).error_messages[0], /order_id/);
  });

  it("refuses currencies other than IDR as permanent", async () => {
    for (const currency of ["MYR", "USD"] as const) {
      await assert.rejects(
        h.midtrans.createPayment(paymentRequest({ currency })),
        isGatewayError((e) => {
          assert.equal(e.transient, false);
          assert.match(e.message, /IDR only/);
        }),
      );
    }
    assert.equal(h.control.apiCalls().length, 0);
  });

  it("does not create a second transaction for the same order_id", async () => {
    const request = paymentRequest();
    const first = await h.midtrans.createPayment(request);
    const second = await h.midtrans.createPayment(request);
    assert.equal(second.reused, true);
    // The sandbox's status extension gives the stored token back.
    assert.equal(second.gatewayReference, first.gatewayReference);
    assert.equal(second.checkoutUrl, first.checkoutUrl);
    assert.equal(h.control.payments("midtrans").length, 1);
  });

  it("a lost Snap response (500 after commit) is reused on retry, and a 500 before commit retried once", async () => {
    const lost = paymentRequest();
    h.control.failNext(1, { status: 500, method: "POST", commit: true });
    await assert.rejects(
      h.midtrans.createPayment(lost),
      isGatewayError((e) => assert.ok(e.transient)),
    );
    const retry = await h.midtrans.createPayment(lost);
    assert.equal(retry.reused, true);
    assert.equal(h.control.payments("midtrans").length, 1);

    const failing = paymentRequest();
    h.control.failNext(1, { status: 503 });
    await assert.rejects(
      h.midtrans.createPayment(failing),
      isGatewayError((e) => assert.ok(e.transient)),
    );
    assert.equal((await h.midtrans.createPayment(failing)).reused, false);
    assert.equal(
      h.control.payments("midtrans").filter((p) => p.externalId === failing.externalId).length,
      1,
    );
  });

  it("reports status like a notification: signed, with a reconcile event id; unknown orders are null", async () => {
    const request = paymentRequest();
    assert.equal(await h.midtrans.getStatus(request.externalId, null), null);
    const created = await h.midtrans.createPayment(request);
    const pending = await h.midtrans.getStatus(request.externalId, created.gatewayReference);
    assert.equal(pending?.payload.transaction_status, "pending");
    assert.equal(pending?.payload.status_code, "201");
    assert.equal(pending?.payload.snap_token, undefined, "sandbox extensions are stripped");
    assert.equal(pending?.eventId, `${pending?.payload.transaction_id}:pending:reconcile`);
    assert.ok(verifyMidtransSignature(pending?.payload, MIDTRANS_KEY));

    await h.control.pay("midtrans", request.externalId, { amountMinor: "150000" });
    const paid = await h.midtrans.getStatus(request.externalId, null);
    assert.equal(paid?.payload.transaction_status, "settlement");
    assert.equal(paid?.payload.gross_amount, "150000.00");
    assert.equal(paid?.payload.fraud_status, "accept");
    assert.equal(paid?.eventId, `${paid?.payload.transaction_id}:settlement:reconcile`);
    assert.ok(verifyMidtransSignature(paid?.payload, MIDTRANS_KEY));
  });

  it("a wrong server key is a permanent 401 whose message does not carry the key", async () => {
    const wrongKey = "SB-Mid-server-WRONG_KEY_987654321";
    const { midtrans } = h.adapters(2000, { midtrans: wrongKey });
    await assert.rejects(
      midtrans.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, false);
        assert.equal(e.status, 401);
        assert.ok(!e.message.includes(wrongKey));
      }),
    );
    await assert.rejects(
      midtrans.getStatus("any-order", null),
      isGatewayError((e) => assert.equal(e.status, 401)),
    );
  });

  it("classifies status API faults: 429 with Retry-After, 5xx and slow answers are transient", async () => {
    h.control.failNext(1, { status: 429, retryAfterSeconds: 3, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => {
        assert.equal(e.transient, true);
        assert.equal(e.retryAfterMs, 3000);
      }),
    );
    h.control.failNext(1, { status: 502, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => assert.ok(e.transient)),
    );
    h.control.failNext(1, { malformedJson: true, method: "GET" });
    await assert.rejects(
      h.midtrans.getStatus("order-1", null),
      isGatewayError((e) => assert.ok(e.transient)),
    );
    const { midtrans } = h.adapters(100);
    h.control.failNext(1, { delayMs: 300, method: "GET" });
    await assert.rejects(
      midtrans.getStatus("order-1", null),
      isGatewayError((e) => {
        assert.equal(e.transient, true);
        assert.match(e.message, /timed out/);
      }),
    );
  });

  it("signs with SHA512(order_id + status_code + gross_amount + server_key)", async () => {
    const created = await h.midtrans.createPayment(paymentRequest());
    await h.control.pay("midtrans", created.gatewayReference);
    const note = h.received[0].body;
    assert.equal(
      note.signature_key,
      midtransSignature(note.order_id, "200", "145000.00", MIDTRANS_KEY),
    );
  });
});
