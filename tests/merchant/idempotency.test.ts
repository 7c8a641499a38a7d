/**
 * Idempotency keys on initiatePayment, refundPayment and
 * createSupplementaryInvoice, through GraphQL (issue 15 item 5), with
 * createInvoice's rules: the same key with the same input returns the same
 * object and creates nothing (no second row, no second gateway call); the same
 * key with other input → PTIDM; two concurrent requests with one key → one
 * object.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  getTransaction,
  TX_FIELDS,
} from "../helpers/payments.ts";

const INITIATE = `mutation($input: InitiatePaymentInput!) {
  initiatePayment(input: $input) { paymentTransaction { ${TX_FIELDS} } } }`;
const REFUND = `mutation($input: RefundPaymentInput!) {
  refundPayment(input: $input) { refund { id status amount reason paymentTransactionId } } }`;
const SUPPLEMENT = `mutation($input: CreateSupplementaryInvoiceInput!) {
  createSupplementaryInvoice(input: $input) { invoice { id number parentInvoiceId total } } }`;
const CREATE = `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } } }`;

const LINES = [{ description: "Ongkir", quantity: 1, unitPrice: "15000", taxRate: "11" }];

describe("idempotency keys on initiatePayment, refundPayment, createSupplementaryInvoice", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Toko Idem")).apiKey;
    otherKey = (await createTenant(db.pool, "Toko Lain")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  /** One mutation: its object (or null) and its first error code (or null). */
  async function call(query: string, field: string, object: string, input: object, apiKey = key) {
    const res = await app.gql(query, { input }, apiKey);
    return {
      object: res.body.data?.[field]?.[object] ?? null,
      code: res.body.errors?.[0]?.extensions?.code ?? null,
      errors: res.body.errors,
    };
  }
  const initiate = (input: object, apiKey = key) =>
    call(INITIATE, "initiatePayment", "paymentTransaction", input, apiKey);
  const refund = (input: object, apiKey = key) =>
    call(REFUND, "refundPayment", "refund", input, apiKey);
  const supplement = (input: object, apiKey = key) =>
    call(SUPPLEMENT, "createSupplementaryInvoice", "invoice", input, apiKey);

  const count = async (sql: string, params: unknown[]) =>
    Number((await db.pool.query(sql, params)).rows[0].n);
  const attempts = (invoiceId: string) =>
    count("select count(*) as n from paytrust_public.payment_transactions where invoice_id = $1", [
      invoiceId,
    ]);
  const jobsFor = (task: string, id: string) =>
    count(
      `select count(*) as n from graphile_worker._private_jobs j
         join graphile_worker._private_tasks t on t.id = j.task_id
        where t.identifier = $1 and j.payload::text like '%' || $2 || '%'`,
      [task, id],
    );
  /** Xendit invoice creations the sandbox answered so far. */
  const gatewayCreates = () =>
    app.runtime
      .sandbox!.apiCalls()
      .filter((c) => c.method === "POST" && /\/v2\/invoices$/.test(c.path)).length;

  async function paid(gateway: "xendit" | "midtrans" = "xendit") {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
    const { object: tx, errors } = await initiate({ invoiceId: invoice.id });
    expect(errors).toBeUndefined();
    const started = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.gatewayCheckoutUrl ? t : null;
    });
    await app.runtime.sandbox!.pay(gateway, started.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
    return { invoice, tx: await getTransaction(app, key, tx.id) };
  }

  describe("initiatePayment", () => {
    it("same key + same input → the same attempt, no second row or gateway call", async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const before = gatewayCreates();
      const first = await initiate({ invoiceId: invoice.id, idempotencyKey: "pay-1" });
      expect(first.errors).toBeUndefined();
      await eventually(
        async () => (await getTransaction(app, key, first.object.id)).gatewayCheckoutUrl,
      );
      // The first call's job is done (none left), so any job now would be the replay's.
      await eventually(
        async () => (await jobsFor("gateway__create_payment", first.object.id)) === 0,
      );
      const again = await initiate({ invoiceId: invoice.id, idempotencyKey: "pay-1" });
      expect(again.errors).toBeUndefined();
      expect(again.object.id).toBe(first.object.id);
      expect(again.object.externalId).toBe(first.object.externalId);
      expect(await attempts(invoice.id)).toBe(1);
      expect(await jobsFor("gateway__create_payment", first.object.id)).toBe(0); // none queued
      await new Promise((r) => setTimeout(r, 300));
      expect(gatewayCreates() - before).toBe(1);

      // Replayed after the payment moved on: still the same attempt, as it is now.
      await app.runtime.sandbox!.pay("xendit", first.object.externalId);
      await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
      const late = await initiate({ invoiceId: invoice.id, idempotencyKey: "pay-1" });
      expect(late.errors).toBeUndefined();
      expect(late.object).toMatchObject({ id: first.object.id, status: "paid" });
      expect(await attempts(invoice.id)).toBe(1);
    });

    it("same key + other input → PTIDM and nothing created", async () => {
      const a = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const b = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      expect((await initiate({ invoiceId: a.id, idempotencyKey: "pay-2" })).errors).toBeUndefined();
      const other = await initiate({ invoiceId: b.id, idempotencyKey: "pay-2" });
      expect(other.code).toBe("PTIDM");
      expect(other.object).toBeNull();
      expect(await attempts(b.id)).toBe(0);
      expect((await getInvoice(app, key, b.id)).paymentInitiatedAt).toBeNull();
      // installmentNumber given explicitly is other input too (inputs compared as given)
      expect(
        (await initiate({ invoiceId: a.id, installmentNumber: 1, idempotencyKey: "pay-2" })).code,
      ).toBe("PTIDM");
      // Keys are per tenant: another tenant's identical key is its own.
      const theirs = await createInvoice(app, otherKey, { currency: "IDR", gateway: "xendit" });
      const own = await initiate({ invoiceId: theirs.id, idempotencyKey: "pay-2" }, otherKey);
      expect(own.errors).toBeUndefined();
    });

    it("two concurrent requests with one key → one attempt", async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      const results = await Promise.all(
        [1, 2, 3].map(() => initiate({ invoiceId: invoice.id, idempotencyKey: "pay-3" })),
      );
      for (const r of results) expect(r.errors).toBeUndefined();
      expect(new Set(results.map((r) => r.object.id)).size).toBe(1);
      expect(await attempts(invoice.id)).toBe(1);
    });

    it("a key that is empty or over 255 characters → PTVAL", async () => {
      const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      expect((await initiate({ invoiceId: invoice.id, idempotencyKey: "" })).code).toBe("PTVAL");
      expect(
        (await initiate({ invoiceId: invoice.id, idempotencyKey: "k".repeat(256) })).code,
      ).toBe("PTVAL");
      expect(await attempts(invoice.id)).toBe(0);
    });
  });

  describe("refundPayment", () => {
    const refunds = (txId: string) =>
      count("select count(*) as n from paytrust_public.refunds where payment_transaction_id = $1", [
        txId,
      ]);
    const atGateway = (externalId: string) =>
      app.runtime.sandbox!.refunds.list().filter((r) => r.paymentExternalId === externalId).length;

    it("same key + same input → the same refund, no second row, job or gateway refund", async () => {
      const { tx } = await paid("xendit");
      const input = {
        paymentTransactionId: tx.id,
        amount: "1000",
        reason: "Late",
        idempotencyKey: "rf-1",
      };
      const first = await refund(input);
      expect(first.errors).toBeUndefined();
      await eventually(async () => atGateway(tx.externalId) === 1);
      // The first call's job is done (none left), so any job now would be the replay's.
      await eventually(async () => (await jobsFor("gateway__refund", first.object.id)) === 0);
      const again = await refund(input);
      expect(again.errors).toBeUndefined();
      expect(again.object.id).toBe(first.object.id);
      expect(await refunds(tx.id)).toBe(1);
      expect(await jobsFor("gateway__refund", first.object.id)).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(atGateway(tx.externalId)).toBe(1);
      expect((await getTransaction(app, key, tx.id)).paidAmount).toBe(tx.paidAmount);
    });

    it("same key + other input → PTIDM, nothing refunded", async () => {
      const { tx } = await paid("midtrans");
      const base = {
        paymentTransactionId: tx.id,
        amount: "1000",
        reason: "Late",
        idempotencyKey: "rf-2",
      };
      expect((await refund(base)).errors).toBeUndefined();
      for (const other of [{ amount: "1001" }, { reason: "Other" }]) {
        const r = await refund({ ...base, ...other });
        expect(r.code).toBe("PTIDM");
        expect(r.object).toBeNull();
      }
      // the key belongs to a refund of another payment: PTIDM too
      const second = await paid("xendit");
      expect((await refund({ ...base, paymentTransactionId: second.tx.id })).code).toBe("PTIDM");
      expect(await refunds(second.tx.id)).toBe(0);
      expect(await refunds(tx.id)).toBe(1);
    });

    it("two concurrent requests with one key → one refund", async () => {
      const { tx } = await paid("xendit");
      const input = {
        paymentTransactionId: tx.id,
        amount: "500",
        reason: "Twice",
        idempotencyKey: "rf-3",
      };
      const results = await Promise.all([1, 2, 3].map(() => refund(input)));
      for (const r of results) expect(r.errors).toBeUndefined();
      expect(new Set(results.map((r) => r.object.id)).size).toBe(1);
      expect(await refunds(tx.id)).toBe(1);
      await eventually(async () => atGateway(tx.externalId) === 1);
      await new Promise((r) => setTimeout(r, 300));
      expect(atGateway(tx.externalId)).toBe(1);
    });
  });

  describe("createSupplementaryInvoice", () => {
    const supplements = (parentId: string) =>
      count("select count(*) as n from paytrust_public.invoices where parent_invoice_id = $1", [
        parentId,
      ]);

    async function initiatedParent() {
      const parent = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
      expect((await initiate({ invoiceId: parent.id })).errors).toBeUndefined();
      return parent;
    }

    it("same key + same input → the same invoice, no second row or number", async () => {
      const parent = await initiatedParent();
      const input = { parentInvoiceId: parent.id, lineItems: LINES, idempotencyKey: "sup-1" };
      const first = await supplement(input);
      expect(first.errors).toBeUndefined();
      expect(first.object.parentInvoiceId).toBe(parent.id);
      const again = await supplement(input);
      expect(again.errors).toBeUndefined();
      expect(again.object).toEqual(first.object);
      expect(await supplements(parent.id)).toBe(1);
      // no invoice number was spent by the replay
      const next = (
        await app.gql(
          CREATE,
          {
            input: {
              currency: "IDR",
              gateway: "xendit",
              customerName: "N",
              customerEmail: "n@example.com",
              lineItems: LINES,
            },
          },
          key,
        )
      ).body.data.createInvoice.invoice;
      const numbers = await db.pool.query(
        "select number from paytrust_public.invoices where id = any($1::uuid[]) order by number",
        [[first.object.id, next.id]],
      );
      expect(Number(numbers.rows[1].number)).toBe(Number(numbers.rows[0].number) + 1);
    });

    it("same key + other input, or a key createInvoice used → PTIDM", async () => {
      const parent = await initiatedParent();
      const input = { parentInvoiceId: parent.id, lineItems: LINES, idempotencyKey: "sup-2" };
      expect((await supplement(input)).errors).toBeUndefined();
      const otherLines = await supplement({
        ...input,
        lineItems: [{ ...LINES[0], quantity: 2 }],
      });
      expect(otherLines.code).toBe("PTIDM");
      expect((await supplement({ ...input, description: "Another" })).code).toBe("PTIDM");
      expect(await supplements(parent.id)).toBe(1);

      // one key space for invoices: createInvoice's key cannot be reused here, nor the reverse
      await createInvoice(app, key, {
        currency: "IDR",
        gateway: "xendit",
        idempotencyKey: "inv-9",
      });
      expect((await supplement({ ...input, idempotencyKey: "inv-9" })).code).toBe("PTIDM");
      const reverse = await app.gql(
        CREATE,
        {
          input: {
            currency: "IDR",
            gateway: "xendit",
            customerName: "N",
            customerEmail: "n@example.com",
            lineItems: LINES,
            idempotencyKey: "sup-2",
          },
        },
        key,
      );
      expect(reverse.body.errors?.[0]?.extensions?.code).toBe("PTIDM");
      expect(await supplements(parent.id)).toBe(1);
    });

    it("two concurrent requests with one key → one invoice", async () => {
      const parent = await initiatedParent();
      const input = { parentInvoiceId: parent.id, lineItems: LINES, idempotencyKey: "sup-3" };
      const results = await Promise.all([1, 2, 3].map(() => supplement(input)));
      for (const r of results) expect(r.errors).toBeUndefined();
      expect(new Set(results.map((r) => r.object.id)).size).toBe(1);
      expect(await supplements(parent.id)).toBe(1);
    });
  });
});
