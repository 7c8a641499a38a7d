/**
 * Full payment flows over real HTTP on loopback: GraphQL → worker → sandbox
 * gateway → signed webhook → worker → invoice paid, for both gateways and
 * all three currencies.
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
      expect(tx.status).toBe("pending");
      expect(tx.amount).toBe(invoice.total);
      expect(tx.iso20022Status).toBe("PDNG");
      expect(tx.checkoutUrl).toMatch(/\/pay\//);

      // The hosted link forwards to the gateway's checkout page.
      const hop = await fetch(tx.checkoutUrl, { redirect: "manual" });
      expect(hop.status).toBe(303);
      expect(hop.headers.get("location")).toBe(tx.gatewayCheckoutUrl);

      const paid = await app.runtime.sandbox!.pay(
        c.gateway as "xendit" | "midtrans",
        tx.externalId,
      );
      // JSON.stringify(paid.deliveries)
      expect(paid.deliveries.every((d) => d.delivered)).toBeTruthy();

      const done = await eventually(async () => {
        const inv = await getInvoice(app, key, invoice.id);
        return inv.status === "paid" ? inv : null;
      });
      expect(done.amountPaid).toBe(invoice.total);
      expect(done.overpaymentAmount).toBe("0");
      expect(done.installments.nodes[0].status).toBe("paid");
      const final = await getTransaction(app, key, tx.id);
      expect(["paid", "settled"].includes(final.status)).toBeTruthy();
      expect(["ACSP", "ACSC"].includes(final.iso20022Status)).toBeTruthy();
    });
  }

  it("refuses installment 2 before installment 1 is paid, then allows it", async () => {
    const invoice = await createInvoice(app, key, {
      currency: "IDR",
      gateway: "xendit",
      installmentCount: 3,
    });
    const early = await initiatePayment(app, key, invoice.id, 2);
    expect(early.errors?.[0]?.extensions?.code).toBe("PTSEQ");
    const first = await startPayment(app, key, invoice.id, 1);
    await app.runtime.sandbox!.pay("xendit", first.externalId);
    await eventually(
      async () => (await getInvoice(app, key, invoice.id)).status === "partially_paid",
    );
    const second = await startPayment(app, key, invoice.id); // default: the next unpaid one
    expect(second.installmentNumber).toBe(2);
  });

  it("refuses a second live attempt for the same installment", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    await startPayment(app, key, invoice.id);
    const again = await initiatePayment(app, key, invoice.id);
    expect(again.errors?.[0]?.extensions?.code).toBe("PTLIV");
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
    expect(done.overpaymentAmount).toBe(String(extra));
    expect(done.amountPaid).toBe(String(BigInt(invoice.total) + extra));
    expect(done.installments.nodes[0].paidAmount).toBe(invoice.total);
  });

  it("an expired attempt frees the installment for a new one", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.expire("xendit", tx.externalId);
    const expired = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "expired" ? t : null;
    });
    expect(expired.iso20022Status).toBe("RJCT");
    expect(expired.iso20022Reason).toBe("DS24");
    expect((await getInvoice(app, key, invoice.id)).status).toBe("expired");
    const retry = await startPayment(app, key, invoice.id);
    expect(retry.id).not.toBe(tx.id);
    expect((await getInvoice(app, key, invoice.id)).status).toBe("pending");
  });

  it("a Midtrans deny fails the attempt with RJCT", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "midtrans" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.fail("midtrans", tx.externalId);
    const failed = await eventually(async () => {
      const t = await getTransaction(app, key, tx.id);
      return t.status === "failed" ? t : null;
    });
    expect(failed.iso20022Status).toBe("RJCT");
    expect((await getInvoice(app, key, invoice.id)).amountPaid).toBe("0");
  });

  it("needs at most 3 merchant API calls for a full payment", async () => {
    // 1: createInvoice, 2: initiatePayment (checkoutUrl returned at once), 3: read the invoice.
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    // checkoutUrl is known immediately
    expect(tx.checkoutUrl).toBeTruthy();
    // The customer follows the link (not a merchant call) and pays.
    const target = await eventually(async () => {
      const hop = await fetch(tx.checkoutUrl, { redirect: "manual" });
      return hop.status === 303 ? hop.headers.get("location") : null;
    });
    const page = await fetch(target!);
    expect(await page.text()).toMatch(/id="pay"/);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);
    await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
  });
});
