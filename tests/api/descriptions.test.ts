/**
 * Documented fields (issue 16.2): the types a merchant reads most carry
 * descriptions (from `comment on` in the migrations, or from the plugin that
 * adds the field) on at least 95 % of their fields; money fields say they are
 * minor units of the currency. The failure message lists what is undocumented.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const TYPES = ["Invoice", "LineItem", "Installment", "PaymentTransaction", "Tenant"];
const THRESHOLD = 0.95;

const TYPE_QUERY = `query ($name: String!) {
  __type(name: $name) {
    name
    description
    fields { name description type { name kind ofType { name kind ofType { name } } } }
  }
}`;

interface Field {
  name: string;
  description: string | null;
  type: { name: string | null; kind: string; ofType: { name: string | null } | null };
}

let db: TestDatabase;
let app: TestApp;
let apiKey: string;
const types = new Map<string, { description: string | null; fields: Field[] }>();

beforeAll(async () => {
  db = await freshDatabase();
  app = await startTestApp(db);
  ({ apiKey } = await createTenant(db.pool, "Descriptions"));
  for (const name of TYPES) {
    const { body } = await app.gql(TYPE_QUERY, { name }, apiKey);
    expect(body.errors).toBeUndefined();
    expect(body.data.__type).not.toBeNull();
    types.set(name, body.data.__type);
  }
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

const documented = (f: { description: string | null }) => (f.description ?? "").trim() !== "";

describe("GraphQL descriptions", () => {
  it(`at least ${THRESHOLD * 100} % of the fields of ${TYPES.join(", ")} are documented`, () => {
    const missing: string[] = [];
    let total = 0;
    for (const [name, type] of types) {
      total += type.fields.length;
      for (const field of type.fields)
        if (!documented(field)) missing.push(`${name}.${field.name}`);
    }
    const ratio = (total - missing.length) / total;
    const message =
      `${total - missing.length} of ${total} fields documented (${(ratio * 100).toFixed(1)} %); ` +
      `undocumented: ${missing.join(", ") || "none"}. Add a \`comment on column/function\` in the ` +
      "current migration (or a description in the plugin that adds the field).";
    expect({ ratio: ratio >= THRESHOLD, message }).toEqual({ ratio: true, message });
  });

  it("each of the five types has a description", () => {
    const undocumented = TYPES.filter((name) => !documented(types.get(name)!));
    expect(undocumented).toEqual([]);
  });

  it("money fields of Invoice, LineItem, Installment and PaymentTransaction say minor units", () => {
    const money: Record<string, string[]> = {
      Invoice: ["subtotal", "taxTotal", "serviceFee", "total", "amountPaid", "overpaymentAmount"],
      LineItem: ["unitPrice", "lineAmount", "taxAmount"],
      Installment: ["principal", "taxAmount", "feeAmount", "total", "paidAmount"],
      PaymentTransaction: ["amount", "paidAmount"],
    };
    const wrong: string[] = [];
    for (const [typeName, fieldNames] of Object.entries(money)) {
      const fields = types.get(typeName)!.fields;
      for (const fieldName of fieldNames) {
        const field = fields.find((f) => f.name === fieldName);
        if (!field) wrong.push(`${typeName}.${fieldName} (missing)`);
        else if (!/minor units/i.test(field.description ?? ""))
          wrong.push(`${typeName}.${fieldName}: ${JSON.stringify(field.description)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("mutation arguments are documented (@argNdescription), e.g. createInvoice's input", async () => {
    const { body } = await app.gql(
      `{ __type(name: "CreateInvoiceInput") { inputFields { name description } } }`,
      {},
      apiKey,
    );
    const fields: Array<{ name: string; description: string | null }> =
      body.data.__type.inputFields;
    const missing = fields
      .filter((f) => f.name !== "clientMutationId" && !documented(f))
      .map((f) => f.name);
    expect(missing).toEqual([]);
  });

  it("query function arguments are documented too, e.g. financialReport(from, to, currency)", async () => {
    const { body } = await app.gql(
      `{ __schema { queryType { fields { name args { name description } } } } }`,
      {},
      apiKey,
    );
    const report = body.data.__schema.queryType.fields.find(
      (f: { name: string }) => f.name === "financialReport",
    );
    const undocumented = report.args
      .filter((a: { name: string; description: string | null }) =>
        ["from", "to", "currency"].includes(a.name) ? !documented(a) : false,
      )
      .map((a: { name: string }) => a.name);
    expect(undocumented).toEqual([]);
  });
});
