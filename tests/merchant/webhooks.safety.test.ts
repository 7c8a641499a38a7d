/**
 * Outbound webhooks are bounded and safe: private, loopback and link-local
 * targets are refused when PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS=false (at
 * creation and again at delivery), deliveries time out, answers are cut at
 * 4 KB, an endpoint failing for 3 days is disabled with an audit row, the
 * outbox is transactional and secrets are not readable by tenants.
 */
import { createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { deliverWebhook, postWebhook, retryDelaySeconds } from "../../src/outbound/deliver.ts";
import { isBlockedAddress, parseWebhookUrl } from "../../src/outbound/urlPolicy.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { asRole, createTenant, freshDatabase, sqlError, type TestDatabase } from "../helpers/db.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

const CREATE = `mutation($url: String!) {
  createWebhookEndpoint(input: {url: $url, eventTypes: ["invoice.paid"]}) { webhookEndpoint { id } secret } }`;

describe("outbound webhooks: safety", () => {
  let db: TestDatabase;
  let app: TestApp;
  let receiver: Receiver;
  let tenant: { tenantId: string; apiKey: string; keyId: string };
  const query = (text: string, values: unknown[]) => db.pool.query(text, values);

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: { PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS: "false" } });
    receiver = await startReceiver();
    tenant = await createTenant(db.pool, "Toko Budi");
  });
  afterAll(async () => {
    await app.stop();
    await receiver.close();
    await db.drop();
  });

  /** An endpoint written directly (as the owner), bypassing the API's URL checks. */
  const endpointTo = async (url: string) => {
    const { rows } = await db.pool.query(
      `insert into paytrust_public.webhook_endpoints (tenant_id, url, event_types)
       values ($1, $2, '{*}') returning id`,
      [tenant.tenantId, url],
    );
    await db.pool.query(
      "insert into paytrust_private.webhook_endpoint_secrets (endpoint_id, secret) values ($1, 'whsec_test')",
      [rows[0].id],
    );
    return rows[0].id as string;
  };
  const emit = async () => {
    const { rows } = await db.pool.query(
      `select paytrust_private.emit_event($1, 'invoice.paid', '{"object": "invoice"}') as id`,
      [tenant.tenantId],
    );
    return rows[0].id as string;
  };
  const lastDelivery = async (eventId: string, endpointId: string) => {
    const { rows } = await db.pool.query(
      `select * from paytrust_public.webhook_deliveries where event_id = $1 and endpoint_id = $2
        order by id desc limit 1`,
      [eventId, endpointId],
    );
    return rows[0];
  };

  it("classifies addresses", () => {
    for (const a of [
      "127.0.0.1",
      "10.1.2.3",
      "172.16.0.1",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "ff02::1",
      "not-an-ip",
    ])
      expect([a, isBlockedAddress(a)]).toEqual([a, true]);
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
      expect([a, isBlockedAddress(a)]).toEqual([a, false]);
  });

  it("requires https and no credentials unless private targets are allowed", () => {
    expect(() => parseWebhookUrl("http://example.com/hook", { allowPrivate: false })).toThrow(
      /https/,
    );
    expect(() => parseWebhookUrl("https://u:p@example.com/", { allowPrivate: false })).toThrow(
      /credentials/,
    );
    expect(() => parseWebhookUrl("ftp://example.com/", { allowPrivate: true })).toThrow(/https/);
    expect(parseWebhookUrl("https://example.com/hook", { allowPrivate: false }).host).toBe(
      "example.com",
    );
    expect(parseWebhookUrl("http://127.0.0.1:9/x", { allowPrivate: true }).port).toBe("9");
  });

  it("createWebhookEndpoint refuses private, loopback and link-local targets (PTURL)", async () => {
    for (const url of [
      receiver.url,
      "https://127.0.0.1/hook",
      "https://localhost/hook",
      "https://[::1]/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://10.0.0.1/hook",
      "https://[::ffff:127.0.0.1]/hook",
      "http://example.com/hook",
      "not a url",
    ]) {
      const res = await app.gql(CREATE, { url }, tenant.apiKey);
      expect([url, res.body.errors?.[0]?.extensions?.code]).toEqual([url, "PTURL"]);
    }
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.webhook_endpoints",
    );
    expect(rows[0].n).toBe(0);
  });

  it("a delivery to a loopback URL is refused at delivery time too (no request is made)", async () => {
    for (const url of [receiver.url, receiver.url.replace("127.0.0.1", "localhost")]) {
      const endpointId = await endpointTo(url);
      const eventId = await emit();
      const before = receiver.received.length;
      const outcome = await deliverWebhook(
        query,
        { eventId, endpointId, attempt: 1 },
        { policy: { allowPrivate: false }, timeoutMs: 2000, retryBaseSeconds: 30 },
      );
      expect(outcome).toBe("retry");
      expect(receiver.received.length).toBe(before);
      const delivery = await lastDelivery(eventId, endpointId);
      expect(delivery).toMatchObject({ status: "failed", status_code: null, attempt: 1 });
      expect(delivery.error).toMatch(/private, loopback or link-local|https/);
      // The next attempt is queued for later, under the same event id.
      const { rows } = await db.pool.query(
        `select payload, run_at > now() + interval '20 seconds' as later from graphile_worker._private_jobs
          where key = $1`,
        [`webhook__deliver:${eventId}:${endpointId}`],
      );
      expect(rows[0]).toEqual({ payload: { eventId, endpointId, attempt: 2 }, later: true });
      await db.pool.query("delete from paytrust_public.webhook_endpoints where id = $1", [
        endpointId,
      ]);
    }
  });

  it("the socket itself only connects to checked addresses (DNS rebinding)", async () => {
    // postWebhook skips the pre-check deliverWebhook makes: the lookup inside the connection refuses.
    const before = receiver.received.length;
    const result = await postWebhook(
      new URL(receiver.url.replace("127.0.0.1", "localhost")),
      "{}",
      {},
      { policy: { allowPrivate: false }, timeoutMs: 2000 },
    );
    expect(result.statusCode).toBe(null);
    expect(result.error).toMatch(/private, loopback or link-local/);
    expect(receiver.received.length).toBe(before);
  });

  it("the same delivery goes through when private targets are allowed", async () => {
    const endpointId = await endpointTo(receiver.url);
    const eventId = await emit();
    const outcome = await deliverWebhook(
      query,
      { eventId, endpointId, attempt: 1 },
      { policy: { allowPrivate: true }, timeoutMs: 2000, retryBaseSeconds: 30 },
    );
    expect(outcome).toBe("delivered");
    expect(receiver.received.at(-1)!.body.id).toBe(eventId);
    await db.pool.query("delete from paytrust_public.webhook_endpoints where id = $1", [
      endpointId,
    ]);
  });

  it("times out a receiver that never answers, keeps at most 4 KB of an answer", async () => {
    const hanging: TcpServer = createTcpServer(() => {});
    await new Promise<void>((r) => hanging.listen(0, "127.0.0.1", () => r()));
    const port = (hanging.address() as { port: number }).port;
    const slowId = await endpointTo(`http://127.0.0.1:${port}/`);
    const eventId = await emit();
    const started = Date.now();
    const outcome = await deliverWebhook(
      query,
      { eventId, endpointId: slowId, attempt: 1 },
      { policy: { allowPrivate: true }, timeoutMs: 300, retryBaseSeconds: 30 },
    );
    expect(outcome).toBe("retry");
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await lastDelivery(eventId, slowId)).error).toBe("Timed out after 300 ms");
    hanging.close();

    const big = createTcpServer((socket) => {
      socket.on("data", () => {
        socket.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n${"x".repeat(20_000)}`);
      });
    });
    await new Promise<void>((r) => big.listen(0, "127.0.0.1", () => r()));
    const bigId = await endpointTo(`http://127.0.0.1:${(big.address() as { port: number }).port}/`);
    const outcome2 = await deliverWebhook(
      query,
      { eventId, endpointId: bigId, attempt: 1 },
      { policy: { allowPrivate: true }, timeoutMs: 2000, retryBaseSeconds: 30 },
    );
    expect(outcome2).toBe("delivered");
    expect((await lastDelivery(eventId, bigId)).response_body.length).toBe(4096);
    big.close();
  });

  it("retries back off: 30 s, 2 min, 8 min, … at most 12 h, spanning 3 days", () => {
    const delays = Array.from({ length: 12 }, (_, i) => retryDelaySeconds(i + 1, 30));
    expect(delays.slice(0, 4)).toEqual([30, 120, 480, 1920]);
    expect(Math.max(...delays)).toBe(12 * 3600);
    expect(delays.reduce((a, b) => a + b, 0)).toBeGreaterThan(3 * 86400);
  });

  it("an endpoint failing for 3 days is disabled, with an audit row", async () => {
    const endpointId = await endpointTo("https://127.0.0.1/never");
    const eventId = await emit();
    await db.pool.query(
      "update paytrust_public.webhook_endpoints set failing_since = now() - interval '3 days 1 minute' where id = $1",
      [endpointId],
    );
    const outcome = await deliverWebhook(
      query,
      { eventId, endpointId, attempt: 7 },
      { policy: { allowPrivate: false }, timeoutMs: 2000, retryBaseSeconds: 30 },
    );
    expect(outcome).toBe("disabled");
    const { rows } = await db.pool.query(
      "select enabled, disabled_reason from paytrust_public.webhook_endpoints where id = $1",
      [endpointId],
    );
    expect(rows[0]).toEqual({ enabled: false, disabled_reason: "Deliveries failed for 3 days" });
    const audit = await db.pool.query(
      "select tenant_id, actor_role from paytrust_public.audit_events where action = 'webhook_endpoint.disabled' and subject_id = $1",
      [endpointId],
    );
    expect(audit.rows).toEqual([{ tenant_id: tenant.tenantId, actor_role: "worker" }]);
    // A disabled endpoint gets nothing more: new events queue no job, pending ones are 'gone'.
    const later = await emit();
    const jobs = await db.pool.query(
      "select count(*)::int as n from graphile_worker.jobs where key = $1",
      [`webhook__deliver:${later}:${endpointId}`],
    );
    expect(jobs.rows[0].n).toBe(0);
    expect(
      await deliverWebhook(
        query,
        { eventId: later, endpointId, attempt: 1 },
        { policy: { allowPrivate: false }, timeoutMs: 2000, retryBaseSeconds: 30 },
      ),
    ).toBe("gone");
  });

  it("a delivery job a killed worker left locked is re-queued by the sweep", async () => {
    const endpointId = await endpointTo("https://example.com/sweep");
    const eventId = await emit();
    const key = `webhook__deliver:${eventId}:${endpointId}`;
    // As if a worker took the job and died 10 minutes ago.
    await db.pool.query(
      `update graphile_worker._private_jobs set locked_at = now() - interval '10 minutes', locked_by = 'dead'
        where key = $1`,
      [key],
    );
    const swept = await db.pool.query(
      "select paytrust_private.sweep_stalled_webhook_deliveries(interval '45 seconds') as n",
    );
    expect(swept.rows[0].n).toBeGreaterThanOrEqual(1);
    const { rows } = await db.pool.query(
      "select locked_at, payload from graphile_worker._private_jobs where key = $1",
      [key],
    );
    expect(rows).toEqual([{ locked_at: null, payload: { eventId, endpointId, attempt: 1 } }]);
    // A job locked only briefly (a delivery in progress) is left alone.
    await db.pool.query(
      "update graphile_worker._private_jobs set locked_at = now() - interval '30 seconds', locked_by = 'busy' where key = $1",
      [key],
    );
    const again = await db.pool.query(
      "select paytrust_private.sweep_stalled_webhook_deliveries(interval '1 second') as n",
    );
    expect(again.rows[0].n).toBe(0);
    await db.pool.query(
      "delete from graphile_worker._private_jobs where key = $1 or locked_by in ('dead', 'busy')",
      [key],
    );
    await db.pool.query("delete from paytrust_public.webhook_endpoints where id = $1", [
      endpointId,
    ]);
  });

  it("the outbox is transactional: a rolled-back change leaves no event and no job", async () => {
    const client = await db.pool.connect();
    let eventId: string;
    try {
      await client.query("begin");
      const { rows } = await client.query(
        `select paytrust_private.emit_event($1, 'invoice.paid', '{}') as id`,
        [tenant.tenantId],
      );
      eventId = rows[0].id;
      await client.query("rollback");
    } finally {
      client.release();
    }
    const events = await db.pool.query(
      "select count(*)::int as n from paytrust_public.outbound_events where id = $1",
      [eventId],
    );
    expect(events.rows[0].n).toBe(0);
    const jobs = await db.pool.query(
      "select count(*)::int as n from graphile_worker.jobs where key like $1",
      [`webhook__deliver:${eventId}:%`],
    );
    expect(jobs.rows[0].n).toBe(0);
  });

  it("tenants cannot read secrets, write events or deliveries, or see other tenants' rows", async () => {
    const other = await createTenant(db.pool, "Toko Lain");
    await endpointTo("https://example.com/mine");
    await emit();
    await asRole(db.pool, "paytrust_tenant", { tenantId: tenant.tenantId }, async (c) => {
      expect(await sqlError(c, "select * from paytrust_private.webhook_endpoint_secrets")).toBe(
        "42501",
      );
      expect(
        await sqlError(
          c,
          "insert into paytrust_public.outbound_events (tenant_id, type, data) values ($1, 'invoice.paid', '{}')",
          [tenant.tenantId],
        ),
      ).toBe("42501");
      expect(
        await sqlError(
          c,
          "update paytrust_public.webhook_endpoints set url = 'https://evil.example/'",
        ),
      ).toBe("42501");
      expect(
        await sqlError(c, "select paytrust_private.emit_event($1, 'invoice.paid', '{}')", [
          tenant.tenantId,
        ]),
      ).toBe("42501");
      const mine = await c.query("select count(*)::int as n from paytrust_public.outbound_events");
      expect(mine.rows[0].n).toBeGreaterThan(0);
    });
    await asRole(db.pool, "paytrust_tenant", { tenantId: other.tenantId }, async (c) => {
      for (const table of ["webhook_endpoints", "outbound_events", "webhook_deliveries"]) {
        const { rows } = await c.query(`select count(*)::int as n from paytrust_public.${table}`);
        expect([table, rows[0].n]).toEqual([table, 0]);
      }
    });
  });
});
