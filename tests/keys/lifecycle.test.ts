import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { inContext } from "../helpers/context.ts";
import { createAdminKey, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  CREATE_API_KEY,
  CREATE_TENANT,
  call,
  codeOf,
  dataOf,
  KEY_PATTERN,
  ME,
  REVOKE_API_KEY,
  ROTATE_API_KEY,
  sleep,
} from "./helpers.ts";

/** How long a key change may take to reach another process's cache (docs/api-keys.md). */
const NOTIFY_PROPAGATION_MS = 1000;

describe("API key lifecycle over HTTP, on two app instances sharing the database", () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  let admin: { apiKey: string; keyId: string };
  let tenantId: string;

  beforeAll(async () => {
    db = await freshDatabase();
    [a, b] = await Promise.all([startTestApp(db), startTestApp(db)]);
    admin = await createAdminKey(db.pool);
    tenantId = dataOf(
      await call(a, CREATE_TENANT, { apiKey: admin.apiKey, variables: { name: "Lifecycle" } }),
    ).createTenant.tenant.id;
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const meOn = async (app: TestApp, apiKey: string) => call(app, ME, { apiKey });

  async function expectWorks(apiKey: string, label: string) {
    for (const [name, app] of [
      ["A", a],
      ["B", b],
    ] as const) {
      const res = await meOn(app, apiKey);
      await inContext(`${label} should work on instance ${name}`, () => {
        expect(res.status).toBe(200);
        expect(res.body.data.currentTenantId).toBe(tenantId);
      });
    }
  }

  /**
   * Other processes drop a cached verification when the key's NOTIFY reaches
   * their LISTEN connection: right after the change's COMMIT, but a request
   * sent at the same moment can be answered first. `propagationMs` is how
   * long a notification-driven refusal may take (checked every 10 ms); 0
   * means the very first request must be refused.
   */
  async function refusedOn(app: TestApp, apiKey: string, propagationMs: number) {
    const started = Date.now();
    let res = await meOn(app, apiKey);
    while (res.status !== 401 && Date.now() - started < propagationMs) {
      await sleep(10);
      res = await meOn(app, apiKey);
    }
    return res;
  }

  async function expectRefused(apiKey: string, label: string, propagationMs = 0) {
    for (const [name, app] of [
      ["A", a],
      ["B", b],
    ] as const) {
      const res = await refusedOn(app, apiKey, propagationMs);
      await inContext(`${label} should be refused on instance ${name}`, () => {
        expect(res.status).toBe(401);
        expect(res.body.errors[0].extensions.code).toBe("PTAUTH");
      });
    }
  }

  async function createKey(name: string) {
    return dataOf(
      await call(a, CREATE_API_KEY, { apiKey: admin.apiKey, variables: { tenantId, name } }),
    ).createApiKey;
  }

  it("create → use → rotate with grace → both work → old refused after grace → revoke → refused at once everywhere", async () => {
    // Create: the plaintext is returned once, only an argon2id hash is stored.
    const created = await createKey("checkout backend");
    expect(created.plaintextKey).toMatch(KEY_PATTERN);
    expect(created.apiKey.tenantId).toBe(tenantId);
    expect(created.apiKey.role).toBe("tenant");
    expect(created.apiKey.name).toBe("checkout backend");
    expect(created.plaintextKey.split("_")[2]).toBe(created.apiKey.prefix);
    expect(created.apiKey.revokedAt).toBe(null);
    expect(created.apiKey.expiresAt).toBe(null);
    const secret = created.plaintextKey.split("_").slice(3).join("_");
    const stored = await db.pool.query(
      "select secret_hash from paytrust_private.api_keys where id = $1",
      [created.apiKey.id],
    );
    expect(stored.rows[0].secret_hash).toMatch(/^\$argon2id\$/);
    expect(!stored.rows[0].secret_hash.includes(secret)).toBeTruthy();
    const leaked = await db.pool.query(
      "select count(*)::int as n from paytrust_public.audit_events where details::text like '%' || $1 || '%'",
      [secret],
    );
    // the secret never reaches the audit log
    expect(leaked.rows[0].n).toBe(0);

    // Use, on both instances (now cached on both).
    const oldKey = created.plaintextKey;
    await expectWorks(oldKey, "new key");

    // Rotate with a 2 s grace: a new key, linked to the old one.
    const rotatedAt = Date.now();
    const rotated = dataOf(
      await call(b, ROTATE_API_KEY, {
        apiKey: admin.apiKey,
        variables: { id: created.apiKey.id, graceSeconds: 2 },
      }),
    ).rotateApiKey;
    expect(rotated.plaintextKey).toMatch(KEY_PATTERN);
    expect(rotated.plaintextKey).not.toBe(oldKey);
    expect(rotated.apiKey.rotatedFrom).toBe(created.apiKey.id);
    expect(rotated.apiKey.tenantId).toBe(tenantId);
    expect(rotated.apiKey.name).toBe("checkout backend");
    expect(rotated.rotatedApiKey.id).toBe(created.apiKey.id);
    const expiresAt = Date.parse(rotated.rotatedApiKey.expiresAt);
    // `expiresAt ${rotated.rotatedApiKey.expiresAt}`
    expect(Math.abs(expiresAt - (rotatedAt + 2000)) < 1500).toBeTruthy();
    const newKey = rotated.plaintextKey;

    // Both work during the grace period, on both instances.
    await expectWorks(oldKey, "old key in grace");
    await expectWorks(newKey, "rotated key");

    // After the grace period the old key is refused (the cached verification honours expires_at).
    await sleep(Math.max(0, expiresAt - Date.now()) + 250);
    await expectRefused(oldKey, "old key after grace");
    await expectWorks(newKey, "rotated key after grace");

    // Revoke on A; B (which has the key cached) refuses it as soon as the
    // notification arrives (within NOTIFY_PROPAGATION_MS), then A.
    const revoked = dataOf(
      await call(a, REVOKE_API_KEY, { apiKey: admin.apiKey, variables: { id: rotated.apiKey.id } }),
    ).revokeApiKey.apiKey;
    expect(revoked.revokedAt).toBeTruthy();
    const onB = await refusedOn(b, newKey, NOTIFY_PROPAGATION_MS);
    // refused on the second instance
    expect(onB.status).toBe(401);
    const onA = await refusedOn(a, newKey, NOTIFY_PROPAGATION_MS);
    // refused on the first instance
    expect(onA.status).toBe(401);
  });

  it("rotation with the default grace (0) retires the old key at once on every instance", async () => {
    const created = await createKey("immediate");
    await expectWorks(created.plaintextKey, "key before rotation");
    const rotated = dataOf(
      await call(a, ROTATE_API_KEY, { apiKey: admin.apiKey, variables: { id: created.apiKey.id } }),
    ).rotateApiKey;
    expect(Date.parse(rotated.rotatedApiKey.expiresAt) <= Date.now() + 100).toBeTruthy();
    await expectRefused(created.plaintextKey, "rotated key", NOTIFY_PROPAGATION_MS);
    await expectWorks(rotated.plaintextKey, "successor");
  });

  it("refuses rotating a revoked, expired or already rotated key, and bad graces", async () => {
    const first = await createKey("rotate rules");
    const rotate = (id: string, graceSeconds?: number) =>
      call(a, ROTATE_API_KEY, { apiKey: admin.apiKey, variables: { id, graceSeconds } });
    expect(codeOf(await rotate(first.apiKey.id, -1))).toBe("PTVAL");
    expect(codeOf(await rotate(first.apiKey.id, 2_592_001))).toBe("PTVAL");
    expect(codeOf(await rotate("00000000-0000-0000-0000-000000000001"))).toBe("PTNFD");

    const second = dataOf(await rotate(first.apiKey.id, 3600)).rotateApiKey;
    // a key is rotated only once
    expect(codeOf(await rotate(first.apiKey.id, 3600))).toBe("PTKEY");
    await call(a, REVOKE_API_KEY, { apiKey: admin.apiKey, variables: { id: second.apiKey.id } });
    // a revoked key cannot be rotated
    expect(codeOf(await rotate(second.apiKey.id))).toBe("PTKEY");

    const expiring = await createKey("expired");
    await db.pool.query(
      "update paytrust_private.api_keys set expires_at = now() - interval '1 s' where id = $1",
      [expiring.apiKey.id],
    );
    // an expired key cannot be rotated
    expect(codeOf(await rotate(expiring.apiKey.id))).toBe("PTKEY");
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_private.api_keys where rotated_from = $1",
      [expiring.apiKey.id],
    );
    expect(rows[0].n).toBe(0);
  });

  it("rotates admin keys too (the successor keeps the admin role)", async () => {
    const spare = await createAdminKey(db.pool);
    const rotated = dataOf(
      await call(a, ROTATE_API_KEY, {
        apiKey: spare.apiKey,
        variables: { id: spare.keyId, graceSeconds: 60 },
      }),
    ).rotateApiKey;
    expect(rotated.apiKey.role).toBe("admin");
    expect(rotated.apiKey.tenantId).toBe(null);
    const res = await call(b, CREATE_TENANT, {
      apiKey: rotated.plaintextKey,
      variables: { name: "By successor" },
    });
    expect(dataOf(res).createTenant.tenant.name).toBe("By successor");
  });

  it("revocation is idempotent and unknown keys are reported", async () => {
    const key = await createKey("revoke twice");
    const first = dataOf(
      await call(a, REVOKE_API_KEY, { apiKey: admin.apiKey, variables: { id: key.apiKey.id } }),
    );
    const second = dataOf(
      await call(b, REVOKE_API_KEY, { apiKey: admin.apiKey, variables: { id: key.apiKey.id } }),
    );
    expect(second.revokeApiKey.apiKey.revokedAt).toBe(first.revokeApiKey.apiKey.revokedAt);
    const unknown = await call(a, REVOKE_API_KEY, {
      apiKey: admin.apiKey,
      variables: { id: "00000000-0000-0000-0000-000000000002" },
    });
    expect(codeOf(unknown)).toBe("PTNFD");
  });

  it("validates createApiKey input", async () => {
    const create = (variables: Record<string, unknown>) =>
      call(a, CREATE_API_KEY, { apiKey: admin.apiKey, variables });
    expect(
      codeOf(await create({ tenantId: "00000000-0000-0000-0000-000000000003", name: "x" })),
    ).toBe("PTNFD");
    expect(codeOf(await create({ tenantId, name: "   " }))).toBe("PTVAL");
    expect(codeOf(await create({ tenantId, name: "x".repeat(201) }))).toBe("PTVAL");
  });

  it("lists keys without secrets, for admin keys only", async () => {
    const listed = dataOf(
      await call(
        a,
        `query($t: UUID!) { apiKeys(condition: {tenantId: $t}) { totalCount nodes { id prefix role revokedAt } } }`,
        {
          apiKey: admin.apiKey,
          variables: { t: tenantId },
        },
      ),
    ).apiKeys;
    expect(listed.totalCount >= 5).toBeTruthy();
    const fields = dataOf(
      await call(a, '{ __type(name: "ApiKey") { fields { name } } }', { apiKey: admin.apiKey }),
    ).__type.fields.map((f: { name: string }) => f.name);
    // no field exposes a secret or its hash
    expect(fields.filter((f: string) => /secret|hash|plaintext/i.test(f))).toEqual([]);
    const viaTenant = dataOf(
      await call(a, "query($t: UUID!) { tenant(id: $t) { apiKeys { totalCount } } }", {
        apiKey: admin.apiKey,
        variables: { t: tenantId },
      }),
    );
    expect(viaTenant.tenant.apiKeys.totalCount).toBe(listed.totalCount);
  });

  it("refuses every admin operation to tenant keys with PTPRM, and creates nothing", async () => {
    const tenant = await createTenant(db.pool, "Not an admin");
    const before = await db.pool.query("select count(*)::int as n from paytrust_private.api_keys");
    const attempts = [
      await call(a, CREATE_API_KEY, {
        apiKey: tenant.apiKey,
        variables: { tenantId: tenant.tenantId, name: "mine" },
      }),
      await call(a, ROTATE_API_KEY, { apiKey: tenant.apiKey, variables: { id: tenant.keyId } }),
      await call(a, REVOKE_API_KEY, { apiKey: tenant.apiKey, variables: { id: admin.keyId } }),
      await call(a, "{ apiKeys { nodes { id } } }", { apiKey: tenant.apiKey }),
      await call(a, "{ apiKeyAuditLogs { nodes { id } } }", { apiKey: tenant.apiKey }),
    ];
    for (const res of attempts) {
      // JSON.stringify(res.body)
      expect(codeOf(res)).toBe("PTPRM");
      // no key material in the refusal
      expect(!JSON.stringify(res.body).includes("pt_live_")).toBeTruthy();
    }
    const afterCount = await db.pool.query(
      "select count(*)::int as n from paytrust_private.api_keys",
    );
    expect(afterCount.rows[0].n).toBe(before.rows[0].n);
    const adminKey = await db.pool.query(
      "select revoked_at, expires_at from paytrust_private.api_keys where id = $1",
      [admin.keyId],
    );
    expect(adminKey.rows[0]).toEqual({ revoked_at: null, expires_at: null });
  });

  it("the SQL layer refuses non-admins even when called directly", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("set local role paytrust_tenant");
      await assert.rejects(
        client.query("select paytrust_public.revoke_api_key($1)", [admin.keyId]),
        (error: any) => error.code === "42501",
      );
      await client.query("rollback");
      await client.query("begin");
      // A forged admin claim does not help the tenant role: it has no EXECUTE on the functions.
      await client.query("select set_config('paytrust.role', 'admin', true)");
      await client.query("set local role paytrust_tenant");
      await assert.rejects(
        client.query(
          "select paytrust_hidden.api_key_issue($1, 'x', 'abcdefghijkl', '$argon2id$x')",
          [tenantId],
        ),
        (error: any) => error.code === "42501",
      );
    } finally {
      await client.query("rollback").catch(() => {});
      client.release();
    }
  });
});
