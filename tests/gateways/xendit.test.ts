import assert from "node:assert/strict";
import { afterAll, beforeAll, beforeEach, describe, it } from "@jest/globals";
import { verifyXenditCallbackToken } from "../../src/gateways/signatures.ts";
import { GatewayError } from "../../src/gateways/types.ts";
import { makeXenditAdapter, xenditInvoiceBody } from "../../src/gateways/xendit.ts";
import {
  CALLBACK_TOKEN,
  checkout,
  clickButton,
  eventually,
  type Harness,
  paymentRequest,
  startHarness,
  XENDIT_KEY,
} from "./harness.ts";

function isGatewayError(check: (e: GatewayError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof GatewayError, `expected GatewayError, got ${error}`);
    check(error);
    return true;
  };
}

describe("Xendit adapter against the sandbox", () => {
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

  it("writes amounts as exact major-unit JSON numbers", () => {
    const idr = JSON.parse(xenditInvoiceBody(paymentRequest()));
    assert.equal(idr.amount, 145000);
    const myr = xenditInvoiceBody(
      paymentRequest({
        currency: "MYR",
        amountMinor: "12345",
        items: [{ name: "A", quantity: 1, priceMinor: "12345" }],
      }),
    );
    assert.match(myr, /"amount":123\.45,/);
    assert.match(myr, /"price":123\.45\}/);
    const huge = xenditInvoiceBody(
      paymentRequest({ currency: "USD", amountMinor: "123456789012345678", items: [] }),
    );
    // A float would print 1234567890123456.8.
    assert.match(huge, /"amount":1234567890123456\.78,/);
  });

  it("creates an IDR invoice, shows the checkout page and delivers a verifiable PAID callback", async () => {
    const request = paymentRequest();
    const created = await h.xendit.createPayment(request);
    assert.equal(created.reused, false);
    assert.match(created.gatewayReference, /^[0-9a-f]{24}$/);
    assert.equal(
      created.checkoutUrl,
      `${h.sandboxUrl}/checkout/xendit/${created.gatewayReference}`,
    );
    const stored = h.control.find("xendit", request.externalId);
    assert.equal(stored?.amountMinor, "145000");
    assert.equal(stored?.currency, "IDR");

    const page = await checkout(created.checkoutUrl);
    assert.equal(page.status, 200);
    assert.match(page.html, /IDR 145,000/);
    assert.match(page.html, /data-amount="145000"/);
    assert.match(page.html, /Invoice INV-001 from Toko Maju/);
    for (const id of ["pay", "fail", "expire"])
      assert.match(page.html, new RegExp(`<button id="${id}"`));

    const result = await clickButton(created.checkoutUrl, "pay");
    assert.equal(result.status, 200);
    assert.match(result.html, /Payment received — <span class="ok">webhook delivered \(HTTP 200\)/);

    assert.equal(h.received.length, 1);
    const hook = h.received[0];
    assert.equal(hook.gateway, "xendit");
    assert.ok(
      verifyXenditCallbackToken(hook.headers["x-callback-token"] as string, CALLBACK_TOKEN),
    );
    assert.ok(
      !verifyXenditCallbackToken(hook.headers["x-callback-token"] as string, "another-token"),
    );
    assert.equal(typeof hook.headers["webhook-id"], "string");
    assert.equal(hook.body.id, created.gatewayReference);
    assert.equal(hook.body.external_id, request.externalId);
    assert.equal(hook.body.status, "PAID");
    assert.equal(hook.body.amount, 145000);
    assert.equal(hook.body.paid_amount, 145000);
    assert.equal(hook.body.currency, "IDR");
    assert.equal(typeof hook.body.paid_at, "string");
    assert.equal(hook.body.payment_method, "BANK_TRANSFER");
    assert.equal(h.control.find("xendit", request.externalId)?.status, "PAID");
  });

  it("keeps MYR cents exact from request to callback", async () => {
    const request = paymentRequest({
      currency: "MYR",
      amountMinor: "12345",
      items: [
        { name: "Nasi lemak", quantity: 3, priceMinor: "1050" },
        { name: "Teh tarik", quantity: 1, priceMinor: "9195" },
      ],
    });
    const created = await h.xendit.createPayment(request);
    const stored = h.control.find("xendit", created.gatewayReference)!;
    assert.equal(stored.amountMinor, "12345");
    assert.deepEqual(
      stored.items.map((i) => i.priceMinor),
      ["1050", "9195"],
    );
    const page = await checkout(created.checkoutUrl);
    assert.match(page.html, /MYR 123\.45/);
    await clickButton(created.checkoutUrl, "pay");
    assert.match(h.received[0].raw, /"amount":123\.45,/);
    assert.match(h.received[0].raw, /"paid_amount":123\.45,/);
    assert.equal(h.received[0].body.currency, "MYR");
  });

  it("creates USD invoices", async () => {
    const request = paymentRequest({
      currency: "USD",
      amountMinor: "1999",
      items: [{ name: "Plan", quantity: 1, priceMinor: "1999" }],
    });
    const created = await h.xendit.createPayment(request);
    const page = await checkout(created.checkoutUrl);
    assert.match(page.html, /USD 19\.99/);
    assert.equal(h.control.find("xendit", request.externalId)?.amountMinor, "1999");
  });

  it("sends EXPIRED for both Fail (Xendit has no failed invoice) and Expire", async () => {
    const a = await h.xendit.createPayment(paymentRequest());
    const b = await h.xendit.createPayment(paymentRequest());
    const failed = await clickButton(a.checkoutUrl, "fail");
    assert.match(failed.html, /Payment expired — /);
    assert.match(failed.html, /no failed state/);
    await clickButton(b.checkoutUrl, "expire");
    assert.deepEqual(
      h.received.map((r) => r.body.status),
      ["EXPIRED", "EXPIRED"],
    );
    assert.equal(h.received[0].body.paid_amount, undefined);
  });

  it("reports status in callback shape with a reconcile event id", async () => {
    const request = paymentRequest();
    assert.equal(await h.xendit.getStatus(request.externalId, null), null);
    const created = await h.xendit.createPayment(request);
    const pending = await h.xendit.getStatus(request.externalId, created.gatewayReference);
    assert.equal(pending?.eventId, `${created.gatewayReference}:PENDING:reconcile`);
    assert.equal(pending?.payload.status, "PENDING");
    assert.equal(pending?.payload.external_id, request.externalId);
    assert.equal(pending?.payload.amount, 145000);
    assert.equal(pending?.payload.invoice_url, undefined);

    await h.control.pay("xendit", created.gatewayReference);
    const paid = await h.xendit.getStatus(request.externalId, null);
    assert.equal(paid?.eventId, `${created.gatewayReference}:PAID:reconcile`);
    assert.equal(paid?.payload.paid_amount, 145000);
    assert.equal(paid?.payload.currency, "IDR");

    await h.control.settle(created.gatewayReference);
    const settled = await h.xendit.getStatus(request.externalId, null);
    assert.equal(settled?.eventId, `${created.gatewayReference}:SETTLED:reconcile`);
    assert.equal(h.received.at(-1)?.body.status, "SETTLED");
  });

  it("records overpayments as paid_amount above amount", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    await h.control.pay("xendit", created.gatewayReference, { amountMinor: "150000" });
    assert.equal(h.received[0].body.amount, 145000);
    assert.equal(h.received[0].body.paid_amount, 150000);
  });

  describe("retries never create a second invoice", () => {
    it("a 500 is transient, and the retry creates exactly one invoice", async () => {
      const request = paymentRequest();
      h.control.failNext(1, { status: 500 });
      await assert.rejects(
        h.xendit.createPayment(request),
        isGatewayError((e) => {
          assert.equal(e.transient, true);
          assert.equal(e.status, 500);
        }),
      );
      const second = await h.xendit.createPayment(request);
      assert.equal(second.reused, false);
      assert.equal(
        h.control.payments("xendit").filter((p) => p.externalId === request.externalId).length,
        1,
      );
    });

    it("a create whose response was lost (500 after the gateway committed) is reused on retry", async () => {
      const request = paymentRequest();
      h.control.failNext(1, { status: 500, method: "POST", commit: true });
      await assert.rejects(
        h.xendit.createPayment(request),
        isGatewayError((e) => assert.ok(e.transient)),
      );
      assert.equal(h.control.payments("xendit").length, 1);
      const retry = await h.xendit.createPayment(request);
      assert.equal(retry.reused, true);
      assert.equal(retry.gatewayReference, h.control.payments("xendit")[0].id);
      assert.equal(h.control.payments("xendit").length, 1);
      const posts = h.control.apiCalls().filter((c) => c.method === "POST");
      assert.equal(posts.length, 1, "the retry must not POST again");
    });

    it("calling createPayment twice with the same external id returns the same invoice", async () => {
      const request = paymentRequest();
      const first = await h.xendit.createPayment(request);
      const second = await h.xendit.createPayment(request);
      assert.equal(second.reused, true);
      assert.equal(second.gatewayReference, first.gatewayReference);
      assert.equal(second.checkoutUrl, first.checkoutUrl);
      assert.equal(h.control.payments("xendit").length, 1);
    });

    it("a timeout is transient; the invoice the slow gateway still created is reused", async () => {
      const request = paymentRequest();
      const { xendit } = h.adapters(150);
      h.control.failNext(1, { delayMs: 400, method: "POST" });
      await assert.rejects(
        xendit.createPayment(request),
        isGatewayError((e) => {
          assert.equal(e.transient, true);
          assert.match(e.message, /timed out after 150 ms/);
        }),
      );
      await eventually(() => h.control.payments("xendit").length === 1);
      const retry = await xendit.createPayment(request);
      assert.equal(retry.reused, true);
      assert.equal(h.control.payments("xendit").length, 1);
    });
  });

  it("429 is transient and carries Retry-After", async () => {
    h.control.failNext(1, { status: 429, retryAfterSeconds: 7 });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, true);
        assert.equal(e.status, 429);
        assert.equal(e.retryAfterMs, 7000);
      }),
    );
  });

  it("400 is permanent with Xendit's message", async () => {
    h.control.failNext(1, { status: 400, method: "POST" });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, false);
        assert.equal(e.status, 400);
        assert.match(e.message, /API_VALIDATION_ERROR/);
      }),
    );
  });

  it("malformed JSON in a 2xx is transient", async () => {
    h.control.failNext(1, { malformedJson: true });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, true);
        assert.match(e.message, /malformed JSON/);
      }),
    );
  });

  it("a wrong secret key is a permanent 401 whose message does not carry the key", async () => {
    const wrongKey = "xnd_development_WRONG_KEY_987654321";
    const { xendit } = h.adapters(2000, { xendit: wrongKey });
    await assert.rejects(
      xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, false);
        assert.equal(e.status, 401);
        assert.match(e.message, /INVALID_API_KEY/);
        assert.ok(!e.message.includes(wrongKey));
        assert.ok(!e.message.includes(Buffer.from(`${wrongKey}:`).toString("base64")));
      }),
    );
    assert.equal(h.control.payments().length, 0);
  });

  it("an unreachable gateway is a transient network error", async () => {
    const xendit = makeXenditAdapter({
      baseUrl: "http://127.0.0.1:9/xendit",
      secretKey: XENDIT_KEY,
      timeoutMs: 1000,
    });
    await assert.rejects(
      xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        assert.equal(e.transient, true);
        assert.equal(e.status, null);
      }),
    );
  });

  it("refuses a request whose exponent does not match its currency, before any call", async () => {
    await assert.rejects(
      h.xendit.createPayment(paymentRequest({ currency: "MYR", exponent: 0 })),
      isGatewayError((e) => assert.equal(e.transient, false)),
    );
    assert.equal(h.control.apiCalls().length, 0);
  });

  it("the sandbox refuses a duplicate external_id with DUPLICATE_ERROR and bad input with 400", async () => {
    const request = paymentRequest();
    await h.xendit.createPayment(request);
    const post = (body: string) =>
      fetch(`${h.sandboxUrl}/xendit/v2/invoices`, {
        method: "POST",
        headers: {
          authorization: `Basic ${Buffer.from(`${XENDIT_KEY}:`).toString("base64")}`,
          "content-type": "application/json",
        },
        body,
      });
    const duplicate = await post(xenditInvoiceBody(request));
    assert.equal(duplicate.status, 400);
    assert.equal((await duplicate.json()).error_code, "DUPLICATE_ERROR");
    const cents = await post(
      JSON.stringify({ external_id: "x-1", amount: 100.5, currency: "IDR" }),
    );
    assert.equal(cents.status, 400);
    assert.equal((await cents.json()).error_code, "API_VALIDATION_ERROR");
    const garbage = await post("{not json");
    assert.equal(garbage.status, 400);
    const noAuth = await fetch(`${h.sandboxUrl}/xendit/v2/invoices?external_id=x`);
    assert.equal(noAuth.status, 401);
  });
});
