import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { issueApiKey } from "../../src/auth/apiKeys.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  type CallResult,
  call,
  codeOf,
  ME,
  randomKey,
  sleep,
  testIp,
  wrongSecretFor,
} from "./helpers.ts";

function assertLimited(res: CallResult, limit: number) {
  // JSON.stringify(res.body)
  expect(res.status).toBe(429);
  expect(codeOf(res)).toBe("PTRATE");
  const retryAfter = Number(res.headers.get("retry-after"));
  // `Retry-After ${retryAfter}`
  expect(retryAfter >= 1 && retryAfter <= 60).toBeTruthy();
  expect(res.headers.get("ratelimit-limit")).toBe(String(limit));
  expect(res.headers.get("ratelimit-remaining")).toBe("0");
  expect(res.headers.get("ratelimit-policy")).toBe(`${limit};w=60`);
  const reset = Number(res.headers.get("ratelimit-reset"));
  // `RateLimit-Reset ${reset}`
  expect(reset >= 1 && reset <= 60).toBeTruthy();
}

async function setTenantLimit(db: TestDatabase, tenantId: string, perMinute: number | null) {
  await db.pool.query(
    "update paytrust_public.tenants set rate_limit_per_minute = $2 where id = $1",
    [tenantId, perMinute],
  );
}

describe("rate limits in memory (one instance)", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: { PAYTRUST_WEBHOOK_RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("limits a key to its tenant's rate_limit_per_minute with 429, Retry-After and RateLimit-* headers", async () => {
    const tenant = await createTenant(db.pool, "Five a minute");
    await setTenantLimit(db, tenant.tenantId, 5);
    for (let i = 0; i < 5; i++) {
      const res = await call(app, ME, { apiKey: tenant.apiKey });
      expect(res.status).toBe(200);
      expect(res.headers.get("ratelimit-limit")).toBe("5");
      expect(res.headers.get("ratelimit-remaining")).toBe(String(4 - i));
      expect(res.headers.get("ratelimit-policy")).toBe("5;w=60");
    }
    assertLimited(await call(app, ME, { apiKey: tenant.apiKey }), 5);
    assertLimited(await call(app, ME, { apiKey: tenant.apiKey }), 5);

    // Another tenant, same IP: its own budget.
    const other = await createTenant(db.pool, "Unaffected");
    expect((await call(app, ME, { apiKey: other.apiKey })).status).toBe(200);
  });

  it("applies a tenant's new limit at once (cached verifications are invalidated)", async () => {
    const tenant = await createTenant(db.pool, "Tightened");
    const first = await call(app, ME, { apiKey: tenant.apiKey });
    // the platform default of this test app
    expect(first.headers.get("ratelimit-limit")).toBe("100000");
    await setTenantLimit(db, tenant.tenantId, 2);
    await sleep(50); // the NOTIFY round trip
    expect((await call(app, ME, { apiKey: tenant.apiKey })).headers.get("ratelimit-limit")).toBe(
      "2",
    );
    expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(200);
    assertLimited(await call(app, ME, { apiKey: tenant.apiKey }), 2);
  });

  it("exempts webhooks from tenant limits but limits them per IP", async () => {
    const tenant = await createTenant(db.pool, "Busy");
    await setTenantLimit(db, tenant.tenantId, 1);
    await call(app, ME, { apiKey: tenant.apiKey });
    expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(429);

    const ip = testIp();
    const webhook = (from: string) =>
      fetch(`${app.url}/webhooks/xendit`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": from },
        body: "{}",
      });
    for (let i = 0; i < 3; i++) {
      const res = await webhook(ip);
      // a tenant's exhausted budget does not touch webhooks
      expect(res.status).not.toBe(429);
      expect(res.headers.get("ratelimit-limit")).toBe("3");
    }
    const limited = await webhook(ip);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after")) >= 1).toBeTruthy();
    // another IP has its own webhook budget
    expect((await webhook(testIp())).status).not.toBe(429);
  });

  it("refuses an IP with 429 once it has used up its failed-authentication budget (brute force)", async () => {
    const victim = await createTenant(db.pool, "Victim");
    const attacker = testIp();
    const userAgent = `brute-force-${attacker}`;
    const wrongSecret = wrongSecretFor(victim.apiKey);
    let refusedAt = -1;
    for (let i = 0; i < 40; i++) {
      const res = await call(app, ME, {
        apiKey: i % 2 ? randomKey() : wrongSecret,
        ip: attacker,
        userAgent,
      });
      if (res.status === 429) {
        refusedAt = i;
        assertLimited(res, 30);
        break;
      }
      expect(res.status).toBe(401);
    }
    // 30 failed attempts a minute, then 429
    expect(refusedAt).toBe(30);
    // The IP is blocked even with a valid key; other IPs are not.
    expect((await call(app, ME, { apiKey: victim.apiKey, ip: attacker })).status).toBe(429);
    expect((await call(app, ME, { apiKey: victim.apiKey, ip: testIp() })).status).toBe(200);
    // Failed attempts are audited, at most the budget's worth per IP and minute.
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.audit_events where action = 'auth.failed' and user_agent = $1",
      [userAgent],
    );
    expect(rows[0].n).toBe(30);
  });

  it("counts requests without a key against the IP's failed-authentication budget", async () => {
    const ip = testIp();
    for (let i = 0; i < 30; i++) expect((await call(app, ME, { ip })).status).toBe(401);
    assertLimited(await call(app, ME, { ip }), 30);
  });
});

describe("rate limits: the platform default", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: { PAYTRUST_RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("applies PAYTRUST_RATE_LIMIT_PER_MINUTE to tenants without their own limit and to admin keys", async () => {
    const tenant = await createTenant(db.pool, "Default limit");
    const admin = await createAdminKey(db.pool);
    for (const apiKey of [tenant.apiKey, admin.apiKey]) {
      for (let i = 0; i < 3; i++) expect((await call(app, ME, { apiKey })).status).toBe(200);
      assertLimited(await call(app, ME, { apiKey }), 3);
    }
  });

  it("counts per key: two keys of one tenant have separate budgets", async () => {
    const tenant = await createTenant(db.pool, "Two keys");
    const client = await db.pool.connect();
    const second = await issueApiKey(client, {
      tenantId: tenant.tenantId,
      role: "tenant",
      name: "second",
    }).finally(() => client.release());
    for (let i = 0; i < 3; i++)
      expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(200);
    expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(429);
    expect((await call(app, ME, { apiKey: second.apiKey })).status).toBe(200);
  });
});
