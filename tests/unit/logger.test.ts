/**
 * src/logger.ts without a server: redaction by field (pino `redact`) and in
 * text (scrubText, applied to every serialised line), the request-id
 * sanitiser, the request context on lines, the graphile (@graphile/logger)
 * adapter, the pretty formatter, and PAYTRUST_LOG_LEVEL / _FORMAT validation.
 */
import { describe, expect, it } from "@jest/globals";
import { Logger as WorkerLogger } from "graphile-worker";
import { GraphQLError } from "postgraphile/graphql";
import { ConfigError, loadConfig } from "../../src/config.ts";
import {
  censorSecrets,
  createLogger,
  formatPretty,
  graphileLogFactory,
  isPretty,
  lineLog,
  lineSink,
  REDACT_PATHS,
  REDACTED,
  requestContext,
  requestIdFor,
  sanitizeRequestId,
  scrubText,
} from "../../src/logger.ts";
import { makeMaskError } from "../../src/plugins/maskError.ts";
import { routeTemplateOf } from "../../src/requestLog.ts";

const API_KEY = `pt_live_abcdefghij12_${"S".repeat(43)}`;

function capture(level: "info" | "debug" = "info") {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    format: "json",
    destination: lineSink((l) => lines.push(l)),
  });
  return { logger, lines, entries: () => lines.map((l) => JSON.parse(l)) };
}

