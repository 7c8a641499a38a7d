/**
 * Which changes emit which outbound events (written by triggers in the
 * transaction of the change), driven through the API and the sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";

describe("outbound webhooks: events", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let otherKey: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Toko Budi")).apiKey;
    otherKey = (await createTenant(db.pool, "Toko Lain")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  /** The tenant's events about one object, oldest first. */
  const eventsFor = async (objectId: string, apiKey = key) => {
    const res = await app.gql(
      `{ outboundEvents(orderBy: CREATED_AT_ASC) { nodes { id type data createdAt } } }`,
      {},
      apiKey,
    );
    expect(res.body.errors).toBeUndefined();
    return res.body.data.outboundEvents.nodes.filter((e: any) => e.data.id === objectId);
  };
  const typesFor = async (objectId: string) => (await eventsFor(objectId)).map((e: any) => e.type);

  it("lists the event types", async () => {
    const res = await app.gql(`{ webhookEventTypes }`, {}, key);
    expect(res.body.data.webhookEventTypes).toEqual([
      "invoice.paid",
      "invoice.partially_paid",
      "invoice.overpaid",
      "invoice.cancelled",
      "payment.succeeded",
      "payment.failed",
      "payment.expired",
      "refund.succeeded",
      "refund.failed",
    ]);
  });

  it("invoice.cancelled", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    expect(await typesFor(invoice.id)).toEqual([]);
    const res = await app.gql(
      `mutation($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { status } } }`,
      { id: invoice.id },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    const events = await eventsFor(invoice.id);
    expect(events.map((e: any) => e.type)).toEqual(["invoice.cancelled"]);
    expect(events[0].data).toMatchObject({
      object: "invoice",
      status: "cancelled",
      total: invoice.total,
    });
    // Another tenant sees none of it.
    expect(await eventsFor(invoice.id, otherKey)).toEqual([]);
  });

  it("installments: partially_paid, then paid; payment.succeeded for each", async () => {
    const invoice = await createInvoice(app, key, {
      currency: "IDR",
      gateway: "xendit",
      installmentCount: 2,
    });
    const first = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.pay("xendit", first.externalId);
    await eventually(async () => (await typesFor(invoice.id)).includes("invoice.partially_paid"));
    const second = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.pay("xendit", second.externalId);
    await eventually(async () => (await typesFor(invoice.id)).includes("invoice.paid"));
    expect(await typesFor(invoice.id)).toEqual(["invoice.partially_paid", "invoice.paid"]);
    const paid = (await eventsFor(invoice.id)).at(-1);
    expect(paid.data).toMatchObject({ status: "paid", amountPaid: invoice.total });
    expect(await typesFor(first.id)).toEqual(["payment.succeeded"]);
    expect(await typesFor(second.id)).toEqual(["payment.succeeded"]);
  });

  it("invoice.overpaid with invoice.paid when more money arrives than due", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const more = String(BigInt(invoice.total) + 1000n);
    await app.runtime.sandbox!.pay("xendit", tx.externalId, { amountMinor: more });
    await eventually(async () => (await typesFor(invoice.id)).length === 2);
    expect((await typesFor(invoice.id)).sort()).toEqual(["invoice.overpaid", "invoice.paid"]);
    const overpaid = (await eventsFor(invoice.id)).find((e: any) => e.type === "invoice.overpaid");
    expect(overpaid.data.overpaymentAmount).toBe("1000");
  });

  it("payment.expired and payment.failed", async () => {
    const a = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const txA = await startPayment(app, key, a.id);
    await app.runtime.sandbox!.expire("xendit", txA.externalId);
    await eventually(async () => (await typesFor(txA.id)).includes("payment.expired"));
    expect((await eventsFor(txA.id))[0].data).toMatchObject({
      object: "payment_transaction",
      status: "expired",
      invoiceId: a.id,
    });

    const b = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const txB = await startPayment(app, key, b.id);
    await app.runtime.sandbox!.fail("midtrans", txB.externalId);
    await eventually(async () => (await typesFor(txB.id)).includes("payment.failed"));
    expect(await typesFor(txB.id)).toEqual(["payment.failed"]);
    // No invoice event for either: nothing was paid or cancelled.
    expect(await typesFor(a.id)).toEqual([]);
    expect(await typesFor(b.id)).toEqual([]);
  });
});
