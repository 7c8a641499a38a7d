import assert from "node:assert/strict";
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import type { JobHelpers } from "graphile-worker";
import { loadConfig } from "../../src/config.ts";
import { maintenance__purge_audit_log } from "../../src/tasks/maintenance__purge_audit_log.ts";
import { crontab } from "../../src/worker.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  asRole,
  createAdminKey,
  freshDatabase,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";
import {
  CREATE_API_KEY,
  CREATE_TENANT,
  call,
  codeOf,
  dataOf,
  eventually,
  ME,
  REVOKE_API_KEY,
  ROTATE_API_KEY,
  randomKey,
  testIp,
} from "./helpers.ts";

const AUDIT_FIELDS =
  "id occurredAt action apiKeyId tenantId actorRole subjectId ip userAgent details";

const AUDIT_LOGS = `query($apiKeyId: UUID, $tenantId: UUID, $action: String, $after: Datetime, $before: Datetime,
                         $first: Int, $cursor: Cursor) {
  apiKeyAuditLogs(apiKeyId: $apiKeyId, tenantId: $tenantId, action: $action, occurredAfter: $after,
                  occurredBefore: $before, first: $first, after: $cursor) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { ${AUDIT_FIELDS} }
  }
}`;

describe("audit log: who, what, when, from where", () => {
  let db: TestDatabase;
  let app: TestApp;
  let admin: { apiKey: string; keyId: string };
  const ip = testIp();
  const userAgent = "paytrust-audit-test/1.0 (+ops)";
  let tenantId: string;
  let keyId: string;
  let successorId: string;
  let startedAt: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    admin = await createAdminKey(db.pool);
    startedAt = (
      await db.pool.query("select now() - interval '1 second' as t")
    ).rows[0].t.toISOString();
    const as = { apiKey: admin.apiKey, ip, userAgent };
    tenantId = dataOf(await call(app, CREATE_TENANT, { ...as, variables: { name: "Audited" } }))
      .createTenant.tenant.id;
    const created = dataOf(
      await call(app, CREATE_API_KEY, { ...as, variables: { tenantId, name: "audited key" } }),
    ).createApiKey;
    keyId = created.apiKey.id;
    const rotated = dataOf(
      await call(app, ROTATE_API_KEY, { ...as, variables: { id: keyId, graceSeconds: 30 } }),
    ).rotateApiKey;
    successorId = rotated.apiKey.id;
    dataOf(await call(app, REVOKE_API_KEY, { ...as, variables: { id: successorId } }));
    // Failed authentications: an unknown key, and the revoked successor.
    await call(app, ME, { apiKey: randomKey(), ip, userAgent });
    await call(app, ME, { apiKey: rotated.plaintextKey, ip, userAgent });
    await call(app, ME, { ip, userAgent });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  async function rows(action: string) {
    const { rows } = await db.pool.query(
      `select action, api_key_id, tenant_id, actor_role, subject_id, host(ip) as ip, user_agent, details
         from paytrust_public.audit_events where action = $1 and ip = $2::inet order by id`,
      [action, ip],
    );
    return rows;
  }

  it("records tenant creation, key creation, rotation and revocation with key, role, IP and user agent", async () => {
    const who = { api_key_id: admin.keyId, actor_role: "admin", ip, user_agent: userAgent };
    const pick = (row: any) => ({
      api_key_id: row.api_key_id,
      actor_role: row.actor_role,
      ip: row.ip,
      user_agent: row.user_agent,
    });
    const [tenantRow] = await rows("tenant.create");
    assert.deepEqual(pick(tenantRow), who);
    assert.equal(tenantRow.tenant_id, tenantId);
    assert.equal(tenantRow.subject_id, tenantId);
    const [createRow] = await rows("api_key.create");
    assert.deepEqual(pick(createRow), who);
    assert.equal(createRow.subject_id, keyId);
    assert.equal(createRow.tenant_id, tenantId);
    assert.equal(createRow.details.name, "audited key");
    assert.match(createRow.details.prefix, /^[a-z0-9]{12}$/);

    const [rotateRow] = await rows("api_key.rotate");
    assert.deepEqual(pick(rotateRow), who);
    assert.equal(rotateRow.subject_id, keyId);
    assert.equal(rotateRow.tenant_id, tenantId);
    assert.equal(rotateRow.details.new_api_key_id, successorId);
    assert.equal(rotateRow.details.grace_seconds, 30);
    assert.ok(rotateRow.details.expires_at);

    const [revokeRow] = await rows("api_key.revoke");
    assert.deepEqual(pick(revokeRow), who);
    assert.equal(revokeRow.subject_id, successorId);
    assert.equal(revokeRow.tenant_id, tenantId);
  });

  it("records failed authentications with the reason, IP and user agent, never the secret", async () => {
    const failed = await rows("auth.failed");
    assert.deepEqual(failed.map((r) => r.details.reason).sort(), ["missing", "revoked", "unknown"]);
    for (const row of failed) {
      assert.equal(row.user_agent, userAgent);
      assert.equal(row.api_key_id, null, "a failed attempt acts as nobody");
      assert.ok(!JSON.stringify(row.details).includes("pt_live_"));
    }
    const revoked = failed.find((r) => r.details.reason === "revoked");
    assert.equal(revoked.subject_id, successorId, "the attacked key is the subject");
    assert.equal(revoked.tenant_id, tenantId);
    assert.match(revoked.details.prefix, /^[a-z0-9]{12}$/);
  });

  it("apiKeyAuditLogs filters by key, tenant, action and time range, newest first", async () => {
    const byKey = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { apiKeyId: admin.keyId } }),
    ).apiKeyAuditLogs;
    assert.deepEqual(
      byKey.nodes.map((n: any) => n.action),
      ["api_key.revoke", "api_key.rotate", "api_key.create", "tenant.create"],
    );
    assert.equal(byKey.totalCount, 4);
    const node = byKey.nodes[0];
    assert.equal(node.ip, ip);
    assert.equal(node.userAgent, userAgent);
    assert.equal(node.actorRole, "admin");
    assert.equal(typeof node.details, "object");

    const byTenant = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { tenantId } }),
    ).apiKeyAuditLogs;
    assert.ok(byTenant.nodes.every((n: any) => n.tenantId === tenantId));
    assert.ok(
      byTenant.nodes.some((n: any) => n.action === "auth.failed"),
      "attempts on the tenant's keys show up",
    );

    const byAction = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { action: "api_key.rotate", tenantId },
      }),
    ).apiKeyAuditLogs;
    assert.equal(byAction.totalCount, 1);
    assert.equal(byAction.nodes[0].subjectId, keyId);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { after: future } }),
    ).apiKeyAuditLogs;
    assert.equal(none.totalCount, 0);
    const window = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { apiKeyId: admin.keyId, after: startedAt, before: future },
      }),
    ).apiKeyAuditLogs;
    assert.equal(window.totalCount, 4);
    const before = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { apiKeyId: admin.keyId, before: startedAt },
      }),
    ).apiKeyAuditLogs;
    assert.equal(before.totalCount, 0);
  });

  it("apiKeyAuditLogs paginates with cursors", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const conn: any = dataOf(
        await call(app, AUDIT_LOGS, {
          apiKey: admin.apiKey,
          variables: { apiKeyId: admin.keyId, first: 3, cursor },
        }),
      ).apiKeyAuditLogs;
      seen.push(...conn.nodes.map((n: any) => n.id));
      if (!conn.pageInfo.hasNextPage) break;
      cursor = conn.pageInfo.endCursor;
    }
    assert.equal(seen.length, 4);
    assert.equal(new Set(seen).size, 4);
    const ids = seen.map(Number);
    assert.deepEqual(
      ids,
      [...ids].sort((x, y) => y - x),
      "newest first",
    );
  });

  it("tenant keys see nothing of the audit log", async () => {
    const tenantKey = dataOf(
      await call(app, CREATE_API_KEY, {
        apiKey: admin.apiKey,
        variables: { tenantId, name: "curious tenant" },
      }),
    ).createApiKey.plaintextKey;
    const res = await call(app, AUDIT_LOGS, { apiKey: tenantKey, variables: { tenantId } });
    assert.equal(codeOf(res), "PTPRM");
    assert.equal(res.body.data?.apiKeyAuditLogs ?? null, null);
    const single = await call(app, "query($id: BigInt!) { auditEvent(id: $id) { id action } }", {
      apiKey: tenantKey,
      variables: { id: "1" },
    });
    assert.equal(single.body.data?.auditEvent ?? null, null);
    // Even with SELECT through a role, RLS hides every row from tenants.
    const count = await asRole(db.pool, "paytrust_tenant", { tenantId }, async (client) => {
      return sqlError(client, "select count(*) from paytrust_public.audit_events");
    });
    assert.equal(count, "42501");
  });
});

