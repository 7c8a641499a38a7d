import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
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
    assert.equal((await verifier.check("pt_live_short")).reason, "malformed");
    assert.equal((await verifier.check(randomKey())).reason, "unknown");
    const wrong = wrongSecretFor(tenant.apiKey);
    const miss = await verifier.check(wrong);
    assert.equal(miss.reason, "invalid");
    assert.equal(miss.key, null);
    assert.ok(miss.key === null && miss.keyId === tenant.keyId);
    assert.ok((await verifier.check(tenant.apiKey)).key, "the right secret");
    // Now cached: a wrong secret for the cached prefix is still refused.
    assert.equal((await verifier.check(wrong)).reason, "invalid");
    assert.ok((await verifier.check(tenant.apiKey)).key);
  });

  it("honours expires_at and revoked_at changes on cached keys at once", async () => {
    const tenant = await createTenant(db.pool, "Changes");
    assert.ok(await verifier.verify(tenant.apiKey));
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = now() + interval '300 ms' where id = $1",
      [tenant.keyId],
    );
    await notified();
    assert.ok(await verifier.verify(tenant.apiKey), "still inside its expiry");
    await sleep(300);
    assert.equal((await verifier.check(tenant.apiKey)).reason, "expired");
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = null, revoked_at = now() where id = $1",
      [tenant.keyId],
    );
    await notified();
    assert.equal((await verifier.check(tenant.apiKey)).reason, "revoked");
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
      assert.ok(
        await racing.verify(tenant.apiKey),
        "the request that began before the revocation passes",
      );
      assert.equal(
        (await racing.check(tenant.apiKey)).reason,
        "revoked",
        "but its result was not cached",
      );
    } finally {
      await racing.close();
    }
  });

  it("clears the cache and listens again when the LISTEN connection is lost", async () => {
    const own = await createKeyVerifier(db.pool);
    try {
      const tenant = await createTenant(db.pool, "Listener lost");
      assert.ok(own.listening);
      assert.ok(await own.verify(tenant.apiKey));
      await db.pool.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and query = 'listen paytrust_api_keys' and pid <> pg_backend_pid()`,
      );
      await eventually(async () => !own.listening, 5000);
      await eventually(async () => own.listening, 10_000);
      // Invalidation works again on the new connection.
      assert.ok(await own.verify(tenant.apiKey));
      await db.pool.query("update paytrust_private.api_keys set revoked_at = now() where id = $1", [
        tenant.keyId,
      ]);
      await notified();
      assert.equal(await own.verify(tenant.apiKey), null);
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
    assert.equal(key?.role, "admin");
    assert.equal(key?.tenantId, null);
    assert.equal(key?.rateLimitPerMinute, null);
  });
});
