/**
 * Crash safety: a worker in a child process is SIGKILLed while it is in the
 * middle of gateway__create_payment (both gateways, the charge request in
 * flight) and of webhook__process (two events blocked on an invoice row lock
 * the test holds). A new worker recovers everything through the sweeper:
 * every payment ends with exactly one gateway charge, every event is applied
 * exactly once, and recovery takes well under a minute.
 *
 * How the sweep is triggered: by the new worker itself — at start-up it
 * queues one sweep, and the sweep re-schedules itself every
 * PAYTRUST_SWEEP_INTERVAL_SECONDS (1 s here); the dead worker's jobs count as
 * stalled after PAYTRUST_SWEEP_STALLED_AFTER_SECONDS (3 s here; 40 s in
 * production). Nothing is called by hand.
 *
 * Two ways a killed worker's webhook statement can end, both covered: the
 * server notices the dead client and rolls the statement back (simulated with
 * pg_terminate_backend: the event stays 'received' and the sweeper re-queues
 * it), or the orphaned statement runs to completion once the lock is released
 * (the event is applied by the dead worker's session; the re-queued job, if
 * any, then finds it processed and does nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, initiatePayment } from "../helpers/payments.ts";
import {
  type ChildWorker,
  childWorkerEnv,
  type LoggedApp,
  sleep,
  startChildWorker,
  startLoggedApp,
} from "./helpers.ts";

/** The dead worker never sweeps its own live jobs; the new one treats 3 s as stalled. */
const FIRST_WORKER = {
  PAYTRUST_SWEEP_STALLED_AFTER_SECONDS: "600",
  PAYTRUST_SWEEP_INTERVAL_SECONDS: "60",
};
const SECOND_WORKER = {
  PAYTRUST_SWEEP_STALLED_AFTER_SECONDS: "3",
  PAYTRUST_SWEEP_INTERVAL_SECONDS: "1",
};

async function txRow(pool: pg.Pool, id: string) {
  const { rows } = await pool.query(
    "select id, external_id, gateway, status, gateway_reference, paid_amount from paytrust_public.payment_transactions where id = $1",
    [id],
  );
  return rows[0];
}

/** Holds a row lock on an invoice, as a long transaction elsewhere would. */
async function lockInvoice(
  pool: pg.Pool,
  invoiceId: string,
): Promise<{ pid: number; release(): Promise<void> }> {
  const client = await pool.connect();
  await client.query("begin");
  await client.query("select 1 from paytrust_public.invoices where id = $1 for update", [
    invoiceId,
  ]);
  const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
  return {
    pid: rows[0].pid,
    async release() {
      await client.query("rollback").catch(() => {});
      client.release();
    },
  };
}

