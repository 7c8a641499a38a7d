import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
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
    expect(pick(tenantRow)).toEqual(who);
    expect(tenantRow.tenant_id).toBe(tenantId);
    expect(tenantRow.subject_id).toBe(tenantId);
    const [createRow] = await rows("api_key.create");
    expect(pick(createRow)).toEqual(who);
    expect(createRow.subject_id).toBe(keyId);
    expect(createRow.tenant_id).toBe(tenantId);
    expect(createRow.details.name).toBe("audited key");
    expect(createRow.details.prefix).toMatch(/^[a-z0-9]{12}$/);

    const [rotateRow] = await rows("api_key.rotate");
    expect(pick(rotateRow)).toEqual(who);
    expect(rotateRow.subject_id).toBe(keyId);
    expect(rotateRow.tenant_id).toBe(tenantId);
    expect(rotateRow.details.new_api_key_id).toBe(successorId);
    expect(rotateRow.details.grace_seconds).toBe(30);
    expect(rotateRow.details.expires_at).toBeTruthy();

    const [revokeRow] = await rows("api_key.revoke");
    expect(pick(revokeRow)).toEqual(who);
    expect(revokeRow.subject_id).toBe(successorId);
    expect(revokeRow.tenant_id).toBe(tenantId);
  });

  it("records failed authentications with the reason, IP and user agent, never the secret", async () => {
    const failed = await rows("auth.failed");
    expect(failed.map((r) => r.details.reason).sort()).toEqual(["missing", "revoked", "unknown"]);
    for (const row of failed) {
      expect(row.user_agent).toBe(userAgent);
      // a failed attempt acts as nobody
      expect(row.api_key_id).toBe(null);
      expect(!JSON.stringify(row.details).includes("pt_live_")).toBeTruthy();
    }
    const revoked = failed.find((r) => r.details.reason === "revoked");
    // the attacked key is the subject
    expect(revoked.subject_id).toBe(successorId);
    expect(revoked.tenant_id).toBe(tenantId);
    expect(revoked.details.prefix).toMatch(/^[a-z0-9]{12}$/);
  });

  it("apiKeyAuditLogs filters by key, tenant, action and time range, newest first", async () => {
    const byKey = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { apiKeyId: admin.keyId } }),
    ).apiKeyAuditLogs;
    expect(byKey.nodes.map((n: any) => n.action)).toEqual([
      "api_key.revoke",
      "api_key.rotate",
      "api_key.create",
      "tenant.create",
    ]);
    expect(byKey.totalCount).toBe(4);
    const node = byKey.nodes[0];
    expect(node.ip).toBe(ip);
    expect(node.userAgent).toBe(userAgent);
    expect(node.actorRole).toBe("admin");
    expect(typeof node.details).toBe("object");

    const byTenant = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { tenantId } }),
    ).apiKeyAuditLogs;
    expect(byTenant.nodes.every((n: any) => n.tenantId === tenantId)).toBeTruthy();
    // attempts on the tenant's keys show up
    expect(byTenant.nodes.some((n: any) => n.action === "auth.failed")).toBeTruthy();

    const byAction = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { action: "api_key.rotate", tenantId },
      }),
    ).apiKeyAuditLogs;
    expect(byAction.totalCount).toBe(1);
    expect(byAction.nodes[0].subjectId).toBe(keyId);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const none = dataOf(
      await call(app, AUDIT_LOGS, { apiKey: admin.apiKey, variables: { after: future } }),
    ).apiKeyAuditLogs;
    expect(none.totalCount).toBe(0);
    const window = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { apiKeyId: admin.keyId, after: startedAt, before: future },
      }),
    ).apiKeyAuditLogs;
    expect(window.totalCount).toBe(4);
    const before = dataOf(
      await call(app, AUDIT_LOGS, {
        apiKey: admin.apiKey,
        variables: { apiKeyId: admin.keyId, before: startedAt },
      }),
    ).apiKeyAuditLogs;
    expect(before.totalCount).toBe(0);
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
    expect(seen.length).toBe(4);
    expect(new Set(seen).size).toBe(4);
    const ids = seen.map(Number);
    // newest first
    expect(ids).toEqual([...ids].sort((x, y) => y - x));
  });

  it("tenant keys see nothing of the audit log", async () => {
    const tenantKey = dataOf(
      await call(app, CREATE_API_KEY, {
        apiKey: admin.apiKey,
        variables: { tenantId, name: "curious tenant" },
      }),
    ).createApiKey.plaintextKey;
    const res = await call(app, AUDIT_LOGS, { apiKey: tenantKey, variables: { tenantId } });
    expect(codeOf(res)).toBe("PTPRM");
    expect(res.body.data?.apiKeyAuditLogs ?? null).toBe(null);
    const single = await call(app, "query($id: BigInt!) { auditEvent(id: $id) { id action } }", {
      apiKey: tenantKey,
      variables: { id: "1" },
    });
    expect(single.body.data?.auditEvent ?? null).toBe(null);
    // Even with SELECT through a role, RLS hides every row from tenants.
    const count = await asRole(db.pool, "paytrust_tenant", { tenantId }, async (client) => {
      return sqlError(client, "select count(*) from paytrust_public.audit_events");
    });
    expect(count).toBe("42501");
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
      expect(
        await sqlError(client, "update paytrust_public.audit_events set action = 'forged'"),
      ).toBe("PTAUD");
      expect(await sqlError(client, "delete from paytrust_public.audit_events")).toBe("PTAUD");
      expect(await sqlError(client, "truncate paytrust_public.audit_events")).toBe("PTAUD");
      expect(
        await sqlError(
          client,
          "delete from paytrust_public.audit_events where occurred_at < now() + interval '1 day'",
        ),
      ).toBe("PTAUD");
    } finally {
      await client.query("rollback");
      client.release();
    }
    const { rows } = await db.pool.query(
      "select action from paytrust_public.audit_events where subject_id = 'x'",
    );
    expect(rows).toEqual([{ action: "test.event" }]);
  });

  it("gives the API roles no way to write or delete", async () => {
    for (const role of ["paytrust_admin", "paytrust_tenant"] as const) {
      await asRole(db.pool, role, {}, async (client) => {
        expect(
          await sqlError(
            client,
            "insert into paytrust_public.audit_events (action) values ('forged')",
          ),
        ).toBe("42501");
        expect(
          await sqlError(client, "update paytrust_public.audit_events set action = 'forged'"),
        ).toBe("42501");
        expect(await sqlError(client, "delete from paytrust_public.audit_events")).toBe("42501");
        expect(await sqlError(client, "select paytrust_private.purge_audit_events('0 days')")).toBe(
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
      expect(await sqlError(client, "delete from paytrust_public.audit_events")).toBe("PTAUD");
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
    expect(await remaining("default")).toEqual(["0", "29", "31", "364"]);
    expect(lines[0]).toMatch(/Purged 2 audit rows older than 365 days/);
  });

  it("honours a configured retention", async () => {
    await seed("custom");
    const { helpers } = fakeHelpers();
    await maintenance__purge_audit_log({ retentionDays: 30 }, helpers);
    expect(await remaining("custom")).toEqual(["0", "29"]);
  });

  it("is scheduled daily with PAYTRUST_AUDIT_RETENTION_DAYS", () => {
    const config = loadConfig({ PAYTRUST_AUDIT_RETENTION_DAYS: "90" });
    const line = crontab(config, ["maintenance__purge_audit_log"]);
    expect(line).toMatch(/^17 3 \* \* \* maintenance__purge_audit_log \S+ \{"retentionDays":90\}$/);
    expect(loadConfig({}).auditRetentionDays).toBe(365);
  });

  it("runs as a real graphile-worker job", async () => {
    await seed("worker");
    const worker = await startTestApp(db, { serve: false, worker: true });
    try {
      await db.pool.query(
        "select graphile_worker.add_job('maintenance__purge_audit_log', '{\"retentionDays\": 30}')",
      );
      await eventually(async () => (await remaining("worker")).length === 2);
      expect(await remaining("worker")).toEqual(["0", "29"]);
    } finally {
      await worker.stop();
    }
  });
});
