/**
 * Issue 14 item 3: the public pages (/pay/:id, /readyz, sandbox pages) have
 * their own per-IP limit, `PAYTRUST_TRUST_PROXY` decides whose address that
 * is, and a flood of public requests holds at most PAYTRUST_PUBLIC_DB_CONCURRENCY
 * database connections, so webhooks and the worker keep theirs.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

const get = async (url: string, ip?: string) => {
  const res = await fetch(url, {
    headers: ip ? { "x-forwarded-for": ip } : {},
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, text, retryAfter: res.headers.get("retry-after") };
};

describe("public pages: per-IP limit and trust proxy", () => {
  let db: TestDatabase;
  let behindProxy: TestApp;
  let direct: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    const limit = { PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE: "5" };
    // The tests connect from 127.0.0.1: "loopback" trusts a proxy there, "false" trusts none.
    behindProxy = await startTestApp(db, { env: { ...limit, PAYTRUST_TRUST_PROXY: "loopback" } });
    direct = await startTestApp(db, { env: { ...limit, PAYTRUST_TRUST_PROXY: "false" } });
  });
  afterAll(async () => {
    await behindProxy?.stop();
    await direct?.stop();
    await db?.drop();
  });

  it("limits /pay/:id per client IP (429 PTRATE with Retry-After), each IP on its own", async () => {
    const pay = `${behindProxy.url}/pay/${randomUUID()}`;
    for (let i = 0; i < 5; i++) expect((await get(pay, "198.51.100.1")).status).toBe(404);
    const refused = await get(pay, "198.51.100.1");
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text).errors[0].extensions.code).toBe("PTRATE");
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // The same budget covers /readyz for that client ...
    expect((await get(`${behindProxy.url}/readyz`, "198.51.100.1")).status).toBe(429);
    // ... while another client behind the same proxy is not affected.
    expect((await get(pay, "198.51.100.2")).status).toBe(404);
    expect((await get(`${behindProxy.url}/readyz`, "198.51.100.2")).status).toBe(200);
  });

  it("limits the sandbox's pages but not the fake gateway API the worker calls", async () => {
    const ip = "198.51.100.3";
    for (let i = 0; i < 5; i++)
      expect((await get(`${behindProxy.url}/sandbox`, ip)).status).toBe(200);
    expect((await get(`${behindProxy.url}/sandbox`, ip)).status).toBe(429);
    expect((await get(`${behindProxy.url}/sandbox/checkout/xendit/nope`, ip)).status).toBe(429);
    for (let i = 0; i < 8; i++) {
      const api = await get(`${behindProxy.url}/sandbox/xendit/v2/invoices/nope`, ip);
      expect(api.status).not.toBe(429);
    }
  });

  it("honours X-Forwarded-For only from trusted proxies (PAYTRUST_TRUST_PROXY=false: ignored)", async () => {
    const pay = `${direct.url}/pay/${randomUUID()}`;
    // A client cannot buy a fresh budget by inventing addresses.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await get(pay, `203.0.113.${i + 1}`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429, 429]);
  });

  it("records the forwarded client address in the audit log when the proxy is trusted", async () => {
    const res = await fetch(`${behindProxy.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-forwarded-for": "192.0.2.44, 127.0.0.1",
        authorization: "Bearer not-a-key",
      },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
    });
    expect(res.status).toBe(401);
    await res.arrayBuffer();
    const { rows } = await db.pool.query(
      "select ip::text as ip from paytrust_public.audit_events where action = 'auth.failed' order by id desc limit 1",
    );
    expect(rows[0].ip).toMatch(/^192\.0\.2\.44/);
  });
});

describe("public pages cannot starve the database connections", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, {
      env: { PAYTRUST_PUBLIC_DB_CONCURRENCY: "2", PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE: "100000" },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("a flood of /pay/:id holds at most 2 connections; the rest wait briefly or get 503; /readyz still answers", async () => {
    const runtime = app.runtime as unknown as Record<string, pg.Pool | undefined>;
    const appPool = (runtime.runtimePool ?? runtime.ownerPool) as pg.Pool;
    // Make every /pay/:id lookup wait: hold a lock its SELECT needs.
    const locker = new pg.Client({ connectionString: db.ownerUrl });
    await locker.connect();
    try {
      await locker.query("begin");
      await locker.query(
        "lock table paytrust_public.payment_transactions in access exclusive mode",
      );
      const flood = Array.from({ length: 30 }, (_, i) =>
        get(`${app.url}/pay/${randomUUID()}`, `198.18.0.${i + 1}`),
      );
      await new Promise((r) => setTimeout(r, 1000));
      const { rows } = await db.pool.query(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%from paytrust_public.payment_transactions where id%'`,
      );
      expect(rows[0].n).toBeGreaterThanOrEqual(1);
      expect(rows[0].n).toBeLessThanOrEqual(2);
      // The pool the webhooks and the worker use still answers at once.
      const started = Date.now();
      await appPool.query("select 1");
      expect(Date.now() - started).toBeLessThan(1000);

      // Readiness probes are not starved by the flood either (their checks share one query).
      const probes = await Promise.all(
        Array.from({ length: 20 }, (_, i) => get(`${app.url}/readyz`, `198.19.0.${i + 1}`)),
      );
      expect(probes.map((p) => p.status)).toEqual(Array(20).fill(200));

      await locker.query("rollback");
      const results = await Promise.all(flood);
      const count = (status: number) => results.filter((r) => r.status === status).length;
      // 2 inside + 8 queued are answered (404: unknown payment); the rest got 503 PTUNAV at once.
      expect(count(404)).toBeGreaterThanOrEqual(2);
      expect(count(404) + count(503)).toBe(30);
      expect(count(503)).toBeGreaterThan(0);
      const busy = results.find((r) => r.status === 503);
      expect(JSON.parse(busy?.text ?? "{}").errors[0].extensions.code).toBe("PTUNAV");
    } finally {
      await locker.end();
    }
  });
});