describe("redaction", () => {
  it("configures pino redact paths for headers, tokens, secrets, keys, passwords, connection strings", () => {
    for (const path of [
      "authorization",
      "req.headers.authorization",
      "req.headers.cookie",
      'req.headers["set-cookie"]',
      'req.headers["x-callback-token"]',
      "headers.authorization",
      "token",
      "secret",
      "apiKey",
      "password",
      "connectionString",
      "databaseUrl",
      "DATABASE_URL",
      "signature_key",
    ])
      expect(REDACT_PATHS).toContain(path);
    // Deeper fields, any case: censorSecrets (formatters.log), copying only what changes.
    const kept = { a: { b: 1 } };
    expect(censorSecrets(kept)).toBe(kept);
    expect(
      censorSecrets({ a: [{ Authorization: "x" }], b: { c: { d: { PASSWORD: "p", ok: 1 } } } }),
    ).toEqual({ a: [{ Authorization: REDACTED }], b: { c: { d: { PASSWORD: REDACTED, ok: 1 } } } });
  });

  it("replaces those fields' values on a line, at the top level, one level down and in headers", () => {
    const { logger, entries } = capture();
    logger.info(
      {
        password: "hunter2",
        apiKey: API_KEY,
        DATABASE_URL: "postgres://owner:pw@db/paytrust",
        gateway: { secretKey: "xnd_live_x", callbackToken: "cbt", amount: 10 },
        req: { headers: { authorization: "Bearer abc", cookie: "s=1", "x-callback-token": "t" } },
        headers: { "set-cookie": "sid=2", accept: "*/*" },
        token: "tok",
        job: { id: "1", payload: { secret: "whsec", apiKey: API_KEY, invoiceId: "i1" } },
        kept: "visible",
      },
      "hello",
    );
    const [entry] = entries();
    expect(entry).toMatchObject({
      password: REDACTED,
      apiKey: REDACTED,
      DATABASE_URL: REDACTED,
      gateway: { secretKey: REDACTED, callbackToken: REDACTED, amount: 10 },
      req: { headers: { authorization: REDACTED, cookie: REDACTED, "x-callback-token": REDACTED } },
      headers: { "set-cookie": REDACTED, accept: "*/*" },
      token: REDACTED,
      job: { id: "1", payload: { secret: REDACTED, apiKey: REDACTED, invoiceId: "i1" } },
      kept: "visible",
      msg: "hello",
    });
  });

  it("scrubs keys, bearer tokens and URL passwords from messages and error stacks", () => {
    const { logger, lines } = capture();
    logger.warn(`key ${API_KEY} used`);
    logger.error(
      {
        err: new Error("connect postgres://paytrust:s3cr3t-pw@db:5432/x failed; password=other-pw"),
      },
      "Authorization: Bearer live-token-123",
    );
    const text = lines.join("\n");
    for (const secret of ["S".repeat(43), "s3cr3t-pw", "other-pw", "live-token-123"])
      expect(text).not.toContain(secret);
    expect(text).toContain(`pt_live_abcdefghij12_${REDACTED}`);
    expect(text).toContain(`postgres://paytrust:${REDACTED}@db:5432/x`);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("scrubText leaves ordinary text alone", () => {
    const text = "Re-queued 3 stalled item(s) at https://example.com/pay/1 by user@example.com";
    expect(scrubText(text)).toBe(text);
    expect(scrubText("redis://:pw@cache:6379")).toBe(`redis://:${REDACTED}@cache:6379`);
    expect(scrubText("GET /x?token=abc&page=2")).toBe(`GET /x?token=${REDACTED}&page=2`);
  });
});

describe("request ids", () => {
  it("accepts sane tokens of at most 128 characters of [A-Za-z0-9._-]", () => {
    for (const ok of ["abc-123", "A.b_c-9", "x".repeat(128), "0"])
      expect(sanitizeRequestId(ok)).toBe(ok);
    expect(sanitizeRequestId(["first-1", "second"])).toBe("first-1");
  });

  it("refuses anything else", () => {
    for (const bad of [
      "",
      "x".repeat(129),
      "has space",
      "new\nline",
      'quo"te',
      "semi;colon",
      "ünïcode",
      "a/b",
      "{json}",
      undefined,
      null,
      42,
      [],
    ])
      expect(sanitizeRequestId(bad)).toBeNull();
  });

  it("generates a UUID when the incoming one is missing or unsafe", () => {
    expect(requestIdFor("abc-123")).toBe("abc-123");
    const generated = requestIdFor("bad id");
    expect(generated).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(requestIdFor(undefined)).not.toBe(generated);
  });

  it("lines logged inside a request context carry its id", async () => {
    const { logger, entries } = capture();
    await requestContext.run({ requestId: "ctx-1" }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      logger.child({ component: "x" }).info("inside");
    });
    logger.info("outside");
    expect(entries().map((e) => [e.msg, e.requestId])).toEqual([
      ["inside", "ctx-1"],
      ["outside", undefined],
    ]);
  });

  it("route templates, never raw paths or query strings", () => {
    expect(routeTemplateOf("/pay/abc?x=1")).toBe("/pay/:id");
    expect(routeTemplateOf("/graphql?token=x")).toBe("/graphql");
    expect(routeTemplateOf("/invoices/123/pain.001.xml")).toBe("/invoices/:id/pain.001.xml");
    expect(routeTemplateOf("/anything/else")).toBe("unmatched");
  });
});

describe("adapters", () => {
  it("graphile-worker's Logger: levels mapped, scope and meta as fields", () => {
    const { logger, entries } = capture("debug");
    const worker = new WorkerLogger(graphileLogFactory(logger, "worker"));
    worker.scope({ workerId: "w1", taskIdentifier: "t", jobId: "7" }).warn("slow", { ms: 5 });
    worker.error("failed");
    worker.debug("detail");
    expect(entries()).toEqual([
      expect.objectContaining({
        level: 40,
        component: "worker",
        workerId: "w1",
        taskIdentifier: "t",
        jobId: "7",
        ms: 5,
        msg: "slow",
      }),
      expect.objectContaining({ level: 50, component: "worker", msg: "failed" }),
      expect.objectContaining({ level: 20, msg: "detail" }),
    ]);
  });

  it("free-text lines: [tag] becomes the component, failures are warnings", () => {
    const { logger, entries } = capture();
    const log = lineLog(logger, "http");
    log("[security] unverified xendit webhook from 1.2.3.4 refused");
    log("Rate limits: Redis is back");
    expect(entries()).toEqual([
      expect.objectContaining({
        component: "security",
        level: 40,
        msg: "unverified xendit webhook from 1.2.3.4 refused",
      }),
      expect.objectContaining({ component: "http", level: 30, msg: "Rate limits: Redis is back" }),
    ]);
  });

  it("masked GraphQL errors are logged with the request id and the error id the client sees", () => {
    const { logger, entries } = capture();
    const mask = makeMaskError(logger);
    const masked = requestContext.run({ requestId: "gql-1" }, () =>
      mask(new GraphQLError("boom", { originalError: new Error("internal detail") })),
    );
    expect(masked.message).toMatch(
      /^An error occurred \(logged with hash: '[0-9a-f]{40}', id: '[0-9a-f]+'\)$/,
    );
    const [entry] = entries();
    expect(entry).toMatchObject({
      level: 50,
      component: "graphql",
      requestId: "gql-1",
      errorId: masked.extensions.errorId,
      msg: "Masked GraphQL error",
      err: { message: "internal detail" },
    });
    // Project codes pass through and are not logged as failures.
    const coded = Object.assign(new Error("Invoice not found"), { code: "PTNFD" });
    expect(mask(new GraphQLError("x", { originalError: coded })).extensions.code).toBe("PTNFD");
    expect(entries()).toHaveLength(1);
  });

  it("pretty lines only when asked or on a terminal", () => {
    expect(isPretty("auto", { write() {}, isTTY: true })).toBe(true);
    expect(isPretty("auto", { write() {} })).toBe(false);
    expect(isPretty("json", { write() {}, isTTY: true })).toBe(false);
    expect(isPretty("pretty", { write() {} })).toBe(true);
    const line = formatPretty(
      JSON.stringify({ level: 40, time: 0, component: "worker", msg: "slow", jobId: "7" }),
    );
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[worker\] slow jobId=7\n$/);
    const lines: string[] = [];
    createLogger({
      format: "auto",
      destination: { write: (s) => lines.push(s), isTTY: true },
    }).info({ apiKey: "k" }, "hi");
    expect(lines.join("")).toMatch(/INFO.* hi apiKey=\[Redacted\]\n$/);
  });
});

describe("configuration", () => {
  it("PAYTRUST_LOG_LEVEL and PAYTRUST_LOG_FORMAT: defaults, values, PTENV on bad values", () => {
    const base = { NODE_ENV: "test" };
    expect(loadConfig(base)).toMatchObject({ logLevel: "info", logFormat: "auto" });
    expect(
      loadConfig({ ...base, PAYTRUST_LOG_LEVEL: "debug", PAYTRUST_LOG_FORMAT: "json" }),
    ).toMatchObject({ logLevel: "debug", logFormat: "json" });
    for (const env of [{ PAYTRUST_LOG_LEVEL: "verbose" }, { PAYTRUST_LOG_FORMAT: "xml" }]) {
      expect(() => loadConfig({ ...base, ...env })).toThrow(ConfigError);
      try {
        loadConfig({ ...base, ...env });
      } catch (error: any) {
        expect(error.code).toBe("PTENV");
        expect(error.message).toMatch(Object.keys(env)[0]);
      }
    }
  });
});
