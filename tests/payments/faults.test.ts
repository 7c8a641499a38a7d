/**
 * Gateway and processing faults: a failing gateway call retries without a
 * second charge, a dead gateway fails the attempt (and frees the invoice), a
 * failing webhook lands in failedWebhooks and retryWebhook applies it.
 * Retries use graphile-worker's real backoff (~2.7 s after the first failure).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort, startTestApp, type TestApp } from "../helpers/app.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  initiatePayment,
} from "../helpers/payments.ts";

describe("gateway and webhook faults", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, {
      worker: true,
      env: { PAYTRUST_GATEWAY_MAX_ATTEMPTS: "2", PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "2" },
    });
    key = (await createTenant(db.pool, "Faulty shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it("gateway 500 then success: retried, exactly one charge", async () => {
    const sandbox = app.runtime.sandbox!;
    sandbox.failNext(1, { status: 500, method: "POST", path: "/xendit/v2/invoices" });
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    const ready = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.gatewayReference ? t : null;
    }, 20_000);
    expect(ready.status).toBe("pending");
    expect(sandbox.payments("xendit").filter((p) => p.externalId === tx.externalId).length).toBe(1);
  });

  it("a create whose response was lost is found again, not charged twice", async () => {
    const sandbox = app.runtime.sandbox!;
    // The gateway creates the invoice but the answer never arrives (503 after committing).
    sandbox.failNext(1, { status: 503, method: "POST", path: "/xendit/v2/invoices", commit: true });
    const invoice = await createInvoice(app, key, { currency: "MYR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    const ready = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.gatewayReference ? t : null;
    }, 20_000);
    const charges = sandbox.payments("xendit").filter((p) => p.externalId === tx.externalId);
    expect(charges.length).toBe(1);
    expect(ready.gatewayReference).toBe(charges[0].id);
  });

  it("a permanent refusal (400) fails the attempt at once with the gateway's message", async () => {
    const sandbox = app.runtime.sandbox!;
    sandbox.failNext(1, { status: 400, method: "POST", path: "/midtrans/snap/v1/transactions" });
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    const failed = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "failed" ? t : null;
    });
    expect(failed.failureReason).toMatch(/refused/i);
    // The invoice is not locked: a new attempt can start.
    const again = await initiatePayment(app, key, invoice.id);
    expect(again.errors).toBe(undefined);
  });

  it("gateway down: the attempt fails after the configured retries", async () => {
    const deadPort = await freePort();
    const down = await startTestApp(db, {
      worker: true,
      serve: false,
      env: {
        PAYTRUST_GATEWAY_MAX_ATTEMPTS: "2",
        XENDIT_BASE_URL: `http://127.0.0.1:${deadPort}`,
        PAYTRUST_GATEWAY_TIMEOUT_MS: "500",
      },
    });
    try {
      await app.runtime.worker!.stop(); // only the dead-gateway worker picks up jobs now
      const invoice = await createInvoice(app, key, { currency: "USD", gateway: "xendit" });
      const { tx } = await initiatePayment(app, key, invoice.id);
      const failed = await eventually(async () => {
        const t = await getTransaction(app, key, tx.id);
        return t.status === "failed" ? t : null;
      }, 30_000);
      expect(failed.failureReason).toMatch(/after 2 attempts/);
      expect(failed.iso20022Status).toBe("RJCT");
      expect((await getInvoice(app, key, invoice.id)).status).toBe("pending");
    } finally {
      await down.stop();
    }
  });
});

describe("failed webhook processing → failedWebhooks → retryWebhook", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let admin: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true, env: { PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "2" } });
    key = (await createTenant(db.pool, "Retry shop")).apiKey;
    admin = (await createAdminKey(db.pool)).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it("retries, gives up, shows the event to admins, and applies it when retried", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    await eventually(async () => (await getTransaction(app, key, tx.id)).gatewayReference);
    // Fault injection: processing of this transaction's status fails until the trigger is dropped.
    await db.pool.query(`
      create function public.test_fault() returns trigger language plpgsql as
        $$ begin raise exception 'injected processing fault'; end $$;
      create trigger test_fault before update on paytrust_public.payment_transactions
        for each row when (new.status <> old.status) execute procedure public.test_fault();`);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);

    const failedList = await eventually(async () => {
      const res = await app.gql(
        "{ failedWebhooks { nodes { id status attempts lastError retryLog { totalCount } } } }",
        {},
        admin,
      );
      if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
      const nodes = res.body.data?.failedWebhooks?.nodes ?? [];
      return nodes.length ? nodes : null;
    }, 30_000);
    expect(failedList.length).toBe(1);
    expect(failedList[0].attempts).toBe(2);
    // A code and a short message for the tenant-readable row; the raw error only in the worker log.
    expect(failedList[0].lastError).toMatch(/^PTWHE: /);
    expect(app.logs.some((line) => line.includes("injected processing fault"))).toBe(true);
    expect(failedList[0].retryLog.totalCount).toBe(2);
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe("0");

    // Tenants cannot list or retry.
    const tenantTry = await app.gql(
      `mutation { retryWebhook(input: {id: "${failedList[0].id}"}) { webhookEvent { id } } }`,
      {},
      key,
    );
    expect(tenantTry.body.errors).toBeTruthy();

    await db.pool.query(
      "drop trigger test_fault on paytrust_public.payment_transactions; drop function public.test_fault()",
    );
    const retried = await app.gql(
      `mutation { retryWebhook(input: {id: "${failedList[0].id}"}) { webhookEvent { id status } } }`,
      {},
      admin,
    );
    // JSON.stringify(retried.body.errors)
    expect(retried.body.errors).toBe(undefined);
    const paid = await eventually(async () => {
      const inv = await getInvoice(app, key, invoice.id);
      return inv.status === "paid" ? inv : null;
    });
    expect(paid.amountPaid).toBe(invoice.total);
    const audit = await db.pool.query(
      "select action from paytrust_public.audit_events where action in ('webhook.failed', 'webhook.retry') order by id",
    );
    expect(audit.rows.map((r) => r.action)).toEqual(["webhook.failed", "webhook.retry"]);
  });
});