describe("audit log immutability", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase();
    await db.pool.query(
      "insert into paytrust_public.audit_events (action, subject_id, details) values ('test.event', 'x', '{}')",
    );
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("refuses UPDATE, DELETE and TRUNCATE even for the owner", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      assert.equal(
        await sqlError(client, "update paytrust_public.audit_events set action = 'forged'"),
        "PTAUD",
      );
      assert.equal(await sqlError(client, "delete from paytrust_public.audit_events"), "PTAUD");
      assert.equal(await sqlError(client, "truncate paytrust_public.audit_events"), "PTAUD");
      assert.equal(
        await sqlError(
          client,
          "delete from paytrust_public.audit_events where occurred_at < now() + interval '1 day'",
        ),
        "PTAUD",
      );
    } finally {
      await client.query("rollback");
      client.release();
    }
    const { rows } = await db.pool.query(
      "select action from paytrust_public.audit_events where subject_id = 'x'",
    );
    assert.deepEqual(rows, [{ action: "test.event" }]);
  });

  it("gives the API roles no way to write or delete", async () => {
    for (const role of ["paytrust_admin", "paytrust_tenant"] as const) {
      await asRole(db.pool, role, {}, async (client) => {
        assert.equal(
          await sqlError(
            client,
            "insert into paytrust_public.audit_events (action) values ('forged')",
          ),
          "42501",
        );
        assert.equal(
          await sqlError(client, "update paytrust_public.audit_events set action = 'forged'"),
          "42501",
        );
        assert.equal(await sqlError(client, "delete from paytrust_public.audit_events"), "42501");
        assert.equal(
          await sqlError(client, "select paytrust_private.purge_audit_events('0 days')"),
          "42501",
        );
      });
    }
  });

  it("allows deletes only inside the purge, and switches the permission off again", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("select paytrust_private.purge_audit_events('1 day')");
      assert.equal(await sqlError(client, "delete from paytrust_public.audit_events"), "PTAUD");
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});

