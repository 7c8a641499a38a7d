import assert from "node:assert/strict";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
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
    // `expected GatewayError, got ${error}`
    expect(error instanceof GatewayError).toBeTruthy();
    check(error as GatewayError);
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
    expect(idr.amount).toBe(145000);
    const myr = xenditInvoiceBody(
      paymentRequest({
        currency: "MYR",
        amountMinor: "12345",
        items: [{ name: "A", quantity: 1, priceMinor: "12345" }],
      }),
    );
    expect(myr).toMatch(/"amount":123\.45,/);
    expect(myr).toMatch(/"price":123\.45\}/);
    const huge = xenditInvoiceBody(
      paymentRequest({ currency: "USD", amountMinor: "123456789012345678", items: [] }),
    );
    // A float would print 1234567890123456.8.
    expect(huge).toMatch(/"amount":1234567890123456\.78,/);
  });

  it("creates an IDR invoice, shows the checkout page and delivers a verifiable PAID callback", async () => {
    const request = paymentRequest();
    const created = await h.xendit.createPayment(request);
    expect(created.reused).toBe(false);
    expect(created.gatewayReference).toMatch(/^[0-9a-f]{24}$/);
    expect(created.checkoutUrl).toBe(`${h.sandboxUrl}/checkout/xendit/${created.gatewayReference}`);
    const stored = h.control.find("xendit", request.externalId);
    expect(stored?.amountMinor).toBe("145000");
    expect(stored?.currency).toBe("IDR");

    const page = await checkout(created.checkoutUrl);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/IDR 145,000/);
    expect(page.html).toMatch(/data-amount="145000"/);
    expect(page.html).toMatch(/Invoice INV-001 from Toko Maju/);
    for (const id of ["pay", "fail", "expire"])
      expect(page.html).toMatch(new RegExp(`<button id="${id}"`));

    const result = await clickButton(created.checkoutUrl, "pay");
    expect(result.status).toBe(200);
    expect(result.html).toMatch(
      /Payment received — <span class="ok">webhook delivered \(HTTP 200\)/,
    );

    expect(h.received.length).toBe(1);
    const hook = h.received[0];
    expect(hook.gateway).toBe("xendit");
    expect(
      verifyXenditCallbackToken(hook.headers["x-callback-token"] as string, CALLBACK_TOKEN),
    ).toBeTruthy();
    expect(
      !verifyXenditCallbackToken(hook.headers["x-callback-token"] as string, "another-token"),
    ).toBeTruthy();
    expect(typeof hook.headers["webhook-id"]).toBe("string");
    expect(hook.body.id).toBe(created.gatewayReference);
    expect(hook.body.external_id).toBe(request.externalId);
    expect(hook.body.status).toBe("PAID");
    expect(hook.body.amount).toBe(145000);
    expect(hook.body.paid_amount).toBe(145000);
    expect(hook.body.currency).toBe("IDR");
    expect(typeof hook.body.paid_at).toBe("string");
    expect(hook.body.payment_method).toBe("BANK_TRANSFER");
    expect(h.control.find("xendit", request.externalId)?.status).toBe("PAID");
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
    expect(stored.amountMinor).toBe("12345");
    expect(stored.items.map((i) => i.priceMinor)).toEqual(["1050", "9195"]);
    const page = await checkout(created.checkoutUrl);
    expect(page.html).toMatch(/MYR 123\.45/);
    await clickButton(created.checkoutUrl, "pay");
    expect(h.received[0].raw).toMatch(/"amount":123\.45,/);
    expect(h.received[0].raw).toMatch(/"paid_amount":123\.45,/);
    expect(h.received[0].body.currency).toBe("MYR");
  });

  it("creates USD invoices", async () => {
    const request = paymentRequest({
      currency: "USD",
      amountMinor: "1999",
      items: [{ name: "Plan", quantity: 1, priceMinor: "1999" }],
    });
    const created = await h.xendit.createPayment(request);
    const page = await checkout(created.checkoutUrl);
    expect(page.html).toMatch(/USD 19\.99/);
    expect(h.control.find("xendit", request.externalId)?.amountMinor).toBe("1999");
  });

  it("sends EXPIRED for both Fail (Xendit has no failed invoice) and Expire", async () => {
    const a = await h.xendit.createPayment(paymentRequest());
    const b = await h.xendit.createPayment(paymentRequest());
    const failed = await clickButton(a.checkoutUrl, "fail");
    expect(failed.html).toMatch(/Payment expired — /);
    expect(failed.html).toMatch(/no failed state/);
    await clickButton(b.checkoutUrl, "expire");
    expect(h.received.map((r) => r.body.status)).toEqual(["EXPIRED", "EXPIRED"]);
    expect(h.received[0].body.paid_amount).toBe(undefined);
  });

  it("reports status in callback shape with a reconcile event id", async () => {
    const request = paymentRequest();
    expect(await h.xendit.getStatus(request.externalId, null)).toBe(null);
    const created = await h.xendit.createPayment(request);
    const pending = await h.xendit.getStatus(request.externalId, created.gatewayReference);
    expect(pending?.eventId).toBe(`${created.gatewayReference}:PENDING:reconcile`);
    expect(pending?.payload.status).toBe("PENDING");
    expect(pending?.payload.external_id).toBe(request.externalId);
    expect(pending?.payload.amount).toBe(145000);
    expect(pending?.payload.invoice_url).toBe(undefined);

    await h.control.pay("xendit", created.gatewayReference);
    const paid = await h.xendit.getStatus(request.externalId, null);
    expect(paid?.eventId).toBe(`${created.gatewayReference}:PAID:reconcile`);
    expect(paid?.payload.paid_amount).toBe(145000);
    expect(paid?.payload.currency).toBe("IDR");

    await h.control.settle(created.gatewayReference);
    const settled = await h.xendit.getStatus(request.externalId, null);
    expect(settled?.eventId).toBe(`${created.gatewayReference}:SETTLED:reconcile`);
    expect(h.received.at(-1)?.body.status).toBe("SETTLED");
  });

  it("records overpayments as paid_amount above amount", async () => {
    const created = await h.xendit.createPayment(paymentRequest());
    await h.control.pay("xendit", created.gatewayReference, { amountMinor: "150000" });
    expect(h.received[0].body.amount).toBe(145000);
    expect(h.received[0].body.paid_amount).toBe(150000);
  });

  describe("retries never create a second invoice", () => {
    it("a 500 is transient, and the retry creates exactly one invoice", async () => {
      const request = paymentRequest();
      h.control.failNext(1, { status: 500 });
      await assert.rejects(
        h.xendit.createPayment(request),
        isGatewayError((e) => {
          expect(e.transient).toBe(true);
          expect(e.status).toBe(500);
        }),
      );
      const second = await h.xendit.createPayment(request);
      expect(second.reused).toBe(false);
      expect(
        h.control.payments("xendit").filter((p) => p.externalId === request.externalId).length,
      ).toBe(1);
    });

    it("a create whose response was lost (500 after the gateway committed) is reused on retry", async () => {
      const request = paymentRequest();
      h.control.failNext(1, { status: 500, method: "POST", commit: true });
      await assert.rejects(
        h.xendit.createPayment(request),
        isGatewayError((e) => expect(e.transient).toBeTruthy()),
      );
      expect(h.control.payments("xendit").length).toBe(1);
      const retry = await h.xendit.createPayment(request);
      expect(retry.reused).toBe(true);
      expect(retry.gatewayReference).toBe(h.control.payments("xendit")[0].id);
      expect(h.control.payments("xendit").length).toBe(1);
      const posts = h.control.apiCalls().filter((c) => c.method === "POST");
      // the retry must not POST again
      expect(posts.length).toBe(1);
    });

    it("calling createPayment twice with the same external id returns the same invoice", async () => {
      const request = paymentRequest();
      const first = await h.xendit.createPayment(request);
      const second = await h.xendit.createPayment(request);
      expect(second.reused).toBe(true);
      expect(second.gatewayReference).toBe(first.gatewayReference);
      expect(second.checkoutUrl).toBe(first.checkoutUrl);
      expect(h.control.payments("xendit").length).toBe(1);
    });

    it("a timeout is transient; the invoice the slow gateway still created is reused", async () => {
      const request = paymentRequest();
      const { xendit } = h.adapters(150);
      h.control.failNext(1, { delayMs: 400, method: "POST" });
      await assert.rejects(
        xendit.createPayment(request),
        isGatewayError((e) => {
          expect(e.transient).toBe(true);
          expect(e.message).toMatch(/timed out after 150 ms/);
        }),
      );
      await eventually(() => h.control.payments("xendit").length === 1);
      const retry = await xendit.createPayment(request);
      expect(retry.reused).toBe(true);
      expect(h.control.payments("xendit").length).toBe(1);
    });
  });

  it("429 is transient and carries Retry-After", async () => {
    h.control.failNext(1, { status: 429, retryAfterSeconds: 7 });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        expect(e.transient).toBe(true);
        expect(e.status).toBe(429);
        expect(e.retryAfterMs).toBe(7000);
      }),
    );
  });

  it("400 is permanent with Xendit's message", async () => {
    h.control.failNext(1, { status: 400, method: "POST" });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        expect(e.transient).toBe(false);
        expect(e.status).toBe(400);
        expect(e.message).toMatch(/API_VALIDATION_ERROR/);
      }),
    );
  });

  it("malformed JSON in a 2xx is transient", async () => {
    h.control.failNext(1, { malformedJson: true });
    await assert.rejects(
      h.xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        expect(e.transient).toBe(true);
        expect(e.message).toMatch(/malformed JSON/);
      }),
    );
  });

  it("a wrong secret key is a permanent 401 whose message does not carry the key", async () => {
    const wrongKey = "xnd_development_WRONG_KEY_987654321";
    const { xendit } = h.adapters(2000, { xendit: wrongKey });
    await assert.rejects(
      xendit.createPayment(paymentRequest()),
      isGatewayError((e) => {
        expect(e.transient).toBe(false);
        expect(e.status).toBe(401);
        expect(e.message).toMatch(/INVALID_API_KEY/);
        expect(!e.message.includes(wrongKey)).toBeTruthy();
        expect(!e.message.includes(Buffer.from(`${wrongKey}:`).toString("base64"))).toBeTruthy();
      }),
    );
    expect(h.control.payments().length).toBe(0);
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
        expect(e.transient).toBe(true);
        expect(e.status).toBe(null);
      }),
    );
  });

  it("refuses a request whose exponent does not match its currency, before any call", async () => {
    await assert.rejects(
      h.xendit.createPayment(paymentRequest({ currency: "MYR", exponent: 0 })),
      isGatewayError((e) => expect(e.transient).toBe(false)),
    );
    expect(h.control.apiCalls().length).toBe(0);
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
    expect(duplicate.status).toBe(400);
    expect((await duplicate.json()).error_code).toBe("DUPLICATE_ERROR");
    const cents = await post(
      JSON.stringify({ external_id: "x-1", amount: 100.5, currency: "IDR" }),
    );
    expect(cents.status).toBe(400);
    expect((await cents.json()).error_code).toBe("API_VALIDATION_ERROR");
    const garbage = await post("{not json");
    expect(garbage.status).toBe(400);
    const noAuth = await fetch(`${h.sandboxUrl}/xendit/v2/invoices?external_id=x`);
    expect(noAuth.status).toBe(401);
  });
});
