/**
 * Structured logs (issue 16.7), through HTTP against a real app: every line is
 * JSON; each request gets exactly one access line (method, route template,
 * status, duration, request id); a sane incoming x-request-id is honoured and
 * echoed back, otherwise a UUID is generated; lines logged while a request is
 * handled carry its id; no line holds an API key, its secret, a webhook token
 * or signature, or a database password.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { parseApiKey } from "../../src/auth/apiKeys.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  AUTHENTICATOR_PASSWORD,
  createTenant,
  freshDatabase,
  type TestDatabase,
} from "../helpers/db.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CALLBACK_TOKEN = "xendit-callback-token-for-logs-test-7Qz";
const MIDTRANS_SIGNATURE = "f".repeat(64) + "c0ffee".repeat(10);

let db: TestDatabase;
let app: TestApp;
let apiKey: string;

beforeAll(async () => {
  db = await freshDatabase();
  ({ apiKey } = await createTenant(db.pool, "Logs Ltd"));
  app = await startTestApp(db, { env: { XENDIT_CALLBACK_TOKEN: CALLBACK_TOKEN } });
});

afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

type Entry = Record<string, any>;

const entries = (): Entry[] => app.logs.map((line) => JSON.parse(line));
const accessLines = (requestId: string) =>
  entries().filter((e) => e.kind === "access" && e.requestId === requestId);

/** The access line of a request appears when its response is finished: wait briefly for it. */
async function accessLineOf(requestId: string): Promise<Entry[]> {
  for (let i = 0; i < 50 && accessLines(requestId).length === 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  // Give a second line (there must be none) the chance to appear.
  await new Promise((r) => setTimeout(r, 50));
  return accessLines(requestId);
}

function expectAccessLine(
  lines: Entry[],
  expected: { method: string; route: string; status: number },
) {
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line).toMatchObject(expected);
  expect(typeof line.durationMs).toBe("number");
  expect(line.durationMs).toBeGreaterThanOrEqual(0);
  expect(typeof line.time).toBe("number");
  expect(line.level).toBe(30);
}

describe("structured logs through HTTP", () => {
  it("a GraphQL request with x-request-id: the id is echoed, one access line carries it", async () => {
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${apiKey}`,
        "x-request-id": "abc-123",
      },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
    });
    expect(res.status).toBe(200);
    expect((await res.json()).data.currentTenantId).toEqual(expect.any(String));
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    expectAccessLine(await accessLineOf("abc-123"), {
      method: "POST",
      route: "/graphql",
      status: 200,
    });
  });

  it("a request without an id (or with an unsafe one) gets a generated UUID", async () => {
    const res = await fetch(`${app.url}/healthz?token=do-not-log-me`);
    expect(res.status).toBe(200);
    const id = res.headers.get("x-request-id") ?? "";
    expect(id).toMatch(UUID);
    expectAccessLine(await accessLineOf(id), { method: "GET", route: "/healthz", status: 200 });

    for (const unsafe of ["has space", "x".repeat(129), 'quote"', "semi;colon"]) {
      const r = await fetch(`${app.url}/healthz`, { headers: { "x-request-id": unsafe } });
      expect(r.headers.get("x-request-id")).toMatch(UUID);
    }
    expect(app.logs.join("\n")).not.toContain("do-not-log-me");
  });

  it("a 404 is logged with the route template, never the raw URL", async () => {
    const res = await fetch(`${app.url}/no/such/path?secret=hidden-value`, {
      headers: { "x-request-id": "req.404_x" },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe("req.404_x");
    expectAccessLine(await accessLineOf("req.404_x"), {
      method: "GET",
      route: "unmatched",
      status: 404,
    });
    expect(app.logs.join("\n")).not.toMatch(/no\/such\/path|hidden-value/);

    const pay = await fetch(`${app.url}/pay/00000000-0000-4000-8000-000000000001`, {
      headers: { "x-request-id": "pay-1" },
    });
    const [line] = await accessLineOf("pay-1");
    expect(line).toMatchObject({ route: "/pay/:id", status: pay.status });
  });

  it("webhooks: one access line each, the security line carries the request id, no token or signature", async () => {
    const xendit = await fetch(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-callback-token": CALLBACK_TOKEN,
        "x-request-id": "wh-xendit",
      },
      body: JSON.stringify({ id: "evt-1", external_id: "no-such-invoice", status: "PAID" }),
    });
    expect(xendit.headers.get("x-request-id")).toBe("wh-xendit");
    const [xLine] = await accessLineOf("wh-xendit");
    expect(xLine).toMatchObject({
      method: "POST",
      route: "/webhooks/xendit",
      status: xendit.status,
    });

    const midtrans = await fetch(`${app.url}/webhooks/midtrans`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "wh-midtrans" },
      body: JSON.stringify({
        order_id: "order-1",
        status_code: "200",
        gross_amount: "1000.00",
        transaction_status: "settlement",
        signature_key: MIDTRANS_SIGNATURE,
      }),
    });
    expect(midtrans.status).toBe(401);
    expectAccessLine(await accessLineOf("wh-midtrans"), {
      method: "POST",
      route: "/webhooks/midtrans",
      status: 401,
    });
    // The refusal is logged while the request runs (after its body was parsed): same id.
    const security = entries().filter((e) => e.requestId === "wh-midtrans" && e.kind !== "access");
    expect(security.map((e) => e.msg)).toEqual([
      expect.stringMatching(/unverified midtrans webhook/),
    ]);
    expect(security[0]).toMatchObject({ component: "security", level: 40 });
  });

  it("a refused key is one 401 access line", async () => {
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${apiKey.slice(0, -4)}AAAA`,
        "x-request-id": "bad-key",
      },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
    });
    expect(res.status).toBe(401);
    expectAccessLine(await accessLineOf("bad-key"), {
      method: "POST",
      route: "/graphql",
      status: 401,
    });
  });

  it("every line is JSON and no line holds a secret", () => {
    expect(app.logs.length).toBeGreaterThan(0);
    for (const line of app.logs) expect(() => JSON.parse(line)).not.toThrow();
    const text = app.logs.join("\n");
    const secret = parseApiKey(apiKey)?.secret ?? "";
    expect(secret.length).toBeGreaterThan(20);
    for (const value of [
      apiKey,
      secret,
      CALLBACK_TOKEN,
      MIDTRANS_SIGNATURE,
      AUTHENTICATOR_PASSWORD,
      ...[db.ownerUrl, db.rootUrl].map((url) => decodeURIComponent(new URL(url).password)),
    ].filter((v) => v !== "")) {
      expect(text).not.toContain(value);
    }
    // Every request so far: exactly one access line per request id.
    const counts = new Map<string, number>();
    for (const e of entries())
      if (e.kind === "access") counts.set(e.requestId, (counts.get(e.requestId) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });
});