describe("a worker killed mid-job (SIGKILL)", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let key: string;
  let first: ChildWorker | null = null;
  let second: ChildWorker | null = null;

  beforeAll(async () => {
    db = await freshDatabase();
    // The parent serves the API, webhooks and the sandbox gateways; only child processes work jobs.
    app = await startLoggedApp(db, { worker: false });
    key = (await createTenant(db.pool, "Crash shop")).apiKey;
  });
  afterAll(async () => {
    await first?.kill();
    await second?.kill("SIGTERM");
    await app.stop();
    await db.drop();
  });

  it("recovers every job within a minute: one charge per payment, each event applied once", async () => {
    const sandbox = app.runtime.sandbox!;
    const env = childWorkerEnv(db, app.url);
    first = await startChildWorker({ ...env, ...FIRST_WORKER });

    // Two payments whose gateway charge exists, for the webhook half.
    const paidLater: Array<{ invoice: any; tx: any }> = [];
    for (let i = 0; i < 2; i++) {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const { tx } = await initiatePayment(app, key, invoice.id);
      await eventually(async () => (await txRow(db.pool, tx.id)).gateway_reference, 20_000);
      paidLater.push({ invoice, tx });
    }

    // webhook__process: the invoice rows are locked, so apply_webhook_event waits.
    const locks = [
      await lockInvoice(db.pool, paidLater[0].invoice.id),
      await lockInvoice(db.pool, paidLater[1].invoice.id),
    ];
    for (const { tx } of paidLater) {
      const paid = await sandbox.pay("xendit", tx.externalId);
      // the webhook is stored before the kill
      expect(paid.deliveries.every((d) => d.delivered)).toBeTruthy();
    }

    // gateway__create_payment: the charge request takes 5 s, the kill lands inside it.
    sandbox.failNext(1, { delayMs: 5000, method: "POST", path: "/xendit/v2/invoices" });
    sandbox.failNext(1, { delayMs: 5000, method: "POST", path: "/midtrans/snap/v1/transactions" });
    const lookupsBefore = sandbox.apiCalls().filter((c) => c.method === "GET").length;
    const charging: Array<{ invoice: any; tx: any; gateway: "xendit" | "midtrans" }> = [];
    for (const gateway of ["xendit", "midtrans"] as const) {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const { tx, errors } = await initiatePayment(app, key, invoice.id);
      // JSON.stringify(errors)
      expect(errors).toBe(undefined);
      charging.push({ invoice, tx, gateway });
    }

    // Wait until both events are blocked on the locks and both charge requests are in flight.
    await eventually(async () => {
      const { rows } = await db.pool.query(
        `select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query ilike '%apply_webhook_event%'`,
      );
      const lookups = sandbox.apiCalls().filter((c) => c.method === "GET").length - lookupsBefore;
      return rows[0].n === 2 && lookups >= 2;
    }, 20_000);
    await sleep(300);
    for (const { tx, gateway } of charging) {
      // the kill must land before the gateway answers
      expect(sandbox.find(gateway, tx.externalId)).toBe(null);
    }
    await first.kill("SIGKILL");
    const killedAt = Date.now();

    // The server notices one dead client (its statement rolls back); the other statement is orphaned.
    const { rows: orphans } = await db.pool.query<{ pid: number }>(
      `select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid)) and query ilike '%apply_webhook_event%'`,
      [locks[0].pid],
    );
    expect(orphans.length).toBe(1);
    await db.pool.query("select pg_terminate_backend($1)", [orphans[0].pid]);
    for (const lock of locks) await lock.release();

    // The gateway finishes the charges the dead worker asked for: their answers are lost.
    await eventually(
      async () => charging.every(({ tx, gateway }) => sandbox.find(gateway, tx.externalId)),
      10_000,
    );

    second = await startChildWorker({ ...env, ...SECOND_WORKER });
    await eventually(async () => {
      const txs = await Promise.all(charging.map(({ tx }) => txRow(db.pool, tx.id)));
      const { rows } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.webhook_events where transaction_id = any($1) and status = 'processed'",
        [paidLater.map(({ tx }) => tx.id)],
      );
      return txs.every((t) => t.gateway_reference) && rows[0].n === 2;
    }, 60_000);
    const recoverySeconds = (Date.now() - killedAt) / 1000;
    // `recovered in ${recoverySeconds} s`
    expect(recoverySeconds < 60).toBeTruthy();
    console.log(`recovered ${recoverySeconds.toFixed(1)} s after the kill`);
    expect(second.output()).toMatch(/Re-queued \d+ stalled item/);

    // Exactly one gateway charge per payment, and it is the one recorded.
    for (const { tx, gateway } of charging) {
      const charges = sandbox.payments(gateway).filter((p) => p.externalId === tx.externalId);
      // `${gateway}: one charge`
      expect(charges.length).toBe(1);
      const row = await txRow(db.pool, tx.id);
      expect(row.gateway_reference).toBe(gateway === "xendit" ? charges[0].id : charges[0].token);
    }
    // Each event applied exactly once: money once, one status change, one event row.
    for (const { invoice, tx } of paidLater) {
      const { rows } = await db.pool.query(
        "select status, amount_paid, overpayment_amount from paytrust_public.invoices where id = $1",
        [invoice.id],
      );
      expect(rows[0]).toEqual({
        status: "paid",
        amount_paid: invoice.total,
        overpayment_amount: "0",
      });
      const { rows: changes } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.audit_events where action = 'payment.status_change' and subject_id = $1",
        [tx.id],
      );
      // one status change per payment
      expect(changes[0].n).toBe(1);
      const { rows: events } = await db.pool.query(
        "select status from paytrust_public.webhook_events where transaction_id = $1",
        [tx.id],
      );
      expect(events).toEqual([{ status: "processed" }]);
    }
    // The dead worker's jobs stay locked (graphile-worker frees them after 4 hours); when they do
    // run, they must change nothing: either their key moved to a new job and their attempts are
    // used up, or their work is already done (the orphaned statement applied the event).
    const { rows: dead } = await db.pool.query(
      "select key, attempts, max_attempts from graphile_worker.jobs where locked_at is not null and locked_at < $1",
      [new Date(killedAt)],
    );
    // the dead worker's jobs are still locked
    expect(dead.length >= 3).toBeTruthy();
    for (const job of dead) {
      if (job.key === null) {
        expect(job.attempts >= job.max_attempts).toBeTruthy();
      } else {
        expect(job.key).toMatch(/^webhook__process:\d+$/);
        const { rows } = await db.pool.query(
          "select status from paytrust_public.webhook_events where id = $1",
          [job.key.split(":")[1]],
        );
        // `${job.key} would find its work done`
        expect(rows[0]?.status).toBe("processed");
      }
    }

    // The recovered payments work end to end, still one charge each, money applied once.
    for (const { invoice, tx, gateway } of charging) {
      await sandbox.pay(gateway, tx.externalId);
      await eventually(async () => {
        const { rows } = await db.pool.query(
          "select status, amount_paid from paytrust_public.invoices where id = $1",
          [invoice.id],
        );
        return rows[0].status === "paid" && rows[0].amount_paid === invoice.total;
      }, 20_000);
      expect(sandbox.payments(gateway).filter((p) => p.externalId === tx.externalId).length).toBe(
        1,
      );
    }
  });
});
