import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { issueApiKey } from "../../src/auth/apiKeys.ts";
import { createKeyVerifier, type KeyVerifier } from "../../src/auth/keyVerifier.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { eventually, randomKey, sleep, wrongSecretFor } from "./helpers.ts";

describe("key verifier: cache and invalidation", () => {
  let db: TestDatabase;
  let verifier: KeyVerifier;

  beforeAll(async () => {
    db = await freshDatabase();
    verifier = await createKeyVerifier(db.pool);
  });
  afterAll(async () => {
    await verifier?.close();
    await db?.drop();
  });

  const notified = () => sleep(50);

  it("reports why a key is refused (for the audit log)", async () => {
    const tenant = await createTenant(db.pool, "Reasons");
    expect((await verifier.check("pt_live_short")).reason).toBe("malformed");
    expect((await verifier.check(randomKey())).reason).toBe("unknown");
    const wrong = wrongSecretFor(tenant.apiKey);
    const miss = await verifier.check(wrong);
    expect(miss.reason).toBe("invalid");
    expect(miss.key).toBe(null);
    expect(miss.key === null && miss.keyId === tenant.keyId).toBeTruthy();
    // the right secret
    expect((await verifier.check(tenant.apiKey)).key).toBeTruthy();
    // Now cached: a wrong secret for the cached prefix is still refused.
    expect((await verifier.check(wrong)).reason).toBe("invalid");
    expect((await verifier.check(tenant.apiKey)).key).toBeTruthy();
  });

  it("honours expires_at and revoked_at changes on cached keys at once", async () => {
    const tenant = await createTenant(db.pool, "Changes");
    expect(await verifier.verify(tenant.apiKey)).toBeTruthy();
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = now() + interval '300 ms' where id = $1",
      [tenant.keyId],
    );
    await notified();
    // still inside its expiry
    expect(await verifier.verify(tenant.apiKey)).toBeTruthy();
    await sleep(300);
    expect((await verifier.check(tenant.apiKey)).reason).toBe("expired");
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = null, revoked_at = now() where id = $1",
      [tenant.keyId],
    );
    await notified();
    expect((await verifier.check(tenant.apiKey)).reason).toBe("revoked");
  });

  it("does not cache a verification that raced with a revocation", async () => {
    const tenant = await createTenant(db.pool, "Race");
    // A pool whose key lookup reads the row, then lets the revocation (and its NOTIFY) happen
    // before the verifier caches the stale row.
    let revokeDuringLookup = true;
    const racingPool = new Proxy(db.pool, {
      get(target, property, receiver) {
        if (property !== "query") return Reflect.get(target, property, receiver);
        return async (text: string, values?: unknown[]) => {
          const result = await target.query(text, values as any[]);
          if (revokeDuringLookup && text.includes("from paytrust_private.api_keys k")) {
            revokeDuringLookup = false;
            await target.query(
              "update paytrust_private.api_keys set revoked_at = now() where id = $1",
              [tenant.keyId],
            );
            await notified();
          }
          return result;
        };
      },
    }) as pg.Pool;
    const racing = await createKeyVerifier(racingPool);
    try {
      // the request that began before the revocation passes
      expect(await racing.verify(tenant.apiKey)).toBeTruthy();
      // but its result was not cached
      expect((await racing.check(tenant.apiKey)).reason).toBe("revoked");
    } finally {
      await racing.close();
    }
  });

  it("clears the cache and listens again when the LISTEN connection is lost", async () => {
    const own = await createKeyVerifier(db.pool);
    try {
      const tenant = await createTenant(db.pool, "Listener lost");
      expect(own.listening).toBeTruthy();
      expect(await own.verify(tenant.apiKey)).toBeTruthy();
      await db.pool.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query like 'listen "paytrust_api_keys_%' and pid <> pg_backend_pid()`,
      );
      await eventually(async () => !own.listening, 5000);
      await eventually(async () => own.listening, 10_000);
      // Invalidation works again on the new connection.
      expect(await own.verify(tenant.apiKey)).toBeTruthy();
      await db.pool.query("update paytrust_private.api_keys set revoked_at = now() where id = $1", [
        tenant.keyId,
      ]);
      await notified();
      expect(await own.verify(tenant.apiKey)).toBe(null);
    } finally {
      await own.close();
    }
  });

  it("verifies keys issued for admins without a tenant", async () => {
    const client = await db.pool.connect();
    const admin = await issueApiKey(client, { tenantId: null, role: "admin", name: "ops" }).finally(
      () => client.release(),
    );
    const key = await verifier.verify(admin.apiKey);
    expect(key?.role).toBe("admin");
    expect(key?.tenantId).toBe(null);
    expect(key?.rateLimitPerMinute).toBe(null);
  });
});
