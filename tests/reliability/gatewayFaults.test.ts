/**
 * Gateway faults the payment tests (tests/payments/faults.test.ts: 500 then
 * success, lost response, 400 refusal, connection refused) do not cover:
 * timeouts beyond PAYTRUST_GATEWAY_TIMEOUT_MS, slow answers within it, 429 with
 * Retry-After, malformed JSON, each on both gateways where they differ, and
 * retries running out. Every case ends either with exactly one gateway charge
 * or with a failed attempt that leaves the invoice free for a new one.
 * Retries use graphile-worker's real backoff (~2.7 s after the first failure).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  initiatePayment,
  startPayment,
} from "../helpers/payments.ts";
import { type LoggedApp, startLoggedApp } from "./helpers.ts";

type Gateway = "xendit" | "midtrans";
const CREATE_PATH: Record<Gateway, string> = {
  xendit: "/xendit/v2/invoices",
  midtrans: "/midtrans/snap/v1/transactions",
};
const LOOKUP_PATH: Record<Gateway, string> = {
  xendit: "/xendit/v2/invoices",
  midtrans: "/midtrans/v2/",
};
const TIMEOUT_MS = 1000;

describe("gateway faults: retried or failed cleanly, never a second charge, never a locked invoice", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db, {
      worker: true,
      env: { PAYTRUST_GATEWAY_TIMEOUT_MS: String(TIMEOUT_MS), PAYTRUST_GATEWAY_MAX_ATTEMPTS: "2" },
    });
    key = (await createTenant(db.pool, "Fault shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function begin(gateway: Gateway) {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
    const { tx, errors } = await initiatePayment(app, key, invoice.id);
    // JSON.stringify(errors)
    expect(errors).toBe(undefined);
    return { invoice, tx };
  }

  async function settled(txId: string) {
    return eventually(async () => {
      const t = await getTransaction(app, key, txId);
      return t.gatewayReference || t.status !== "pending" ? t : null;
    }, 30_000);
  }

  const charges = (gateway: Gateway, externalId: string) =>
    app.runtime.sandbox!.payments(gateway).filter((p) => p.externalId === externalId);

  for (const gateway of ["xendit", "midtrans"] as const) {
    it(`${gateway}: a charge request that times out (the gateway creates it late) is found again, one charge`, async () => {
      app.runtime.sandbox!.failNext(1, {
        delayMs: TIMEOUT_MS * 2,
        method: "POST",
        path: CREATE_PATH[gateway],
      });
      const { tx } = await begin(gateway);
      const done = await settled(tx.id);
      expect(done.status).toBe("pending");
      expect(charges(gateway, tx.externalId).length).toBe(1);
      // the timeout was logged
      expect(app.logs.some((l) => l.includes(`timed out after ${TIMEOUT_MS} ms`))).toBeTruthy();
    });

    it(`${gateway}: a malformed JSON answer after the gateway created the charge is retried, one charge`, async () => {
      app.runtime.sandbox!.failNext(1, {
        malformedJson: true,
        commit: true,
        method: "POST",
        path: CREATE_PATH[gateway],
      });
      const { tx } = await begin(gateway);
      const done = await settled(tx.id);
      expect(done.status).toBe("pending");
      expect(done.gatewayReference).toBeTruthy();
      expect(charges(gateway, tx.externalId).length).toBe(1);
    });

    it(`${gateway}: lookups failing on every attempt fail the payment, and a new attempt succeeds`, async () => {
      const sandbox = app.runtime.sandbox!;
      // Attempt 1 times out, attempt 2 gets a 502: retries exhausted (max 2).
      sandbox.failNext(1, { delayMs: TIMEOUT_MS * 2, method: "GET", path: LOOKUP_PATH[gateway] });
      sandbox.failNext(1, { status: 502, method: "GET", path: LOOKUP_PATH[gateway] });
      const { invoice, tx } = await begin(gateway);
      const failed = await settled(tx.id);
      expect(failed.status).toBe("failed");
      expect(failed.failureReason).toMatch(/after 2 attempts/);
      expect(failed.iso20022Status).toBe("RJCT");
      expect(charges(gateway, tx.externalId).length).toBe(0);

      // Not locked: the next attempt starts, is charged once and paid once.
      const retry = await startPayment(app, key, invoice.id);
      expect(retry.id).not.toBe(tx.id);
      await sandbox.pay(gateway, retry.externalId);
      const paid = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      }, 20_000);
      expect(paid.amountPaid).toBe(invoice.total);
      expect(charges(gateway, retry.externalId).length).toBe(1);
    });
  }

  it("a slow answer within the timeout is simply waited for (no retry)", async () => {
    const sandbox = app.runtime.sandbox!;
    sandbox.failNext(1, { delayMs: TIMEOUT_MS / 2, method: "POST", path: CREATE_PATH.xendit });
    const before = sandbox.apiCalls().length;
    const { tx } = await begin("xendit");
    const done = await settled(tx.id);
    expect(done.gatewayReference).toBeTruthy();
    const calls = sandbox.apiCalls().slice(before);
    // one lookup, one create
    expect(calls.map((c) => `${c.method} ${c.status}`)).toEqual(["GET 404", "POST 200"]);
  });

  it("429 with Retry-After: rescheduled no earlier than asked, without using up attempts", async () => {
    const sandbox = app.runtime.sandbox!;
    // Twice in a row with max attempts 2: if a 429 counted as a failure, the payment would fail.
    sandbox.failNext(2, {
      status: 429,
      retryAfterSeconds: 2,
      method: "POST",
      path: CREATE_PATH.midtrans,
    });
    const { tx } = await begin("midtrans");
    const rescheduled = await eventually(async () => {
      const { rows } = await db.pool.query(
        `select extract(epoch from run_at - now()) as wait, attempts, payload
           from graphile_worker._private_jobs where key = $1 and attempts = 0 and run_at > now()`,
        [`gateway__create_payment:${tx.id}`],
      );
      return rows[0];
    }, 10_000);
    // `waits ${rescheduled.wait} s for Retry-After: 2`
    expect(Number(rescheduled.wait) > 1).toBeTruthy();
    expect(rescheduled.payload.deferrals).toBe(1);
    const done = await settled(tx.id);
    expect(done.status).toBe("pending");
    expect(done.gatewayReference).toBeTruthy();
    expect(charges("midtrans", tx.externalId).length).toBe(1);
    const refusals = sandbox.apiCalls().filter((c) => c.status === 429);
    expect(refusals.length).toBe(2);
  });

  it("a malformed lookup answer (nothing created yet) is retried and the charge created once", async () => {
    app.runtime.sandbox!.failNext(1, {
      malformedJson: true,
      method: "GET",
      path: LOOKUP_PATH.xendit,
    });
    const { tx } = await begin("xendit");
    const done = await settled(tx.id);
    expect(done.status).toBe("pending");
    expect(charges("xendit", tx.externalId).length).toBe(1);
  });
});
