import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
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
    expect(parseRetryAfter("120")).toBe(120_000);
    expect(parseRetryAfter(null)).toBe(null);
    expect(parseRetryAfter("soon")).toBe(null);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
  });

  it("reads both gateways' error shapes", () => {
    expect(gatewayMessage({ error_code: "DUPLICATE_ERROR", message: "exists" })).toBe(
      "DUPLICATE_ERROR: exists",
    );
    expect(gatewayMessage({ error_messages: ["a", "b"] })).toBe("a; b");
    expect(
      gatewayMessage({ status_code: "404", status_message: "Transaction doesn't exist." }),
    ).toBe("Transaction doesn't exist.");
    expect(gatewayMessage("nope")).toBe(null);
  });

  it("redacts secrets and caps message length", () => {
    expect(redact(`key ${SECRET} leaked`, [SECRET])).toBe("key [redacted] leaked");
    expect(redact("x".repeat(600), []).length).toBe(501);
  });

  it("writes and reads exact JSON numbers", () => {
    expect(JSON.stringify({ a: jsonNumber("0.10"), b: jsonNumber("12345678901234567.89") })).toBe(
      '{"a":0.10,"b":12345678901234567.89}',
    );
    expect(() => jsonNumber("1e5")).toThrow(RangeError);
    expect(() => jsonNumber("01")).toThrow(RangeError);
    const parsed = parseJsonExact(
      '{"amount": 12345678901234567.89, "n": [1, 2.50], "s": "3"}',
    ) as any;
    expect(numberSource(parsed.amount)).toBe("12345678901234567.89");
    expect(numberSource(parsed.n[1])).toBe("2.50");
    expect(numberSource(parsed.s)).toBe(null);
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
      expect(error instanceof GatewayError).toBeTruthy();
      check(error as GatewayError);
      return true;
    });
  };

  it("returns parsed JSON for 2xx", async () => {
    expect(await call("/ok")).toEqual({ status: 200, body: { ok: true } });
  });

  it("hands back allowed statuses instead of throwing", async () => {
    const response = await call("/missing", { allowStatuses: [404] });
    expect(response.status).toBe(404);
    expect(response.body).toEqual({ error_code: "NOT_FOUND", message: "no" });
  });

  it("4xx is permanent, and never repeats the key or the Authorization value", async () => {
    await rejectsWith(call("/echo-auth"), (e) => {
      expect(e.transient).toBe(false);
      expect(e.status).toBe(403);
      expect(e.message).toMatch(/FORBIDDEN/);
      expect(!e.message.includes(SECRET)).toBeTruthy();
      expect(!e.message.includes(Buffer.from(`${SECRET}:`).toString("base64"))).toBeTruthy();
    });
  });

  it("5xx with a non-JSON body is transient", async () => {
    await rejectsWith(call("/down"), (e) => {
      expect(e.transient).toBe(true);
      expect(e.status).toBe(503);
    });
  });

  it("429 with an HTTP-date Retry-After is transient with retryAfterMs", async () => {
    await rejectsWith(call("/limited"), (e) => {
      expect(e.transient).toBe(true);
      expect(
        e.retryAfterMs !== null && e.retryAfterMs > 50_000 && e.retryAfterMs <= 60_000,
      ).toBeTruthy();
    });
  });

  it("an empty 2xx body is malformed JSON: transient", async () => {
    await rejectsWith(call("/empty"), (e) => expect(e.transient).toBe(true));
  });

  it("a body that never finishes times out as transient", async () => {
    const started = Date.now();
    await rejectsWith(call("/trickle", { timeoutMs: 150 }), (e) => {
      expect(e.transient).toBe(true);
      expect(e.message).toMatch(/timed out after 150 ms/);
    });
    expect(Date.now() - started < 1000).toBeTruthy();
  });
});
