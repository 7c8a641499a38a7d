/**
 * Issue 14 item 4: cancelPayment(input: {paymentTransactionId}) ends a pending
 * attempt in SQL (tenant-scoped, audited), frees its installment, and cancels
 * it at the gateway (Xendit expire-invoice, Midtrans cancel) through the
 * gateway__cancel_payment job. Paid attempts are refused (PTSTS), another
 * tenant's attempt is not found (PTNFD), cancelling twice is harmless.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  initiatePayment,
  startPayment,
  TX_FIELDS,
} from "../helpers/payments.ts";

type Gateway = "xendit" | "midtrans";

describe("cancelPayment", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Cancelling shop")).apiKey;
    otherKey = (await createTenant(db.pool, "Other shop")).apiKey;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  async function cancel(id: string, apiKey = key) {
    const res = await app.gql(
      `mutation($id: UUID!) { cancelPayment(input: {paymentTransactionId: $id}) {
         paymentTransaction { ${TX_FIELDS} expiresAt } } }`,
      { id },
      apiKey,
    );
    return {
      tx: res.body.data?.cancelPayment?.paymentTransaction ?? null,
      errors: res.body.errors as any[] | undefined,
    };
  }

  async function cancelAudits(id: string) {
    const { rows } = await db.pool.query(
      "select tenant_id, api_key_id, details from paytrust_public.audit_events where action = 'payment.cancel' and subject_id = $1",
      [id],
    );
    return rows;
  }

  const cancelledAtGateway: Record<Gateway, string> = { xendit: "EXPIRED", midtrans: "cancel" };

  for (const gateway of ["xendit", "midtrans"] as Gateway[]) {
    it(`${gateway}: a pending attempt is cancelled in PayTrust and at the gateway, then paid anew`, async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const first = await startPayment(app, key, invoice.id);
      const sandbox = app.runtime.sandbox!;

      const { tx, errors } = await cancel(first.id);
      expect(errors).toBe(undefined);
      expect(tx.id).toBe(first.id);
      expect(tx.status).toBe("cancelled");
      expect(tx.iso20022Status).toBe("RJCT");
      expect(tx.iso20022Reason).toBe("CUST");
      // At the gateway too, through the job.
      await eventually(
        async () => sandbox.find(gateway, first.externalId)?.status === cancelledAtGateway[gateway],
      );
      const expectedCall =
        gateway === "xendit" ? /\/xendit\/invoices\/.+\/expire!$/ : /\/midtrans\/v2\/.+\/cancel$/;
      expect(
        sandbox
          .apiCalls()
          .some((c) => c.method === "POST" && expectedCall.test(c.path) && c.status === 200),
      ).toBe(true);
      // The customer can no longer pay that checkout.
      await expect(sandbox.pay(gateway, first.externalId)).rejects.toThrow();

      // Twice: harmless, the same attempt, one audit row.
      const again = await cancel(first.id);
      expect(again.errors).toBe(undefined);
      expect(again.tx.status).toBe("cancelled");
      const audits = await cancelAudits(first.id);
      expect(audits.length).toBe(1);
      expect(audits[0].details).toMatchObject({
        from: "pending",
        to: "cancelled",
        invoice_id: invoice.id,
      });
      expect(audits[0].api_key_id).not.toBe(null);

      // The installment is free: a new attempt, paid, pays the invoice.
      const second = await startPayment(app, key, invoice.id);
      expect(second.id).not.toBe(first.id);
      await sandbox.pay(gateway, second.externalId);
      const paid = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      });
      expect(paid.amountPaid).toBe(invoice.total);
      expect(paid.overpaymentAmount).toBe("0");
      expect((await getTransaction(app, key, first.id)).status).toBe("cancelled");
    });

    it(`${gateway}: a paid attempt is refused with PTSTS and stays paid`, async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const tx = await startPayment(app, key, invoice.id);
      await app.runtime.sandbox!.pay(gateway, tx.externalId);
      await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
      const { tx: none, errors } = await cancel(tx.id);
      expect(none).toBe(null);
      expect(errors?.[0]?.extensions?.code).toBe("PTSTS");
      expect(["paid", "settled"]).toContain((await getTransaction(app, key, tx.id)).status);
      expect(await cancelAudits(tx.id)).toEqual([]);
    });
  }

  for (const gateway of ["xendit", "midtrans"] as Gateway[]) {
    it(`${gateway}: money the gateway still takes after the cancel is recorded, never dropped`, async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
      const tx = await startPayment(app, key, invoice.id);
      expect((await cancel(tx.id)).tx.status).toBe("cancelled");
      const sandbox = app.runtime.sandbox!;
      await eventually(
        async () => sandbox.find(gateway, tx.externalId)?.status === cancelledAtGateway[gateway],
      );
      // The customer's payment went through anyway (a gateway race): PAID arrives, confirmed.
      const paid = await sandbox.pay(gateway, tx.externalId, { force: true });
      expect(paid.deliveries.every((d) => d.delivered)).toBe(true);
      const done = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      });
      expect(done.amountPaid).toBe(invoice.total);
      expect(["paid", "settled"]).toContain((await getTransaction(app, key, tx.id)).status);
    });
  }

  it("another tenant's attempt is not found (PTNFD) and is left pending", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const { errors } = await cancel(tx.id, otherKey);
    expect(errors?.[0]?.extensions?.code).toBe("PTNFD");
    const unknown = await cancel("00000000-0000-4000-8000-000000000000");
    expect(unknown.errors?.[0]?.extensions?.code).toBe("PTNFD");
    expect((await getTransaction(app, key, tx.id)).status).toBe("pending");
    expect(await cancelAudits(tx.id)).toEqual([]);
    // tidy: the owner can still cancel it
    expect((await cancel(tx.id)).tx.status).toBe("cancelled");
  });

  it("an attempt cancelled before its gateway charge exists is never charged", async () => {
    // The worker of this app is busy elsewhere: initiate and cancel in one go, then let it run.
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const { rows } = await db.pool.query(
      `select t.id, t.external_id from paytrust_public.payment_transactions t where t.invoice_id = $1`,
      [invoice.id],
    );
    expect(rows).toEqual([]);
    // Both mutations in one document: one transaction each, no time for the worker in between.
    const res = await app.gql(
      `mutation($id: UUID!) { initiatePayment(input: {invoiceId: $id}) { paymentTransaction { id externalId } } }`,
      { id: invoice.id },
      key,
    );
    const started = res.body.data.initiatePayment.paymentTransaction;
    const cancelled = await cancel(started.id);
    expect(cancelled.errors).toBe(undefined);
    // Whatever the race, the attempt ends with no open checkout at the gateway.
    await eventually(async () => {
      const { rows: jobs } = await db.pool.query(
        "select count(*)::int as n from graphile_worker.jobs where key in ($1, $2)",
        [`gateway__create_payment:${started.id}`, `gateway__cancel_payment:${started.id}`],
      );
      return jobs[0].n === 0;
    });
    const charged = app.runtime.sandbox!.find("xendit", started.externalId);
    expect(charged === null || charged.status === "EXPIRED").toBe(true);
    expect((await getTransaction(app, key, started.id)).status).toBe("cancelled");
    // And the installment is free.
    const next = await initiatePayment(app, key, invoice.id);
    expect(next.errors).toBe(undefined);
    expect(next.tx.status).toBe("pending");
  });
});
