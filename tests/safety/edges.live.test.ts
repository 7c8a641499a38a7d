/**
 * Issue 14 item 1 through HTTP: a production process in live mode has no
 * sandbox (no pages, no fake gateway API, no Pay buttons) and refuses webhooks
 * signed with the sandbox's public defaults.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

const LIVE_ENV = {
  NODE_ENV: "production",
  PAYTRUST_GATEWAY_MODE: "live",
  XENDIT_SECRET_KEY: "xnd_production_test_0123456789abcdef",
  XENDIT_CALLBACK_TOKEN: "live-callback-token-0123456789abcdef",
  MIDTRANS_SERVER_KEY: "Mid-server-live-test-0123456789",
  PUBLIC_BASE_URL: "https://pay.example.com",
  // Never reached: no worker runs here; keep any accidental call local.
  XENDIT_BASE_URL: "http://127.0.0.1:9/xendit",
  MIDTRANS_SNAP_URL: "http://127.0.0.1:9/midtrans",
  MIDTRANS_API_URL: "http://127.0.0.1:9/midtrans",
};

describe("live mode in production", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: LIVE_ENV });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("has no sandbox: pages, checkout actions and the fake gateway API are 404", async () => {
    expect(app.runtime.sandbox).toBeNull();
    for (const path of [
      "/sandbox",
      "/sandbox/",
      "/sandbox/checkout/xendit/anything",
      "/sandbox/xendit/v2/invoices",
      "/sandbox/midtrans/v2/order-1/status",
    ]) {
      const res = await fetch(`${app.url}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      const body = await res.json();
      expect(body.errors[0].extensions.code).toBe("PTNFD");
    }
    const pay = await fetch(`${app.url}/sandbox/checkout/xendit/anything/pay`, { method: "POST" });
    expect(pay.status).toBe(404);
  });

  it("refuses a Xendit webhook with the sandbox's public callback token (401 PTSIG)", async () => {
    const body = JSON.stringify({
      id: "inv-forged",
      external_id: "00000000-0000-4000-8000-000000000000",
      status: "PAID",
      amount: 1000,
      paid_amount: 1000,
      currency: "IDR",
    });
    const forged = await fetch(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-callback-token": "sandbox-callback-token" },
      body,
    });
    expect(forged.status).toBe(401);
    expect((await forged.json()).errors[0].extensions.code).toBe("PTSIG");

    // The configured token gets past verification (whatever the event then does).
    const genuine = await fetch(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-callback-token": LIVE_ENV.XENDIT_CALLBACK_TOKEN,
      },
      body,
    });
    expect(genuine.status).not.toBe(401);
  });

  it("refuses a Midtrans notification signed with the sandbox's server key (401 PTSIG)", async () => {
    const order = "00000000-0000-4000-8000-000000000000";
    const grossAmount = "10000.00";
    const signature = createHash("sha512")
      .update(`${order}200${grossAmount}SB-Mid-server-sandbox`)
      .digest("hex");
    const res = await fetch(`${app.url}/webhooks/midtrans`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        order_id: order,
        status_code: "200",
        gross_amount: grossAmount,
        signature_key: signature,
        transaction_status: "settlement",
        fraud_status: "accept",
        transaction_id: "tx-forged",
        currency: "IDR",
      }),
    });
    expect(res.status).toBe(401);
    expect((await res.json()).errors[0].extensions.code).toBe("PTSIG");
  });

  it("serves no GraphiQL in production", async () => {
    const res = await fetch(`${app.url}/graphiql`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(404);
  });
});