describe("audit retention", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  async function seed(tag: string) {
    await db.pool.query(
      `insert into paytrust_public.audit_events (action, subject_id, occurred_at)
       select 'retention.test', $1 || ':' || age, now() - make_interval(days => age)
         from unnest(array[0, 29, 31, 364, 366, 800]) as age`,
      [tag],
    );
  }
  async function remaining(tag: string): Promise<string[]> {
    const { rows } = await db.pool.query(
      "select subject_id from paytrust_public.audit_events where subject_id like $1 || ':%' order by occurred_at desc",
      [tag],
    );
    return rows.map((r) => r.subject_id.split(":")[1]);
  }

  function fakeHelpers(): { helpers: JobHelpers; lines: string[] } {
    const lines: string[] = [];
    const helpers = {
      query: (text: string, values?: unknown[]) => db.pool.query(text, values as any[]),
      logger: { info: (line: string) => lines.push(line), debug() {}, warn() {}, error() {} },
    } as unknown as JobHelpers;
    return { helpers, lines };
  }

  it("the cron task deletes entries older than the default retention (365 days) and keeps the rest", async () => {
    await seed("default");
    const { helpers, lines } = fakeHelpers();
    await maintenance__purge_audit_log(null, helpers);
    assert.deepEqual(await remaining("default"), ["0", "29", "31", "364"]);
    assert.match(lines[0], /Purged 2 audit rows older than 365 days/);
  });

  it("honours a configured retention", async () => {
    await seed("custom");
    const { helpers } = fakeHelpers();
    await maintenance__purge_audit_log({ retentionDays: 30 }, helpers);
    assert.deepEqual(await remaining("custom"), ["0", "29"]);
  });

  it("is scheduled daily with PAYTRUST_AUDIT_RETENTION_DAYS", () => {
    const config = loadConfig({ PAYTRUST_AUDIT_RETENTION_DAYS: "90" });
    const line = crontab(config, ["maintenance__purge_audit_log"]);
    assert.match(line, /^17 3 \* \* \* maintenance__purge_audit_log \S+ \{"retentionDays":90\}$/);
    assert.equal(loadConfig({}).auditRetentionDays, 365);
  });

  it("runs as a real graphile-worker job", async () => {
    await seed("worker");
    const worker = await startTestApp(db, { serve: false, worker: true });
    try {
      await db.pool.query(
        "select graphile_worker.add_job('maintenance__purge_audit_log', '{\"retentionDays\": 30}')",
      );
      await eventually(async () => (await remaining("worker")).length === 2);
      assert.deepEqual(await remaining("worker"), ["0", "29"]);
    } finally {
      await worker.stop();
    }
  });
});
