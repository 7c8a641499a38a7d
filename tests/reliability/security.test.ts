/**
 * The HTTP edge under hostile requests: GraphQL depth, cost and token limits
 * refuse a document before anything executes (400 PTQRY); bodies have a size
 * limit (413 PTSIZE) and malformed ones a clear 4xx; security headers are on
 * every response; and across a full flow with failures, faults and forged
 * webhooks, no secret — API keys, their argon2 hashes, gateway keys, the
 * callback token, Basic credentials, webhook signatures — appears in anything
 * the processes log (runtime log lines, console output, stderr).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { getIntrospectionQuery } from "postgraphile/graphql";
import { inContext } from "../helpers/context.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getTransaction,
  initiatePayment,
  startPayment,
} from "../helpers/payments.ts";
import { http, type LoggedApp, startLoggedApp } from "./helpers.ts";

const nested = (levels: string[], leaf: string) =>
  levels.reduceRight((inner, field) => `${field} { ${inner} }`, leaf);
/**
 * invoices → nodes → lineItems → nodes → invoice → …: `depth` fields deep (the leaf is __typename).
 * Pages of one row, so only depth counts (without `first` each connection counts 100 rows).
 */
function deepQuery(depth: number): string {
  const cycle = ["lineItems(first: 1)", "nodes", "invoice"];
  const levels = ["invoices(first: 1)", "nodes"];
  while (levels.length < depth - 1) levels.push(cycle[(levels.length - 2) % 3]);
  return `{ ${nested(levels, "__typename")} }`;
}

