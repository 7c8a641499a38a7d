/**
 * GraphiQL a newcomer can use (issue 16.4): in development the schema is
 * introspected without a key (documents that only introspect), anything else
 * still needs one (401); GraphiQL's page says how to add the Authorization
 * header; PAYTRUST_INTROSPECTION turns introspection off (the production
 * default) or on.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { getIntrospectionQuery } from "postgraphile/graphql";
import { loadConfig } from "../../src/config.ts";
import { GRAPHIQL_QUERY, isIntrospectionOnly } from "../../src/plugins/introspection.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const introspection = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true });

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

describe("introspection-only documents", () => {
  it("are recognised, and nothing else is", () => {
    expect(isIntrospectionOnly(introspection)).toBe(true);
    expect(isIntrospectionOnly("{ __typename __schema { queryType { name } } }")).toBe(true);
    // `{ __typename }` alone is a key probe, not introspection.
    expect(isIntrospectionOnly("{ __typename }")).toBe(false);
    expect(isIntrospectionOnly(`{ __type(name: "Invoice") { fields { name } } }`)).toBe(true);
    expect(
      isIntrospectionOnly("query { ...F } fragment F on Query { __schema { types { name } } }"),
    ).toBe(true);
    expect(isIntrospectionOnly("{ __typename invoices { nodes { id } } }")).toBe(false);
    expect(isIntrospectionOnly("{ ... on Query { invoices { totalCount } } }")).toBe(false);
    expect(isIntrospectionOnly("mutation { __typename }")).toBe(false);
    expect(isIntrospectionOnly("query A { __typename } query B { invoices { totalCount } }")).toBe(
      false,
    );
    expect(isIntrospectionOnly("query { ...F } fragment F on Query { ...F }")).toBe(false);
    expect(isIntrospectionOnly("{ not valid")).toBe(false);
    expect(isIntrospectionOnly(42)).toBe(false);
    // A fragment bomb (2^25 spreads once expanded) is judged without expanding it.
    const bomb = Array.from(
      { length: 25 },
      (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`,
    ).join("\n");
    const started = Date.now();
    expect(
      isIntrospectionOnly(
        `{ ...F25 } fragment F0 on Query { __schema { queryType { name } } }\n${bomb}`,
      ),
    ).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("PAYTRUST_INTROSPECTION: on by default in development, off in production unless set", () => {
    expect(loadConfig({ NODE_ENV: "development" }).introspection).toBe(true);
    expect(
      loadConfig({ NODE_ENV: "development", PAYTRUST_INTROSPECTION: "false" }).introspection,
    ).toBe(false);
    const production = { NODE_ENV: "production", PAYTRUST_GATEWAY_MODE: "sandbox" };
    expect(loadConfig(production).introspection).toBe(false);
    expect(loadConfig({ ...production, PAYTRUST_INTROSPECTION: "true" }).introspection).toBe(true);
    expect(() => loadConfig({ ...production, PAYTRUST_INTROSPECTION: "maybe" })).toThrow(
      /PAYTRUST_INTROSPECTION/,
    );
  });
});

describe("GraphiQL and introspection in development", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    key = (await createTenant(db.pool, "Newcomer shop")).apiKey;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("the schema is introspected without a key (and with GraphiQL's placeholder header)", async () => {
    const anonymous = await post(app.url, { query: introspection });
    expect(anonymous.status).toBe(200);
    expect(anonymous.json.errors).toBe(undefined);
    const names = anonymous.json.data.__schema.types.map((t: any) => t.name);
    expect(names).toEqual(expect.arrayContaining(["Invoice", "LineItem", "Query", "Mutation"]));
    const placeholder = await post(
      app.url,
      { query: `{ __type(name: "Invoice") { fields { name } } }` },
      { authorization: "Bearer YOUR_API_KEY" },
    );
    expect(placeholder.status).toBe(200);
    expect(placeholder.json.data.__type.fields.map((f: any) => f.name)).toContain("total");
  });

  it("anything else still needs a key: 401", async () => {
    for (const query of [
      "{ invoices { nodes { id } } }",
      "{ __typename invoices { totalCount } }",
      "query { ...F } fragment F on Query { currentTenantId }",
      "mutation { __typename }",
      "{ __typename }",
    ]) {
      const res = await post(app.url, { query });
      expect(res.status).toBe(401);
      expect(res.json.errors[0].extensions.code).toBe("PTAUTH");
    }
    const batch = await post(app.url, [
      { query: "{ __typename }" },
      { query: "{ invoices { totalCount } }" },
    ]);
    expect(batch.status).toBe(401);
    const wrongKey = await post(
      app.url,
      { query: "{ currentTenantId }" },
      { authorization: "Bearer YOUR_API_KEY" },
    );
    expect(wrongKey.status).toBe(401);
  });

  it("GraphiQL's page explains the Authorization header, and its first query runs with a key", async () => {
    const page = await fetch(`${app.url}/graphiql`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Authorization");
    expect(html).toContain("YOUR_API_KEY");
    expect(html).toContain("create-tenant");
    const res = await post(app.url, { query: GRAPHIQL_QUERY }, { authorization: `Bearer ${key}` });
    expect(res.status).toBe(200);
    expect(res.json.errors).toBe(undefined);
    expect(res.json.data.invoices.nodes).toEqual([]);
  });
});

describe("PAYTRUST_INTROSPECTION=false", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: { PAYTRUST_INTROSPECTION: "false" } });
    key = (await createTenant(db.pool, "Closed shop")).apiKey;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("introspection needs a key and is refused even with one; data queries still work", async () => {
    const anonymous = await post(app.url, { query: introspection });
    expect(anonymous.status).toBe(401);
    const keyed = await post(app.url, { query: introspection }, { authorization: `Bearer ${key}` });
    expect(keyed.json.data).toBe(undefined);
    expect(keyed.json.errors[0].extensions.code).toBe("PTQRY");
    expect(keyed.json.errors[0].message).toMatch(/PAYTRUST_INTROSPECTION/);
    const data = await post(
      app.url,
      { query: "{ __typename invoices { totalCount } }" },
      { authorization: `Bearer ${key}` },
    );
    expect(data.json.errors).toBe(undefined);
    expect(data.json.data).toEqual({ __typename: "Query", invoices: { totalCount: 0 } });
  });
});
