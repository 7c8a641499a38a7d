/**
 * Full payment flows over real HTTP on loopback: GraphQL → worker → sandbox
 * gateway → signed webhook → worker → invoice paid, for both gateways and
 * all three currencies.
 */
import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
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

describe("payment flows through the sandbox gateways", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Toko Budi")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const cases = [
    { gateway: "xendit", currency: "IDR", unitPrice: "145000" },
    { gateway: "midtrans", currency: "IDR", unitPrice: "145000" },
    { gateway: "xendit", currency: "MYR", unitPrice: "12345" },
    { gateway: "xendit", currency: "USD", unitPrice: "999" },
  ];
  for (const c of cases) {
    it(`${c.gateway} ${c.currency}: create → initiate → pay → invoice paid`, async () => {
      const invoice = await createInvoice(app, key, {
        currency: c.currency,
        gateway: c.gateway,
        lineItems: [{ description: "Item", quantity: 3, unitPrice: c.unitPrice, taxRate: "11" }],
      });
      const tx = await startPayment(app, key, invoice.id);
      assert.equal(tx.status, "pending");
      assert.equal(tx.amount, invoice.total);
      assert.equal(tx.iso20022Status, "PDNG");
      assert.match(tx.checkoutUrl, /\/pay\//);

      // The hosted link forwards to the gateway's checkout page.
      const hop = await fetch(tx.checkoutUrl, { redirect: "manual" });
      assert.equal(hop.status, 303);
      assert.equal(hop.headers.get("location"), tx.gatewayCheckoutUrl);

      const paid = await app.runtime.sandbox!.pay(
        c.gateway as "xendit" | "midtrans",
        tx.externalId,
      );
      assert.ok(
        paid.deliveries.every((d) => d.delivered),
        JSON.stringify(paid.deliveries),
      );

      const done = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      });
      assert.equal(done.amountPaid, invoice.total);
      assert.equal(done.overpaymentAmount, "0");
      assert.equal(done.installments.nodes[0].status, "paid");
      const final = await getTransaction(app, key, tx.id);
      assert.ok(["paid", "settled"].includes(final.status));
      assert.ok(["ACSP", "ACSC"].includes(final.iso20022Status));
    });
  }

  it("refuses installment 2 before installment 1 is paid, then allows it", async () => {
    const invoice = await createInvoice(app, key, {
      currency: "IDR",
      gateway: "xendit",
      installmentCount: 3,
    });
    const early = await initiatePayment(app, key, invoice.id, 2);
    assert.equal(early.errors?.[0]?.extensions?.code, "PTSEQ");
    const first = await startPayment(app, key, invoice.id, 1);
    await app.runtime.sandbox!.pay("xendit", first.externalId);
    await eventually(
      async () => (await getInvoice(app, key, invoice.id)).status === "partially_paid",
    );
    const second = await startPayment(app, key, invoice.id); // default: the next unpaid one
    assert.equal(second.installmentNumber, 2);
  });

  it("refuses a second live attempt for the same installment", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    await startPayment(app, key, invoice.id);
    const again = await initiatePayment(app, key, invoice.id);
    assert.equal(again.errors?.[0]?.extensions?.code, "PTLIV");
  });

  it("records an overpayment instead of losing it", async () => {
    const invoice = await createInvoice(app, key, { currency: "USD", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    const extra = 1234n;
    await app.runtime.sandbox!.pay("xendit", tx.externalId, {
      amountMinor: String(BigInt(invoice.total) + extra),
    });
    const done = await eventually(async () => {
      const inv = await getInvoice(app, key, invoice.id);
      return inv.status === "paid" ? inv : null;
    });
    assert.equal(done.overpaymentAmount, String(extra));
    assert.equal(done.amountPaid, String(BigInt(invoice.total) + extra));
    assert.equal(done.installments.nodes[0].paidAmount, invoice.total);
  });

  it("an expired attempt frees the installment for a new one", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.expire("xendit", tx.externalId);
    const expired = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "expired" ? t : null;
    });
    assert.equal(expired.iso20022Status, "RJCT");
    assert.equal(expired.iso20022Reason, "DS24");
    assert.equal((await getInvoice(app, key, invoice.id)).status, "expired");
    const retry = await startPayment(app, key, invoice.id);
    assert.notEqual(retry.id, tx.id);
    assert.equal((await getInvoice(app, key, invoice.id)).status, "pending");
  });

  it("a Midtrans deny fails the attempt with RJCT", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.fail("midtrans", tx.externalId);
    const failed = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "failed" ? t : null;
    });
    assert.equal(failed.iso20022Status, "RJCT");
    assert.equal((await getInvoice(app, key, invoice.id)).amountPaid, "0");
  });

  it("needs at most 3 merchant API calls for a full payment", async () => {
    // 1: createInvoice, 2: initiatePayment (checkoutUrl returned at once), 3: read the invoice.
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    assert.ok(tx.checkoutUrl, "checkoutUrl is known immediately");
    // The customer follows the link (not a merchant call) and pays.
    const target = await eventually(async () => {
      const hop = await fetch(tx.checkoutUrl, { redirect: "manual" });
      return hop.status === 303 ? hop.headers.get("location") : null;
    });
    const page = await fetch(target!);
    assert.match(await page.text(), /id="pay"/);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
  });
});
