/**
 * Issue 14.6: permanent errors fail at once. A verified notification whose
 * currency or amount can never apply is failed on its first attempt (no
 * retries for hours) and listed in failedWebhooks with its reason; the sweeper
 * never counts an exhausted job as alive, so what it left is surfaced too.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";

const XENDIT_TOKEN = "sandbox-callback-token";

describe("permanent webhook errors fail at once and are listed", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let admin: string;

  beforeAll(async () => {
    db = await freshDatabase();
    // Ten attempts with graphile-worker's backoff would take hours: failing at once is the point.
    app = await startTestApp(db, { worker: true, env: { PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "10" } });
    key = (await createTenant(db.pool, "Permanent shop")).apiKey;
    admin = (await createAdminKey(db.pool)).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const failedWebhooks = async () => {
    const res = await app.gql(
      "{ failedWebhooks { nodes { id status attempts lastError outcome } } }",
      {},
      admin,
    );
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
    return res.body.data.failedWebhooks.nodes as any[];
  };
  const postXendit = (body: unknown, webhookId: string) =>
    fetch(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-callback-token": XENDIT_TOKEN,
        "webhook-id": webhookId,
      },
      body: JSON.stringify(body),
    });
  const invoiceState = async (invoiceId: string) =>
    (
      await db.pool.query(
        `select i.status, i.amount_paid, (select jsonb_agg(s.paid_amount order by s.number)
           from paytrust_public.installments s where s.invoice_id = i.id) as installments
           from paytrust_public.invoices i where i.id = $1`,
        [invoiceId],
      )
    ).rows[0];

  for (const c of [
    {
      name: "currency mismatch (USD callback for an IDR attempt)",
      change: { currency: "USD" },
      code: "PTCCY",
    },
    {
      name: "amount mismatch (a fraction of a rupiah)",
      change: { paid_amount: 1000.5 },
      code: "PTAMT",
    },
  ]) {
    it(`${c.name}: failed on the first attempt, in failedWebhooks with its reason`, async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const tx = await startPayment(app, key, invoice.id);
      const before = await invoiceState(invoice.id);
      await app.runtime.sandbox!.pay("xendit", tx.externalId, { deliver: false });
      const hook = app.runtime.sandbox!.webhookFor("xendit", tx.externalId);
      const webhookId = `permanent-${c.code}`;
      const res = await postXendit({ ...JSON.parse(hook.body), ...c.change }, webhookId);
      expect(res.status).toBe(200);
      const event = await eventually(async () => {
        const { rows } = await db.pool.query(
          "select id, status, attempts, last_error from paytrust_public.webhook_events where event_id = $1",
          [webhookId],
        );
        return rows[0]?.status === "failed" ? rows[0] : null;
      }, 15_000);
      expect(event.attempts).toBe(1);
      expect(event.last_error.startsWith(`${c.code}: `)).toBe(true);
      // No job left to retry it.
      const { rows: jobs } = await db.pool.query(
        "select 1 from graphile_worker.jobs where key = $1",
        [`webhook__process:${event.id}`],
      );
      expect(jobs.length).toBe(0);
      const listed = (await failedWebhooks()).find((n) => n.id === String(event.id));
      expect(listed).toBeTruthy();
      expect(listed.lastError.startsWith(`${c.code}: `)).toBe(true);
      expect(listed.outcome).toMatch(/^failed: /);
      // Nothing moved.
      expect(await invoiceState(invoice.id)).toEqual(before);
    });
  }

  it("the sweeper never counts an exhausted job as alive: its event is failed and listed", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    // An event whose job used every attempt without recording it (a worker
    // killed during its last attempt): committed together, so no worker runs it.
    const client = await db.pool.connect();
    let eventId: string;
    try {
      await client.query("begin");
      const { rows } = await client.query(
        "select webhook_event_id from paytrust_private.receive_webhook('xendit', 'exhausted-1', $1, $2::jsonb)",
        [
          tx.externalId,
          JSON.stringify({
            id: tx.gatewayReference,
            external_id: tx.externalId,
            status: "PENDING",
          }),
        ],
      );
      eventId = String(rows[0].webhook_event_id);
      const updated = await client.query(
        `update graphile_worker._private_jobs set attempts = max_attempts, last_error = 'killed'
          where key = $1`,
        [`webhook__process:${eventId}`],
      );
      expect(updated.rowCount).toBe(1);
      await client.query(
        "update paytrust_public.webhook_events set received_at = now() - interval '10 minutes' where id = $1",
        [eventId],
      );
      await client.query("commit");
    } finally {
      client.release();
    }
    // A sweep (the task, as the cron runs it).
    await db.pool.query(
      "select graphile_worker.add_job('maintenance__sweep_stalled', json_build_object('stalledAfterSeconds', 1, 'intervalSeconds', 60))",
    );
    const event = await eventually(async () => {
      const { rows } = await db.pool.query(
        "select id, status, last_error from paytrust_public.webhook_events where id = $1",
        [eventId],
      );
      return rows[0]?.status === "failed" ? rows[0] : null;
    }, 20_000);
    expect(event.last_error).toMatch(/^PTWHX: /);
    expect((await failedWebhooks()).some((n) => n.id === eventId)).toBe(true);
    expect(app.logs.some((l) => l.includes("PTWHX"))).toBe(true);
  });

  it("an attempt whose gateway charge job is exhausted is failed, freeing the installment", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    // The charge job exhausted before it reached the gateway.
    const client = await db.pool.connect();
    let txId: string;
    try {
      await client.query("begin");
      const { rows: tenants } = await client.query(
        "select tenant_id from paytrust_public.invoices where id = $1",
        [invoice.id],
      );
      await client.query("select set_config('paytrust.tenant_id', $1, true)", [
        tenants[0].tenant_id,
      ]);
      await client.query("select set_config('paytrust.role', 'tenant', true)");
      const { rows } = await client.query("select id from paytrust_public.initiate_payment($1)", [
        invoice.id,
      ]);
      txId = rows[0].id;
      const updated = await client.query(
        `update graphile_worker._private_jobs set attempts = max_attempts where key = $1`,
        [`gateway__create_payment:${txId}`],
      );
      expect(updated.rowCount).toBe(1);
      await client.query("commit");
    } finally {
      client.release();
    }
    // Older than the sweep's stalledAfterSeconds (created_at is kept by the timestamps trigger).
    await new Promise((r) => setTimeout(r, 1500));
    await db.pool.query(
      "select graphile_worker.add_job('maintenance__sweep_stalled', json_build_object('stalledAfterSeconds', 1, 'intervalSeconds', 60))",
    );
    const tx = await eventually(async () => {
      const { rows } = await db.pool.query(
        "select status, failure_reason from paytrust_public.payment_transactions where id = $1",
        [txId],
      );
      return rows[0]?.status === "failed" ? rows[0] : null;
    }, 20_000);
    expect(tx.failure_reason).toMatch(/^PTWHX: /);
  });

  it("the sweeper re-queues outbound webhook deliveries a dead worker left locked", async () => {
    const tenant = await createTenant(db.pool, "Outbound shop");
    const created = await app.gql(
      `mutation($url: String!, $types: [String!]!) {
         createWebhookEndpoint(input: {url: $url, eventTypes: $types}) { webhookEndpoint { id } } }`,
      { url: "http://127.0.0.1:9/hook", types: ["invoice.paid"] },
      tenant.apiKey,
    );
    expect(created.body.errors).toBe(undefined);
    // An event whose delivery job a dead worker holds (locked 10 minutes ago), committed together.
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("select paytrust_private.emit_event($1, 'invoice.paid', '{}'::jsonb)", [
        tenant.tenantId,
      ]);
      const locked = await client.query(
        `update graphile_worker._private_jobs
            set locked_at = now() - interval '10 minutes', locked_by = 'dead-worker'
          where key like 'webhook__deliver:%'`,
      );
      expect(locked.rowCount).toBe(1);
      await client.query("commit");
    } finally {
      client.release();
    }
    await db.pool.query(
      "select graphile_worker.add_job('maintenance__sweep_stalled', json_build_object('stalledAfterSeconds', 1, 'intervalSeconds', 60))",
    );
    await eventually(
      async () => app.logs.some((l) => /Re-queued 1 stalled outbound webhook/.test(l)),
      20_000,
    );
    // The new job is not the dead worker's: it runs (and records a delivery attempt).
    await eventually(async () => {
      const { rows } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.webhook_deliveries where tenant_id = $1",
        [tenant.tenantId],
      );
      return rows[0].n > 0;
    }, 20_000);
  });
});
