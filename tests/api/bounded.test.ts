/**
 * Bounded GraphQL (issue 14.2), through HTTP: every connection pages (100 rows
 * without `first`, `pageInfo.hasNextPage` says there is more), `first`/`last`
 * above 100 are refused with PTQRY, and the cost multiplies through lists, so
 * the finding's nested query over 5 invoices × 300 lines is refused before it
 * runs; aliases and batched documents count too.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { grafast } from "postgraphile/grafast";
import { buildSchema } from "../../src/plugins/schemaExport.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    description: `Line ${i + 1}`,
    quantity: 1,
    unitPrice: "1000",
    taxRate: "0",
  }));

describe("bounded GraphQL", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let bigInvoiceId: string;
  let mediumInvoiceId: string;

  const post = async (body: unknown) => {
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, bytes: text.length, json: JSON.parse(text) };
  };
  const refused = (res: { status: number; json: any }, pattern?: RegExp) => {
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe("PTQRY");
    if (pattern) expect(res.json.errors[0].message).toMatch(pattern);
  };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    key = (await createTenant(db.pool, "Bounded shop")).apiKey;
    const create = async (count: number) => {
      const res = await app.gql(
        `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } } }`,
        {
          input: {
            currency: "IDR",
            gateway: "xendit",
            customerName: "Budi",
            customerEmail: "budi@example.com",
            lineItems: lines(count),
          },
        },
        key,
      );
      expect(res.body.errors).toBe(undefined);
      return res.body.data.createInvoice.invoice.id as string;
    };
    bigInvoiceId = await create(300);
    for (let i = 0; i < 4; i++) await create(300);
    mediumInvoiceId = await create(150);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("the finding's nested query over 5 invoices × 300 lines is refused before it runs", async () => {
    const res = await post({
      query: "{invoices{nodes{lineItems{nodes{invoice{lineItems{nodes{id}}}}}}}}",
    });
    refused(res, /more than 50000 values/);
    expect(res.bytes).toBeLessThan(1000);
  });

  it("the same shape with small pages runs and stays small", async () => {
    const res = await post({
      query:
        "{invoices(first: 5){nodes{lineItems(first: 10){nodes{invoice{lineItems(first: 10){nodes{id}}}}}}}}",
    });
    expect(res.status).toBe(200);
    expect(res.json.errors).toBe(undefined);
    const invoices = res.json.data.invoices.nodes;
    expect(invoices).toHaveLength(5);
    expect(invoices[0].lineItems.nodes).toHaveLength(10);
    expect(invoices[0].lineItems.nodes[0].invoice.lineItems.nodes).toHaveLength(10);
    expect(res.bytes).toBeLessThan(50_000);
  });

  it("without first, a connection returns 100 rows and says there are more", async () => {
    const page = `query($id: UUID!, $after: Cursor) { invoice(id: $id) {
      lineItems(orderBy: POSITION_ASC, after: $after) { nodes { position } pageInfo { hasNextPage endCursor } } } }`;
    const first = await post({ query: page, variables: { id: mediumInvoiceId } });
    expect(first.json.errors).toBe(undefined);
    const connection = first.json.data.invoice.lineItems;
    expect(connection.nodes).toHaveLength(100);
    expect(connection.nodes[0].position).toBe(1);
    expect(connection.pageInfo.hasNextPage).toBe(true);
    const second = await post({
      query: page,
      variables: { id: mediumInvoiceId, after: connection.pageInfo.endCursor },
    });
    expect(second.json.errors).toBe(undefined);
    expect(second.json.data.invoice.lineItems.nodes).toHaveLength(50);
    expect(second.json.data.invoice.lineItems.nodes[0].position).toBe(101);
    expect(second.json.data.invoice.lineItems.pageInfo.hasNextPage).toBe(false);
    // Root connections too; and `last` alone pages from the end.
    const root = await post({
      query: `{ lineItems { nodes { id } pageInfo { hasNextPage } } }`,
    });
    expect(root.json.data.lineItems.nodes).toHaveLength(100);
    expect(root.json.data.lineItems.pageInfo.hasNextPage).toBe(true);
    const last = await post({
      query: `query($id: UUID!) { invoice(id: $id) { lineItems(orderBy: POSITION_ASC, last: 3) { nodes { position } } } }`,
      variables: { id: bigInvoiceId },
    });
    expect(last.json.errors).toBe(undefined);
    expect(last.json.data.invoice.lineItems.nodes.map((n: any) => n.position)).toEqual([
      298, 299, 300,
    ]);
  });

  it("first/last above 100 (or negative) are refused with PTQRY, literal or in variables", async () => {
    refused(await post({ query: "{ invoices(first: 101) { nodes { id } } }" }), /at most 100/);
    refused(await post({ query: "{ lineItems(last: 500) { nodes { id } } }" }), /at most 100/);
    refused(
      await post({
        query: "query($n: Int) { invoices(first: $n) { nodes { id } } }",
        variables: { n: 101 },
      }),
      /at most 100/,
    );
    refused(
      await post({ query: "query($n: Int = 1000) { invoices(first: $n) { nodes { id } } }" }),
      /at most 100/,
    );
    refused(await post({ query: "{ invoices(first: -1) { nodes { id } } }" }), /0 to 100 rows/);
    refused(
      await post({
        query: "query($n: Int) { lineItems(last: $n) { nodes { id } } }",
        variables: { n: -5 },
      }),
      /0 to 100 rows/,
    );
    const ok = await post({
      query: "query($n: Int) { invoices(first: $n) { nodes { id } } }",
      variables: { n: 100 },
    });
    expect(ok.json.errors).toBe(undefined);
    expect(ok.json.data.invoices.nodes).toHaveLength(6);
  });

  it("aliases multiply the cost: one aliased connection runs, many are refused", async () => {
    const one = "lineItems { nodes { id position } }";
    const ok = await post({ query: `{ a0: ${one} a1: ${one} }` });
    expect(ok.json.errors).toBe(undefined);
    expect(ok.json.data.a0.nodes).toHaveLength(100);
    const nested = "invoices { nodes { lineItems { nodes { id } } } }";
    // Each costs 10,202 (100 invoices × 100 lines, plus the lists): four run, five do not.
    const aliased = (n: number) =>
      Array.from({ length: n }, (_, i) => `a${i}: ${nested}`).join(" ");
    const four = await post({ query: `{ ${aliased(4)} }` });
    expect(four.status).toBe(200);
    expect(four.json.errors).toBe(undefined);
    const aliases = aliased(5);
    refused(await post({ query: `{ ${aliases} }` }), /more than 50000 values/);
    // Fragments count every time they are spread.
    refused(
      await post({
        query: `{ ...F ...F2 } fragment F on Query { a: ${nested} } fragment F2 on Query { b: ${nested} c: ${nested} d: ${nested} e: ${nested} }`,
      }),
      /more than 50000 values/,
    );
  });

  it("batched documents count together", async () => {
    const nested = "{ invoices { nodes { lineItems { nodes { id } } } } }";
    // Each document is within budget alone; five in one body are not.
    const res = await post(Array.from({ length: 5 }, () => ({ query: nested })));
    refused(res, /more than 50000 values/);
  });

  it("the plan itself refuses pages above 100 for requests that skip the HTTP check", async () => {
    const built = await buildSchema(db.authUrl);
    try {
      const result: any = await grafast({
        schema: built.schema,
        source: "{ invoices(first: 101) { nodes { id } } }",
        resolvedPreset: built.resolvedPreset,
        requestContext: {},
      });
      expect(result.errors?.[0]?.message).toMatch(/at most 100/);
      expect(result.errors?.[0]?.originalError?.code).toBe("PTQRY");
    } finally {
      await built.release();
    }
  });
});
