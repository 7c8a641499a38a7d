/**
 * Issue 14 item 4: reconciliation walks every pending attempt over time, not
 * the same oldest batch. transactions_to_reconcile keeps a cursor
 * (paytrust_private.reconcile_cursor) in (created_at, id) order and wraps
 * around; here batches of 3 over 7 pending attempts, through the real
 * gateway__reconcile task and the sandbox's status API.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";

describe("reconciliation covers every pending attempt", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  const attempts: { id: string; externalId: string }[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Many checkouts")).apiKey;
    for (let i = 0; i < 7; i++) {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const tx = await startPayment(app, key, invoice.id);
      attempts.push({ id: tx.id, externalId: tx.externalId });
    }
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  /** Queues one run (as the cron does, with a small batch) and waits until the worker finished it. */
  async function reconcile(batchSize: number): Promise<void> {
    await db.pool.query(
      "select graphile_worker.add_job('gateway__reconcile', json_build_object('olderThanSeconds', 0, 'batchSize', $1::int))",
      [batchSize],
    );
    await eventually(async () => {
      const { rows } = await db.pool.query(
        "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'gateway__reconcile'",
      );
      return rows[0].n === 0;
    }, 20_000);
  }

  /** Attempts the status API was asked about: each answer is stored once as a reconciliation event. */
  async function visited(): Promise<Set<string>> {
    const { rows } = await db.pool.query(
      "select distinct transaction_id::text as id from paytrust_public.webhook_events where source = 'reconciliation'",
    );
    return new Set(rows.map((r) => r.id));
  }

  it("successive runs of 3 visit all 7, then wrap around to the oldest", async () => {
    const ids = attempts.map((a) => a.id);
    await reconcile(3);
    const afterOne = await visited();
    expect(afterOne.size).toBe(3);
    await reconcile(3);
    const afterTwo = await visited();
    expect(afterTwo.size).toBe(6);
    // Not the same oldest batch again.
    for (const id of afterOne) expect(afterTwo.has(id)).toBe(true);
    await reconcile(3);
    expect([...(await visited())].sort()).toEqual([...ids].sort());

    // The cursor is past the wrap: the next run continues with the 3rd oldest.
    const { rows } = await db.pool.query(
      `select (select count(*)::int from paytrust_public.payment_transactions t
                where t.status = 'pending' and (t.created_at, t.id) <= (c.last_created_at, c.last_id)) as behind
         from paytrust_private.reconcile_cursor c`,
    );
    expect(rows[0].behind).toBe(2);

    // Everything they said was applied (still PENDING at the gateway: nothing moved).
    await eventually(async () => {
      const { rows: open } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.webhook_events where status = 'received'",
      );
      return open[0].n === 0;
    });
    const { rows: pending } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.payment_transactions where status = 'pending'",
    );
    expect(pending[0].n).toBe(7);
  });

  it("an attempt paid without a webhook is found whatever its age rank", async () => {
    // The newest attempt: with the old fixed "oldest 100" it would wait behind all others.
    const newest = attempts[attempts.length - 1];
    await app.runtime.sandbox!.pay("xendit", newest.externalId, { deliver: false });
    for (let run = 0; run < 3; run++) await reconcile(3);
    const tx = await eventually(async () => {
      const { rows } = await db.pool.query(
        "select status from paytrust_public.payment_transactions where id = $1",
        [newest.id],
      );
      return ["paid", "settled"].includes(rows[0].status) ? rows[0] : null;
    }, 20_000);
    expect(["paid", "settled"]).toContain(tx.status);
  });

  it("SQL: the batch is bounded and never returns one attempt twice in a run", async () => {
    const { rows } = await db.pool.query(
      "select id from paytrust_private.transactions_to_reconcile(interval '0 seconds', 1000)",
    );
    const ids = rows.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(6); // the paid one is no longer pending
    const { rows: one } = await db.pool.query(
      "select id from paytrust_private.transactions_to_reconcile(interval '0 seconds', 1)",
    );
    expect(one.length).toBe(1);
  });
});
