/**
 * Issue 14 item 4: payment attempts end. Every attempt has expiresAt, computed
 * in SQL at initiation from PAYTRUST_CHECKOUT_EXPIRY_MINUTES (default 1440),
 * sent to the gateway (Xendit invoice_duration, Midtrans expiry) and enforced
 * by the payment__expire_overdue cron task: the attempt is expired, its
 * installment can be paid again, and money that still arrives is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { midtransSnapBody, midtransStartTime } from "../../src/gateways/midtrans.ts";
import { xenditInvoiceBody } from "../../src/gateways/xendit.ts";
import { checkoutExpiry } from "../../src/tasks/gateway__create_payment.ts";
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

type Gateway = "xendit" | "midtrans";

async function expiryOf(app: TestApp, key: string, id: string) {
  const res = await app.gql(
    "query($id: UUID!) { paymentTransaction(id: $id) { id createdAt expiresAt } }",
    { id },
    key,
  );
  expect(res.body.errors).toBe(undefined);
  const tx = res.body.data.paymentTransaction;
  return {
    ...tx,
    minutes: (Date.parse(tx.expiresAt) - Date.parse(tx.createdAt)) / 60_000,
  };
}

/** Queues one cron run of payment__expire_overdue (as the crontab does) and waits for it. */
async function runExpiryCron(db: TestDatabase): Promise<void> {
  await db.pool.query("select graphile_worker.add_job('payment__expire_overdue', '{}'::json)");
  await eventually(async () => {
    const { rows } = await db.pool.query(
      "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'payment__expire_overdue'",
    );
    return rows[0].n === 0;
  }, 20_000);
}

describe("PAYTRUST_CHECKOUT_EXPIRY_MINUTES", () => {
  const base = { NODE_ENV: "test" };
  it("defaults to 1440 and takes a positive whole number of minutes", () => {
    expect(loadConfig(base).checkoutExpiryMinutes).toBe(1440);
    expect(
      loadConfig({ ...base, PAYTRUST_CHECKOUT_EXPIRY_MINUTES: "30" }).checkoutExpiryMinutes,
    ).toBe(30);
  });
  for (const bad of ["0", "-5", "1.5", "abc", "525601"]) {
    it(`refuses "${bad}" at start-up with PTENV`, () => {
      let error: unknown;
      try {
        loadConfig({ ...base, PAYTRUST_CHECKOUT_EXPIRY_MINUTES: bad });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).code).toBe("PTENV");
      expect((error as Error).message).toContain("PAYTRUST_CHECKOUT_EXPIRY_MINUTES");
    });
  }
});

describe("the gateway requests carry the expiry", () => {
  const request = {
    externalId: "pt-expiry-unit",
    currency: "IDR" as const,
    exponent: 0,
    amountMinor: "1000",
    description: "Test",
    customer: { name: "Budi", email: "budi@example.com" },
    items: [{ name: "Kopi", quantity: 1, priceMinor: "1000" }],
  };
  it("checkoutExpiry: what is left for Xendit, the attempt's own window for Midtrans", () => {
    const createdAt = "2026-12-03T06:00:00.250Z";
    const expiresAt = "2026-12-03T06:30:00.250Z";
    const now = Date.parse("2026-12-03T06:00:10.000Z");
    expect(checkoutExpiry({ createdAt, expiresAt }, now)).toEqual({
      expirySeconds: 1790,
      expiry: { startTime: "2026-12-03T06:00:00.250Z", minutes: 30 },
    });
    // overdue: nothing is created at the gateway
    expect(checkoutExpiry({ createdAt, expiresAt }, Date.parse(expiresAt))).toBe(null);
  });
  it("Xendit: invoice_duration in seconds", () => {
    const body = JSON.parse(xenditInvoiceBody({ ...request, expirySeconds: 1790 }));
    expect(body.invoice_duration).toBe(1790);
  });
  it("Midtrans: expiry {start_time, unit: minute, duration}", () => {
    const body = JSON.parse(
      midtransSnapBody({
        ...request,
        expirySeconds: 1790,
        expiry: { startTime: "2026-12-03T06:00:00.250Z", minutes: 30 },
      }),
    );
    expect(body.expiry).toEqual({
      start_time: "2026-12-03 13:00:00 +0700",
      unit: "minute",
      duration: 30,
    });
    expect(midtransStartTime("2026-12-03T23:59:59.999Z")).toBe("2026-12-04 06:59:59 +0700");
  });
});

