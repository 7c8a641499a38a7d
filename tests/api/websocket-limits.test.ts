/**
 * Documents over websockets (graphql-transport-ws) never pass the HTTP
 * middleware: the same depth, cost and page limits apply to them (PTQRY).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type Client, createClient } from "graphql-ws";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

describe("query limits over websockets", () => {
  let db: TestDatabase;
  let app: TestApp;
  let client: Client;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    const { apiKey } = await createTenant(db.pool, "Socket shop");
    client = createClient({
      url: `${app.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${apiKey}` },
      retryAttempts: 0,
      lazy: true,
    });
  });
  afterAll(async () => {
    await client?.dispose();
    await app?.stop();
    await db?.drop();
  });

  /** Runs one operation; resolves with its result or its errors. */
  const run = (query: string, variables: Record<string, unknown> = {}) =>
    new Promise<{ data?: any; errors?: any[] }>((resolve) => {
      let result: { data?: any; errors?: any[] } = {};
      client.subscribe(
        { query, variables },
        {
          next: (value) => {
            result = value as typeof result;
          },
          error: (error) => resolve({ errors: Array.isArray(error) ? error : [error] }),
          complete: () => resolve(result),
        },
      );
    });

  it("a small query runs", async () => {
    const res = await run("{ invoices(first: 10) { totalCount nodes { id } } }");
    expect(res.errors).toBe(undefined);
    expect(res.data.invoices).toEqual({ totalCount: 0, nodes: [] });
  });

  it("first above 100, the finding's nested query and deep documents are refused", async () => {
    for (const [query, variables, message] of [
      ["{ invoices(first: 101) { nodes { id } } }", {}, /at most 100/],
      ["query($n: Int) { lineItems(last: $n) { nodes { id } } }", { n: 500 }, /at most 100/],
      [
        "{invoices{nodes{lineItems{nodes{invoice{lineItems{nodes{id}}}}}}}}",
        {},
        /more than 50000 values/,
      ],
      [
        "{invoices(first:1){nodes{lineItems(first:1){nodes{invoice{lineItems(first:1){nodes{invoice{lineItems(first:1){nodes{id}}}}}}}}}}}",
        {},
        /deeper than 10/,
      ],
    ] as const) {
      const res = await run(query, variables);
      expect(res.data).toBe(undefined);
      expect(res.errors?.[0]?.extensions?.code).toBe("PTQRY");
      expect(res.errors?.[0]?.message).toMatch(message);
    }
  });
});
