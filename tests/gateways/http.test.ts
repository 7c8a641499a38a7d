import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import {
  basicAuth,
  gatewayMessage,
  parseRetryAfter,
  redact,
  requestJson,
} from "../../src/gateways/http.ts";
import { jsonNumber, numberSource, parseJsonExact } from "../../src/gateways/json.ts";
import { GatewayError } from "../../src/gateways/types.ts";

const SECRET = "xnd_production_SUPERSECRET_abcdef";

describe("gateway HTTP helper: pure parts", () => {
  it("parses Retry-After seconds and dates", () => {
    assert.equal(parseRetryAfter("120"), 120_000);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter("soon"), null);
    const now = Date.parse("2025-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now), 30_000);
    assert.equal(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now), 0);
  });

  it("reads both gateways' error shapes", () => {
    assert.equal(
      gatewayMessage({ error_code: "DUPLICATE_ERROR", message: "exists" }),
      "DUPLICATE_ERROR: exists",
    );
    assert.equal(gatewayMessage({ error_messages: ["a", "b"] }), "a; b");
    assert.equal(
      gatewayMessage({ status_code: "404", status_message: "Transaction doesn't exist." }),
      "Transaction doesn't exist.",
    );
    assert.equal(gatewayMessage("nope"), null);
  });

  it("redacts secrets and caps message length", () => {
    assert.equal(redact(`key ${SECRET} leaked`, [SECRET]), "key [redacted] leaked");
    assert.equal(redact("x".repeat(600), []).length, 501);
  });

  it("writes and reads exact JSON numbers", () => {
    assert.equal(
      JSON.stringify({ a: jsonNumber("0.10"), b: jsonNumber("12345678901234567.89") }),
      '{"a":0.10,"b":12345678901234567.89}',
    );
    assert.throws(() => jsonNumber("1e5"), RangeError);
    assert.throws(() => jsonNumber("01"), RangeError);
    const parsed = parseJsonExact(
      '{"amount": 12345678901234567.89, "n": [1, 2.50], "s": "3"}',
    ) as any;
    assert.equal(numberSource(parsed.amount), "12345678901234567.89");
    assert.equal(numberSource(parsed.n[1]), "2.50");
    assert.equal(numberSource(parsed.s), null);
  });
});

describe("gateway HTTP helper over loopback", () => {
  let server: Server;
  let url: string;
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    "/ok": (_req, res) =>
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'),
    // A gateway careless enough to echo the credentials back in its error.
    "/echo-auth": (req, res) => {
      const body = {
        error_code: "FORBIDDEN",
        message: `bad credentials ${req.headers.authorization}`,
      };
      res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify(body));
    },
    "/missing": (_req, res) => res.writeHead(404).end('{"error_code":"NOT_FOUND","message":"no"}'),
    "/down": (_req, res) => res.writeHead(503).end("<html>Service Unavailable</html>"),
    "/limited": (_req, res) =>
      res.writeHead(429, { "retry-after": new Date(Date.now() + 60_000).toUTCString() }).end("{}"),
    "/empty": (_req, res) => res.writeHead(200).end(""),
    "/trickle": (_req, res) => {
      // Headers at once, body never: the timeout must cover the body too.
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"partial":');
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => (routes[req.url ?? ""] ?? routes["/missing"])(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const call = (path: string, extra: { allowStatuses?: number[]; timeoutMs?: number } = {}) =>
    requestJson({
      gateway: "Test",
      method: "GET",
      url: `${url}${path}`,
      authorization: basicAuth(SECRET),
      timeoutMs: extra.timeoutMs ?? 1000,
      allowStatuses: extra.allowStatuses,
      secrets: [SECRET],
    });

  const rejectsWith = async (promise: Promise<unknown>, check: (e: GatewayError) => void) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof GatewayError);
      check(error);
      return true;
    });
  };

  it("returns parsed JSON for 2xx", async () => {
    assert.deepEqual(await call("/ok"), { status: 200, body: { ok: true } });
  });

  it("hands back allowed statuses instead of throwing", async () => {
    const response = await call("/missing", { allowStatuses: [404] });
    assert.equal(response.status, 404);
    assert.deepEqual(response.body, { error_code: "NOT_FOUND", message: "no" });
  });

  it("4xx is permanent, and never repeats the key or the Authorization value", async () => {
    await rejectsWith(call("/echo-auth"), (e) => {
      assert.equal(e.transient, false);
      assert.equal(e.status, 403);
      assert.match(e.message, /FORBIDDEN/);
      assert.ok(!e.message.includes(SECRET));
      assert.ok(!e.message.includes(Buffer.from(`${SECRET}:`).toString("base64")));
    });
  });

  it("5xx with a non-JSON body is transient", async () => {
    await rejectsWith(call("/down"), (e) => {
      assert.equal(e.transient, true);
      assert.equal(e.status, 503);
    });
  });

  it("429 with an HTTP-date Retry-After is transient with retryAfterMs", async () => {
    await rejectsWith(call("/limited"), (e) => {
      assert.equal(e.transient, true);
      assert.ok(e.retryAfterMs !== null && e.retryAfterMs > 50_000 && e.retryAfterMs <= 60_000);
    });
  });

  it("an empty 2xx body is malformed JSON: transient", async () => {
    await rejectsWith(call("/empty"), (e) => assert.equal(e.transient, true));
  });

  it("a body that never finishes times out as transient", async () => {
    const started = Date.now();
    await rejectsWith(call("/trickle", { timeoutMs: 150 }), (e) => {
      assert.equal(e.transient, true);
      assert.match(e.message, /timed out after 150 ms/);
    });
    assert.ok(Date.now() - started < 1000);
  });
});
