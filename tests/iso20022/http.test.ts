/**
 * The ISO 20022 documents of real invoices, through GraphQL and REST, with
 * tenant isolation, validated against the official XSDs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, getInvoice, startPayment } from "../helpers/payments.ts";
import { assertSchemaValid, readXml } from "./helpers.ts";

describe("ISO 20022 documents of stored invoices", () => {
  let db: TestDatabase;
  let app: TestApp;
  let a: string;
  let b: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    a = (await createTenant(db.pool, "Toko A & <Sons>")).apiKey;
    b = (await createTenant(db.pool, "Other shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const DOCS = `query($id: UUID!) { invoice(id: $id) {
    p1: paymentInitiationXml p1legacy: paymentInitiationXml(version: "03")
    p2: paymentStatusReportXml p2legacy: paymentStatusReportXml(version: "03") } }`;

  it("renders schema-valid pain.001 and pain.002 through GraphQL, before and after a payment", async () => {
    const invoice = await createInvoice(app, a, {
      currency: "MYR",
      gateway: "xendit",
      customerName: "Siti Nurhaliza 日本 ✓",
      installmentCount: 3,
    });
    const before = await app.gql(DOCS, { id: invoice.id }, a);
    expect(before.body.errors).toBe(undefined);
    const docs1 = before.body.data.invoice;
    expect(docs1.p1.match(/<CdtTrfTxInf>/g) ?? []).toHaveLength(3);
    // One PmtInf per installment due date, each executed on its own date.
    const dates = await app.gql(
      `query($id: UUID!) { invoice(id: $id) {
         installments(orderBy: NUMBER_ASC) { nodes { number dueDate } } } }`,
      { id: invoice.id },
      a,
    );
    const dueDates = dates.body.data.invoice.installments.nodes.map((i: any) => i.dueDate);
    expect(new Set(dueDates).size).toBe(3);
    const pmtInf = readXml(docs1.p1).Document.CstmrCdtTrfInitn.PmtInf;
    expect(pmtInf.map((p: any) => p.ReqdExctnDt.Dt)).toEqual([...dueDates].sort());
    const blocks = readXml(docs1.p2).Document.CstmrPmtStsRpt.OrgnlPmtInfAndSts;
    expect(blocks.map((b: any) => b.OrgnlPmtInfId)).toEqual(pmtInf.map((p: any) => p.PmtInfId));

    const tx = await startPayment(app, a, invoice.id);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);
    await eventually(
      async () => (await getInvoice(app, a, invoice.id)).status === "partially_paid",
    );
    const after = await app.gql(DOCS, { id: invoice.id }, a);
    const docs2 = after.body.data.invoice;
    expect(docs2.p2).toMatch(/<TxSts>ACSP<\/TxSts>/);

    await assertSchemaValid("pain.001.001.09", [
      { name: "p1", xml: docs1.p1 },
      { name: "p1b", xml: docs2.p1 },
    ]);
    await assertSchemaValid("pain.001.001.03", [{ name: "p1legacy", xml: docs2.p1legacy }]);
    await assertSchemaValid("pain.002.001.10", [
      { name: "p2a", xml: docs1.p2 },
      { name: "p2b", xml: docs2.p2 },
    ]);
    await assertSchemaValid("pain.002.001.03", [{ name: "p2legacy", xml: docs2.p2legacy }]);
  });

  it("serves the same documents over REST with the same auth and isolation", async () => {
    const invoice = await createInvoice(app, a, { currency: "IDR", gateway: "midtrans" });
    const gql = await app.gql(DOCS, { id: invoice.id }, a);
    const rest = await fetch(`${app.url}/invoices/${invoice.id}/pain.001.xml`, {
      headers: { authorization: `Bearer ${a}` },
    });
    expect(rest.status).toBe(200);
    expect(rest.headers.get("content-type") ?? "").toMatch(/application\/xml/);
    expect(await rest.text()).toBe(gql.body.data.invoice.p1);
    const legacy = await fetch(`${app.url}/invoices/${invoice.id}/pain.002.xml?version=03`, {
      headers: { authorization: `Bearer ${a}` },
    });
    expect(await legacy.text()).toBe(gql.body.data.invoice.p2legacy);

    const other = await fetch(`${app.url}/invoices/${invoice.id}/pain.001.xml`, {
      headers: { authorization: `Bearer ${b}` },
    });
    expect(other.status).toBe(404);
    const anonymous = await fetch(`${app.url}/invoices/${invoice.id}/pain.001.xml`);
    expect(anonymous.status).toBe(401);
    const badVersion = await fetch(`${app.url}/invoices/${invoice.id}/pain.001.xml?version=99`, {
      headers: { authorization: `Bearer ${a}` },
    });
    expect(badVersion.status).toBe(400);
    const gqlOther = await app.gql(DOCS, { id: invoice.id }, b);
    expect(gqlOther.body.data.invoice).toBe(null);
  });

  it("refuses an unknown version in GraphQL with PTVAL", async () => {
    const invoice = await createInvoice(app, a, { currency: "USD", gateway: "xendit" });
    const res = await app.gql(
      `query($id: UUID!) { invoice(id: $id) { paymentInitiationXml(version: "42") } }`,
      { id: invoice.id },
      a,
    );
    expect(res.body.errors[0].extensions.code).toBe("PTVAL");
  });
});