describe("query limits, body limits and security headers", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db);
    key = (await createTenant(db.pool, "Limits shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  const post = (body: string, contentType = "application/json") =>
    http(`${app.url}/graphql`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: `Bearer ${key}` },
      body,
    });
  const query = (q: string) => post(JSON.stringify({ query: q }));
  const refusedAsTooBig = (res: { status: number; json: any }) => {
    // JSON.stringify(res.json)
    expect(res.status).toBe(400);
    expect(res.json.errors[0].extensions.code).toBe("PTQRY");
  };

  it("depth: 10 levels run, 11 are refused", async () => {
    const ok = await query(deepQuery(10));
    // JSON.stringify(ok.json)
    expect(ok.status).toBe(200);
    expect(ok.json.errors).toBe(undefined);
    refusedAsTooBig(await query(deepQuery(11)));
  });

  it("depth hidden in fragments, and fragment cycles, are refused", async () => {
    const viaFragments = `query { ...A }
      fragment A on Query { invoices { nodes { ...B } } }
      fragment B on Invoice { lineItems { nodes { ...C } } }
      fragment C on LineItem { invoice { lineItems { nodes { invoice { lineItems { nodes { id } } } } } } }`;
    refusedAsTooBig(await query(viaFragments));
    const cycle = `query { invoices { nodes { ...B } } }
      fragment B on Invoice { lineItems { nodes { invoice { ...B } } } }`;
    refusedAsTooBig(await query(cycle));
  });

  it("cost: hundreds of aliases, fragment bombs and documents of too many tokens are refused", async () => {
    const aliases = Array.from({ length: 600 }, (_, i) => `a${i}: __typename`).join(" ");
    refusedAsTooBig(await query(`{ ${aliases} }`));
    // Each fragment doubles the one before: 2^25 fields once expanded, refused without expanding.
    const bomb = Array.from(
      { length: 25 },
      (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`,
    ).join("\n");
    refusedAsTooBig(await query(`query { ...F25 } fragment F0 on Query { __typename }\n${bomb}`));
    refusedAsTooBig(await query(`{ ${"__typename ".repeat(12_000)} }`));
    // The same limits for application/graphql bodies.
    refusedAsTooBig(await post(`{ ${aliases} }`, "application/graphql"));
  });

  it("a refused mutation never runs: nothing is created", async () => {
    const before = await db.pool.query("select count(*)::int as n from paytrust_public.invoices");
    const selection = nested(
      [
        "invoice",
        "lineItems",
        "nodes",
        "invoice",
        "lineItems",
        "nodes",
        "invoice",
        "lineItems",
        "nodes",
      ],
      "id",
    );
    const res = await post(
      JSON.stringify({
        query: `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { ${selection} } }`,
        variables: {
          input: {
            currency: "IDR",
            gateway: "xendit",
            customerName: "Deep",
            customerEmail: "deep@example.com",
            lineItems: [{ description: "Item", quantity: 1, unitPrice: "1000", taxRate: "0" }],
          },
        },
      }),
    );
    refusedAsTooBig(res);
    const afterRows = await db.pool.query(
      "select count(*)::int as n from paytrust_public.invoices",
    );
    expect(afterRows.rows[0].n).toBe(before.rows[0].n);
  });

  it("GraphiQL's introspection query stays within the limits", async () => {
    const res = await query(
      getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        inputValueDeprecation: true,
      }),
    );
    expect(res.status).toBe(200);
    expect(res.json.data.__schema.types.length > 10).toBeTruthy();
  });

  it("bodies: over 1 MB → 413, malformed JSON → 400, unknown charset or type → 415, all JSON with a code", async () => {
    const big = JSON.stringify({
      query: "{ __typename }",
      variables: { pad: "x".repeat(1_000_001) },
    });
    const tooLarge = await post(big);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.errors[0].extensions.code).toBe("PTSIZE");
    const graphqlBody = await post(`{ __typename ${" ".repeat(1_000_001)}}`, "application/graphql");
    expect(graphqlBody.status).toBe(413);
    const malformed = await post('{"query": "{ __typename }"');
    expect(malformed.status).toBe(400);
    expect(malformed.json.errors[0].extensions.code).toBe("PTBODY");
    const charset = await post("{}", "application/json; charset=klingon");
    expect(charset.status).toBe(415);
    expect(charset.json.errors[0].extensions.code).toBe("PTBODY");
    const text = await post("{ __typename }", "text/plain");
    expect(text.status).toBe(415);
    expect(Array.isArray(text.json.errors)).toBeTruthy();
  });

  it("security headers on every kind of response", async () => {
    const responses = {
      healthz: await http(`${app.url}/healthz`),
      graphql: await query("{ __typename }"),
      unauthenticated: await http(`${app.url}/graphql`, { method: "POST", body: "{}" }),
      webhook: await http(`${app.url}/webhooks/xendit`, { method: "POST", body: "{}" }),
      checkout: await http(`${app.url}/pay/00000000-0000-4000-8000-000000000000`),
    };
    for (const [name, res] of Object.entries(responses)) {
      const h = res.headers;
      await inContext(name, () => {
        expect(h.get("x-content-type-options")).toBe("nosniff");
        expect(h.get("strict-transport-security") ?? "").toMatch(/max-age=\d+/);
        expect(h.get("x-frame-options")).toBe("SAMEORIGIN");
        expect(h.get("referrer-policy")).toBe("no-referrer");
        expect(h.get("cross-origin-opener-policy")).toBe("same-origin");
        expect(h.get("cross-origin-resource-policy")).toBe("same-origin");
        expect(h.get("x-permitted-cross-domain-policies")).toBe("none");
        expect(h.get("x-powered-by")).toBe(null);
      });
    }
  });
});

describe("no secret in any log", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let worker: LoggedApp;
  const captured: string[] = [];
  const restore: Array<() => void> = [];
  // Distinctive gateway credentials, so a leak cannot hide behind the sandbox defaults.
  const gatewayEnv = {
    XENDIT_SECRET_KEY: `xnd_development_${randomBytes(12).toString("hex")}`,
    XENDIT_CALLBACK_TOKEN: `cbt_${randomBytes(12).toString("hex")}`,
    MIDTRANS_SERVER_KEY: `SB-Mid-server-${randomBytes(12).toString("hex")}`,
    PAYTRUST_GATEWAY_TIMEOUT_MS: "1000",
    PAYTRUST_GATEWAY_MAX_ATTEMPTS: "2",
    PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "2",
  };

  /** Everything written to console.* and stderr while the flow runs (still passed through). */
  function capture(): void {
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => {
        captured.push(
          args
            .map((a) =>
              a instanceof Error
                ? `${a.stack} ${JSON.stringify(a)}`
                : typeof a === "string"
                  ? a
                  : JSON.stringify(a),
            )
            .join(" "),
        );
        original.apply(console, args);
      };
      restore.push(() => {
        console[method] = original;
      });
    }
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: any, ...rest: any[]) => {
      captured.push(String(chunk));
      return write(chunk, ...rest);
    }) as typeof process.stderr.write;
    restore.push(() => {
      process.stderr.write = write;
    });
  }

  beforeAll(async () => {
    capture();
    db = await freshDatabase();
    app = await startLoggedApp(db, { env: gatewayEnv });
    worker = await startLoggedApp(db, {
      serve: false,
      worker: true,
      env: { ...gatewayEnv, ...gatewayUrls(app.url) },
    });
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.stop();
    for (const undo of restore.reverse()) undo();
    await db.drop();
  });

  function gatewayUrls(base: string) {
    return {
      XENDIT_BASE_URL: `${base}/sandbox/xendit`,
      MIDTRANS_SNAP_URL: `${base}/sandbox/midtrans`,
      MIDTRANS_API_URL: `${base}/sandbox/midtrans`,
    };
  }

  it("a full flow with failures, faults, forged webhooks and a wrong gateway key leaks nothing", async () => {
    const sandbox = app.runtime.sandbox!;
    const secrets = new Set<string>(Object.values(gatewayEnv).filter((v) => v.length > 8));
    const tenant = await createTenant(db.pool, "Secretive shop");
    const admin = await createAdminKey(db.pool);
    for (const k of [tenant.apiKey, admin.apiKey]) {
      secrets.add(k);
      secrets.add(k.split("_").pop()!);
    }

    // A key minted over GraphQL: its plaintext is in one response and nowhere else.
    const minted = await app.gql(
      `mutation($t: UUID!) { createApiKey(input: {tenantId: $t, name: "second"}) { plaintextKey } }`,
      { t: tenant.tenantId },
      admin.apiKey,
    );
    const plaintext = minted.body.data.createApiKey.plaintextKey as string;
    secrets.add(plaintext).add(plaintext.split("_").pop()!);

    // Failed authentication: a wrong secret for a real prefix, and garbage.
    const wrong = tenant.apiKey.replace(
      /_[^_]+$/,
      `_${randomBytes(32).toString("base64url").slice(0, 43)}`,
    );
    secrets.add(wrong);
    for (const bad of [wrong, "pt_live_garbage", `${tenant.apiKey}x`]) {
      const res = await app.gql("{ __typename }", {}, bad);
      expect(res.status).toBe(401);
    }

    // Payments on both gateways, with gateway faults on the way.
    sandbox.failNext(1, { status: 500, method: "POST", path: "/xendit/v2/invoices" });
    sandbox.failNext(1, { malformedJson: true, method: "GET", path: "/midtrans/v2/" });
    const payments: Array<{ gateway: "xendit" | "midtrans"; tx: any }> = [];
    for (const gateway of ["xendit", "midtrans"] as const) {
      const invoice = await createInvoice(app, tenant.apiKey, { currency: "IDR", gateway });
      payments.push({ gateway, tx: await startPayment(app, tenant.apiKey, invoice.id) });
    }
    for (const { gateway, tx } of payments)
      await sandbox.pay(gateway, tx.externalId, { duplicates: 1 });
    for (const d of sandbox.deliveries()) {
      const signature = JSON.parse(d.webhook.body).signature_key;
      if (signature) secrets.add(signature);
    }

    // Forged webhooks: wrong tokens and signatures (never to be echoed either).
    const forgedToken = `forged-${randomBytes(16).toString("hex")}`;
    const forgedSignature = randomBytes(64).toString("hex");
    secrets.add(forgedToken).add(forgedSignature);
    const xendit = sandbox.deliveries().find((d) => d.gateway === "xendit")!.webhook;
    const midtrans = sandbox.deliveries().find((d) => d.gateway === "midtrans")!.webhook;
    const forgedX = await http(xendit.url, {
      method: "POST",
      headers: { ...xendit.headers, "x-callback-token": forgedToken },
      body: xendit.body,
    });
    expect(forgedX.status).toBe(401);
    const forgedM = await http(midtrans.url, {
      method: "POST",
      headers: midtrans.headers,
      body: JSON.stringify({ ...JSON.parse(midtrans.body), signature_key: forgedSignature }),
    });
    expect(forgedM.status).toBe(401);
    // A verified callback the worker cannot apply (currency mismatch): it fails and is logged.
    const mismatch = JSON.stringify({
      ...JSON.parse(xendit.body),
      status: "SETTLED",
      currency: "USD",
    });
    await http(xendit.url, {
      method: "POST",
      headers: { ...xendit.headers, "webhook-id": "mismatch-1" },
      body: mismatch,
    });
    await eventually(async () => {
      const { rows } = await db.pool.query(
        "select status from paytrust_public.webhook_events where event_id = 'mismatch-1'",
      );
      return rows[0]?.status === "failed";
    }, 60_000);

    // A masked internal error (grafserv logs it to the console).
    await app.gql(
      `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } } }`,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "a\u0000b",
          customerEmail: "a@b.co",
          lineItems: [],
        },
      },
      tenant.apiKey,
    );

    // A worker configured with a wrong gateway key: the gateway refuses it (401).
    const wrongKey = `xnd_development_${randomBytes(12).toString("hex")}`;
    secrets.add(wrongKey);
    await worker.stop();
    const badWorker = await startLoggedApp(db, {
      serve: false,
      worker: true,
      env: { ...gatewayEnv, ...gatewayUrls(app.url), XENDIT_SECRET_KEY: wrongKey },
    });
    let failedReason = "";
    try {
      const invoice = await createInvoice(app, tenant.apiKey, {
        currency: "MYR",
        gateway: "xendit",
      });
      const { tx } = await initiatePayment(app, tenant.apiKey, invoice.id);
      const failed = await eventually(async () => {
        const t = await getTransaction(app, tenant.apiKey, tx.id);
        return t.status === "failed" ? t : null;
      }, 20_000);
      failedReason = failed.failureReason;
    } finally {
      await badWorker.stop();
    }
    expect(failedReason).toMatch(/HTTP 401/);

    // The stored secrets: argon2 hashes, and the Basic credentials the adapters send.
    const { rows } = await db.pool.query<{ secret_hash: string }>(
      "select secret_hash from paytrust_private.api_keys",
    );
    for (const r of rows) secrets.add(r.secret_hash);
    for (const k of [gatewayEnv.XENDIT_SECRET_KEY, gatewayEnv.MIDTRANS_SERVER_KEY, wrongKey]) {
      secrets.add(Buffer.from(`${k}:`).toString("base64"));
    }

    console.error("capture check: console output is scanned too");
    const everything = [
      ...app.logs,
      ...worker.logs,
      ...badWorker.logs,
      ...captured,
      failedReason,
    ].join("\n");
    expect(everything.includes("capture check: console output is scanned too")).toBeTruthy();
    // forged webhooks were logged
    expect(/"component":"security"[^\n]*"msg":"unverified/.test(everything)).toBeTruthy();
    // the gateway refusal was logged
    expect(/Gateway refused|HTTP 401/.test(everything)).toBeTruthy();
    for (const secret of secrets) {
      // `a secret leaked into the logs: ${secret.slice(0, 12)}…`
      expect(!everything.includes(secret)).toBeTruthy();
    }
  });
});
