/**
 * Missed webhooks: the customer pays (or the checkout expires) but the
 * gateway's callback never arrives. The gateway__reconcile task — a cron job
 * every 2 minutes for attempts pending longer than
 * PAYTRUST_RECONCILE_AFTER_SECONDS — asks the status APIs and feeds the answer
 * through receive_webhook → webhook__process, the webhook path itself. Here the
 * task is queued by hand (graphile_worker.add_job, as the cron does) with an
 * explicit age threshold, and the real worker runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";
import { http, type LoggedApp, startLoggedApp } from "./helpers.ts";

type Gateway = "xendit" | "midtrans";

describe("missed webhooks → reconciliation", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db, { worker: true });
    key = (await createTenant(db.pool, "Quiet gateway shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  /** Queues one reconciliation run and waits until the worker has finished it. */
  async function reconcile(olderThanSeconds: number): Promise<void> {
    await db.pool.query(
      "select graphile_worker.add_job('gateway__reconcile', json_build_object('olderThanSeconds', $1::int))",
      [olderThanSeconds],
    );
    await eventually(async () => {
      const { rows } = await db.pool.query(
        "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'gateway__reconcile' and attempts = 0",
      );
      return rows[0].n === 0;
    }, 20_000);
  }

  async function state(invoiceId: string, txId: string) {
    const { rows } = await db.pool.query(
      `select i.status as invoice_status, i.amount_paid, i.overpayment_amount, t.status as tx_status,
              (select coalesce(jsonb_agg(jsonb_build_object('source', e.source, 'status', e.status) order by e.id), '[]')
                 from paytrust_public.webhook_events e where e.transaction_id = t.id) as events,
              (select count(*)::int from paytrust_public.audit_events a
                where a.action = 'payment.status_change' and a.subject_id = t.id::text) as changes
         from paytrust_public.invoices i join paytrust_public.payment_transactions t on t.invoice_id = i.id
        where i.id = $1 and t.id = $2`,
      [invoiceId, txId],
    );
    return rows[0];
  }

  async function paidWithoutWebhook(gateway: Gateway, currency: string) {
    const invoice = await createInvoice(app, key, { currency, gateway });
    const tx = await startPayment(app, key, invoice.id);
    const paid = await app.runtime.sandbox!.pay(gateway, tx.externalId, { deliver: false });
    // no webhook was sent
    expect(paid.deliveries).toEqual([]);
    return { invoice, tx };
  }

  for (const [gateway, currency] of [
    ["xendit", "IDR"],
    ["xendit", "USD"],
    ["midtrans", "IDR"],
  ] as const) {
    it(`${gateway} ${currency}: a payment whose webhook never came is applied once, through the webhook path`, async () => {
      const { invoice, tx } = await paidWithoutWebhook(gateway, currency);
      expect((await state(invoice.id, tx.id)).tx_status).toBe("pending");

      // Younger than the threshold: not asked about yet.
      await reconcile(3600);
      expect((await state(invoice.id, tx.id)).events).toEqual([]);

      await reconcile(0);
      const done = await eventually(async () => {
        const s = await state(invoice.id, tx.id);
        return s.invoice_status === "paid" ? s : null;
      }, 20_000);
      expect(done.amount_paid).toBe(invoice.total);
      expect(done.overpayment_amount).toBe("0");
      expect(done.events).toEqual([{ source: "reconciliation", status: "processed" }]);
      expect(done.changes).toBe(1);

      // Asking again, and the late webhook finally arriving, change nothing.
      await reconcile(0);
      const webhook = app.runtime.sandbox!.webhookFor(gateway, tx.externalId);
      const late = await http(webhook.url, {
        method: "POST",
        headers: webhook.headers,
        body: webhook.body,
      });
      expect(late.status).toBe(200);
      await eventually(async () => {
        const s = await state(invoice.id, tx.id);
        return s.events.every((e: { status: string }) => e.status !== "received");
      });
      const final = await state(invoice.id, tx.id);
      expect(final.amount_paid).toBe(invoice.total);
      // money and status moved once
      expect(final.changes).toBe(1);
    });
  }

  it("an expiry nobody was told about is reconciled too", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.expire("xendit", tx.externalId, { deliver: false });
    await reconcile(0);
    const done = await eventually(async () => {
      const s = await state(invoice.id, tx.id);
      return s.tx_status === "expired" ? s : null;
    }, 20_000);
    expect(done.invoice_status).toBe("expired");
    expect(done.amount_paid).toBe("0");
  });

  it("one gateway's status API failing does not stop the other; the next run catches up", async () => {
    const sandbox = app.runtime.sandbox!;
    const a = await paidWithoutWebhook("xendit", "MYR");
    const b = await paidWithoutWebhook("midtrans", "IDR");
    sandbox.failNext(1, { status: 503, method: "GET", path: "/midtrans/v2/" });
    await reconcile(0);
    await eventually(
      async () => (await state(a.invoice.id, a.tx.id)).invoice_status === "paid",
      20_000,
    );
    expect((await state(b.invoice.id, b.tx.id)).invoice_status).toBe("pending");
    expect(app.logs.some((l) => l.includes(`Reconciliation of ${b.tx.id} failed`))).toBeTruthy();

    await reconcile(0);
    const done = await eventually(async () => {
      const s = await state(b.invoice.id, b.tx.id);
      return s.invoice_status === "paid" ? s : null;
    }, 20_000);
    expect(done.amount_paid).toBe(b.invoice.total);
  });
});
