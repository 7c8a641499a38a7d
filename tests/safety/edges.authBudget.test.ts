/**
 * Issue 14 item 11: the failed-auth budget is reserved before argon2 runs, so
 * a concurrent burst of wrong keys from one IP gets at most the budget's worth
 * of verifications (and 401s); everything beyond is 429 before any key is
 * looked at. A valid key gives its point back.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createClient } from "graphql-ws";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const BUDGET = 10;

const wrongSecretFor = (apiKey: string) =>
  `${apiKey.slice(0, "pt_live_".length + 13)}${randomBytes(32).toString("base64url")}`;

describe("failed-auth budget under concurrency", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, {
      env: { PAYTRUST_AUTH_FAILURES_PER_MINUTE: String(BUDGET), PAYTRUST_TRUST_PROXY: "loopback" },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  const ask = async (apiKey: string, ip: string) => {
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-forwarded-for": ip,
        authorization: `Bearer ${apiKey}`,
      },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
      signal: AbortSignal.timeout(60_000),
    });
    const body = await res.json().catch(() => null);
    return { status: res.status, code: body?.errors?.[0]?.extensions?.code };
  };
  const tally = (results: Array<{ status: number }>) =>
    results.reduce<Record<number, number>>((acc, r) => {
      acc[r.status] = (acc[r.status] ?? 0) + 1;
      return acc;
    }, {});
  const auditedFailures = async (ip: string) =>
    Number(
      (
        await db.pool.query(
          "select count(*) from paytrust_public.audit_events where action = 'auth.failed' and ip = $1::inet",
          [ip],
        )
      ).rows[0].count,
    );

  it("50 distinct wrong secrets at once: exactly the budget is verified (401), the rest 429", async () => {
    // A real key's prefix, never used, so every attempt would need argon2.
    const tenant = await createTenant(db.pool, "Burst target");
    const ip = "203.0.113.50";
    const results = await Promise.all(
      Array.from({ length: 50 }, () => ask(wrongSecretFor(tenant.apiKey), ip)),
    );
    expect(tally(results)).toEqual({ 401: BUDGET, 429: 50 - BUDGET });
    expect(results.filter((r) => r.status === 429).every((r) => r.code === "PTRATE")).toBe(true);
    expect(await auditedFailures(ip)).toBe(BUDGET);

    // That IP is now refused even with the right key; another IP is not.
    expect((await ask(tenant.apiKey, ip)).status).toBe(429);
    expect((await ask(tenant.apiKey, "203.0.113.51")).status).toBe(200);
  });

  it("50 copies of one wrong key at once are bounded the same way", async () => {
    const tenant = await createTenant(db.pool, "Same key burst");
    const wrong = wrongSecretFor(tenant.apiKey);
    const results = await Promise.all(Array.from({ length: 50 }, () => ask(wrong, "203.0.113.60")));
    expect(tally(results)).toEqual({ 401: BUDGET, 429: 50 - BUDGET });
  });

  it("missing and malformed keys use the budget too", async () => {
    const ip = "203.0.113.70";
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ask(i % 2 ? "garbage" : "pt_live_short", ip)),
    );
    expect(tally(results)).toEqual({ 401: BUDGET, 429: 30 - BUDGET });
  });

  it("a valid key gives back the point it reserved", async () => {
    const tenant = await createTenant(db.pool, "Refund");
    const ip = "203.0.113.80";
    // Cold cache: the lookup (argon2) runs with a point reserved, refunded on success.
    for (let i = 0; i < 3; i++) expect((await ask(tenant.apiKey, ip)).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < BUDGET + 1; i++)
      statuses.push((await ask(wrongSecretFor(tenant.apiKey), ip)).status);
    expect(statuses).toEqual([...Array(BUDGET).fill(401), 429]);
  });

  it("websockets (connection_init keys) share the budget: 50 wrong keys at once, 10 verified", async () => {
    const tenant = await createTenant(db.pool, "Socket burst");
    // Straight from 127.0.0.1 (no proxy header on websockets here): a fresh budget.
    const codes = await Promise.all(
      Array.from(
        { length: 50 },
        () =>
          new Promise<string>((resolve) => {
            const client = createClient({
              url: `${app.url.replace(/^http/, "ws")}/graphql`,
              webSocketImpl: WebSocket,
              connectionParams: { authorization: `Bearer ${wrongSecretFor(tenant.apiKey)}` },
              retryAttempts: 0,
              lazy: true,
            });
            const done = (code: string) => {
              void client.dispose();
              resolve(code);
            };
            client.subscribe(
              { query: "{ currentTenantId }" },
              {
                next: (value: any) => done(value.errors?.[0]?.extensions?.code ?? "DATA"),
                // A refused key closes the socket at connection_init: 4403 "PTAUTH: …", 4429 "PTRATE: …".
                error: (error: any) =>
                  done(
                    (Array.isArray(error) ? error[0] : error)?.extensions?.code ??
                      /^(PT[A-Z]+):/.exec(String(error?.reason ?? ""))?.[1] ??
                      String(error?.message ?? error),
                  ),
                complete: () => done("COMPLETE"),
              },
            );
          }),
      ),
    );
    const count = (code: string) => codes.filter((c) => c === code).length;
    expect({
      PTAUTH: count("PTAUTH"),
      PTRATE: count("PTRATE"),
      other: 50 - count("PTAUTH") - count("PTRATE"),
    }).toEqual({
      PTAUTH: BUDGET,
      PTRATE: 50 - BUDGET,
      other: 0,
    });
    // The same address is now refused over HTTP as well.
    const res = await fetch(`${app.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${tenant.apiKey}` },
      body: JSON.stringify({ query: "{ currentTenantId }" }),
    });
    expect(res.status).toBe(429);
  });
});