describe("expiresAt through GraphQL and the sandbox gateways", () => {
  let defaults: { db: TestDatabase; app: TestApp; key: string };
  let custom: { db: TestDatabase; app: TestApp; key: string };

  beforeAll(async () => {
    const dbA = await freshDatabase();
    const appA = await startTestApp(dbA, { worker: true });
    defaults = { db: dbA, app: appA, key: (await createTenant(dbA.pool, "Default shop")).apiKey };
    const dbB = await freshDatabase();
    const appB = await startTestApp(dbB, {
      worker: true,
      env: { PAYTRUST_CHECKOUT_EXPIRY_MINUTES: "30" },
    });
    custom = { db: dbB, app: appB, key: (await createTenant(dbB.pool, "Quick shop")).apiKey };
  });
  afterAll(async () => {
    for (const side of [defaults, custom]) {
      await side?.app.stop();
      await side?.db.drop();
    }
  });

  for (const gateway of ["xendit", "midtrans"] as const) {
    it(`${gateway}: default 1440 minutes, in the attempt and at the gateway`, async () => {
      const { app, key } = defaults;
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const tx = await startPayment(app, key, invoice.id);
      const expiry = await expiryOf(app, key, tx.id);
      expect(expiry.minutes).toBe(1440);
      const charged = app.runtime.sandbox!.find(gateway, tx.externalId)!;
      expect(charged.expirySeconds).toBeLessThanOrEqual(1440 * 60);
      expect(charged.expirySeconds).toBeGreaterThan(1440 * 60 - 120);
    });

    it(`${gateway}: PAYTRUST_CHECKOUT_EXPIRY_MINUTES=30, in the attempt and at the gateway`, async () => {
      const { app, key } = custom;
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const tx = await startPayment(app, key, invoice.id);
      const expiry = await expiryOf(app, key, tx.id);
      expect(expiry.minutes).toBe(30);
      const charged = app.runtime.sandbox!.find(gateway, tx.externalId)!;
      expect(charged.expirySeconds).toBeLessThanOrEqual(30 * 60);
      expect(charged.expirySeconds).toBeGreaterThan(30 * 60 - 120);
      // The gateway's own expiry is no later than PayTrust's.
      const gatewayEnds = Date.parse(charged.createdAt) + charged.expirySeconds * 1000;
      expect(gatewayEnds).toBeLessThanOrEqual(Date.parse(expiry.expiresAt) + 1000);
    });
  }

  it("the sandbox honours the expiry: an expired checkout cannot be paid", async () => {
    const { app } = custom;
    const sandbox = app.runtime.sandbox!;
    const basic = (user: string) => `Basic ${Buffer.from(`${user}:`).toString("base64")}`;
    // Xendit: a 1-second invoice.
    const created = await fetch(`${app.url}/sandbox/xendit/v2/invoices`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: basic("xnd_development_sandbox"),
      },
      body: JSON.stringify({
        external_id: "pt-short-lived",
        amount: 1000,
        currency: "IDR",
        invoice_duration: 1,
      }),
    });
    expect(created.status).toBe(200);
    const invoice = await created.json();
    expect(sandbox.find("xendit", invoice.id)!.status).toBe("PENDING");
    // Midtrans: a window that started 2 minutes ago and lasted 1 minute.
    const start = new Date(Date.now() - 120_000).toISOString();
    const snap = await fetch(`${app.url}/sandbox/midtrans/snap/v1/transactions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: basic("SB-Mid-server-sandbox"),
      },
      body: JSON.stringify({
        transaction_details: { order_id: "pt-short-lived", gross_amount: 1000 },
        expiry: { start_time: midtransStartTime(start), unit: "minute", duration: 1 },
      }),
    });
    expect(snap.status).toBe(201);
    await new Promise((r) => setTimeout(r, 1100));

    expect(sandbox.find("xendit", invoice.id)!.status).toBe("EXPIRED");
    expect(sandbox.find("midtrans", "pt-short-lived")!.status).toBe("expire");
    for (const gateway of ["xendit", "midtrans"] as const) {
      await expect(sandbox.pay(gateway, "pt-short-lived")).rejects.toThrow(/is (EXPIRED|expire)/);
      const key = gateway === "xendit" ? invoice.id : sandbox.find(gateway, "pt-short-lived")!.id;
      const page = await fetch(`${app.url}/sandbox/checkout/${gateway}/${key}/pay`, {
        method: "POST",
      });
      expect(page.status).toBe(409);
    }
  });

  for (const gateway of ["xendit", "midtrans"] as Gateway[]) {
    it(`${gateway}: the cron expires an overdue attempt, the installment is paid again, a late PAID is recorded`, async () => {
      const { app, key, db } = defaults;
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const first = await startPayment(app, key, invoice.id);
      // Still payable: nothing happens.
      await runExpiryCron(db);
      expect((await getTransaction(app, key, first.id)).status).toBe("pending");

      // Its time passes.
      await db.pool.query(
        "update paytrust_public.payment_transactions set expires_at = now() - interval '1 second' where id = $1",
        [first.id],
      );
      // Its hosted link no longer forwards to the gateway, even before the cron runs.
      const hop = await fetch(first.checkoutUrl, { redirect: "manual" });
      expect(hop.status).toBe(200);
      expect(await hop.text()).toContain("The payment is expired");
      // Until the cron ends it, a second attempt is refused.
      expect((await initiatePayment(app, key, invoice.id)).errors?.[0]?.extensions?.code).toBe(
        "PTLIV",
      );
      await runExpiryCron(db);
      const expired = await getTransaction(app, key, first.id);
      expect(expired.status).toBe("expired");
      expect(expired.iso20022Status).toBe("RJCT");
      expect(expired.iso20022Reason).toBe("DS24");
      expect((await getInvoice(app, key, invoice.id)).status).toBe("expired");
      const { rows: events } = await db.pool.query(
        "select type from paytrust_public.outbound_events where data ->> 'id' = $1",
        [first.id],
      );
      expect(events.map((e) => e.type)).toEqual(["payment.expired"]);
      const { rows: audits } = await db.pool.query(
        `select details from paytrust_public.audit_events
          where action = 'payment.status_change' and subject_id = $1`,
        [first.id],
      );
      expect(audits.map((a) => a.details.to)).toEqual(["expired"]);

      // The installment is free: a new attempt starts.
      const second = await startPayment(app, key, invoice.id);
      expect(second.id).not.toBe(first.id);
      expect(second.status).toBe("pending");

      // The customer still pays the first checkout (its gateway window was longer here):
      // the money is recorded, confirmed by the gateway's status API.
      const paid = await app.runtime.sandbox!.pay(gateway, first.externalId);
      expect(paid.deliveries.every((d) => d.delivered)).toBe(true);
      const done = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      });
      expect(done.amountPaid).toBe(invoice.total);
      expect(done.overpaymentAmount).toBe("0");
      expect(["paid", "settled"]).toContain((await getTransaction(app, key, first.id)).status);

      // The second checkout paid too: all of it is overpayment, never lost.
      await app.runtime.sandbox!.pay(gateway, second.externalId);
      const twice = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.overpaymentAmount !== "0" ? inv : null;
      });
      expect(twice.overpaymentAmount).toBe(invoice.total);
      expect(BigInt(twice.amountPaid)).toBe(2n * BigInt(invoice.total));
    });
  }

  it("expires in bounded batches, skipping attempts not yet due", async () => {
    const { app, key, db } = defaults;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      ids.push((await initiatePayment(app, key, invoice.id)).tx.id);
    }
    const notDue = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const live = (await initiatePayment(app, key, notDue.id)).tx.id;
    await db.pool.query(
      "update paytrust_public.payment_transactions set expires_at = now() - interval '1 minute' where id = any($1)",
      [ids],
    );
    const run = async () =>
      (await db.pool.query("select paytrust_private.expire_overdue_payments(2) as n")).rows[0].n;
    expect(await run()).toBe(2);
    expect(await run()).toBe(1);
    expect(await run()).toBe(0);
    const { rows } = await db.pool.query(
      "select id, status from paytrust_public.payment_transactions where id = any($1)",
      [[...ids, live]],
    );
    const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
    for (const id of ids) expect(status[id]).toBe("expired");
    expect(status[live]).toBe("pending");
  });
});
