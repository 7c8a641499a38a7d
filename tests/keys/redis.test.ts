/**
 * Rate limits against the real Redis on 127.0.0.1:6379 (REDIS_TEST_URL to
 * override). These tests FAIL when Redis is unreachable: shared limits are a
 * feature to prove, not to skip. Each run uses its own key prefix
 * (REDIS_URL ?keyPrefix=), so concurrent runs never share counters.
 */
import { randomBytes } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Redis } from "ioredis";
import { freePort, startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { call, codeOf, eventually, ME, randomKey, testIp } from "./helpers.ts";

const REDIS = new URL(process.env.REDIS_TEST_URL ?? "redis://127.0.0.1:6379/0");
const PREFIX = `paytrust-test-${process.pid}-${randomBytes(4).toString("hex")}`;
const redisUrl = (port = Number(REDIS.port || 6379)) =>
  `redis://${REDIS.hostname}:${port}/0?keyPrefix=${PREFIX}`;

/** A TCP proxy in front of Redis that the test can cut and restore: Redis "going away". */
class RedisProxy {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  connections = 0;
  readonly port: number;
  constructor(port: number) {
    this.port = port;
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      this.connections++;
      const upstream = connect(Number(REDIS.port || 6379), REDIS.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("rate limits shared through the real Redis", () => {
  let db: TestDatabase;
  let redis: Redis;
  const apps: TestApp[] = [];
  const proxies: RedisProxy[] = [];
  const start = async (url: string, env: Record<string, string> = {}) => {
    const app = await startTestApp(db, { env: { REDIS_URL: url, ...env } });
    apps.push(app);
    return app;
  };

  beforeAll(async () => {
    redis = new Redis(REDIS.toString(), {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    });
    redis.on("error", () => {});
    db = await freshDatabase();
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.stop()));
    await Promise.all(proxies.map((proxy) => proxy.cut()));
    if (redis.status === "ready") {
      const keys = await redis.keys(`${PREFIX}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    } else redis.disconnect();
    await db?.drop();
  });

  it("Redis answers on 127.0.0.1:6379 (required: this suite fails without it)", async () => {
    await redis.connect().catch((error) => {
      throw new Error(
        `Redis at ${REDIS.host} is unreachable (${error.message}); start it to run these tests`,
      );
    });
    expect(await redis.ping()).toBe("PONG");
  });

  it("two instances with the same REDIS_URL enforce ONE limit", async () => {
    const [a, b] = await Promise.all([start(redisUrl()), start(redisUrl())]);
    const tenant = await createTenant(db.pool, "Shared budget");
    await db.pool.query(
      "update paytrust_public.tenants set rate_limit_per_minute = 5 where id = $1",
      [tenant.tenantId],
    );
    const order = [a, b, a, b, a];
    for (const [i, app] of order.entries()) {
      const res = await call(app, ME, { apiKey: tenant.apiKey });
      // `request ${i + 1}`
      expect(res.status).toBe(200);
      // the budget is counted across instances
      expect(res.headers.get("ratelimit-remaining")).toBe(String(4 - i));
    }
    for (const app of [b, a]) {
      const res = await call(app, ME, { apiKey: tenant.apiKey });
      expect(res.status).toBe(429);
      expect(codeOf(res)).toBe("PTRATE");
      expect(Number(res.headers.get("retry-after")) >= 1).toBeTruthy();
    }
    // the counter lives in Redis
    expect(Number(await redis.get(`${PREFIX}:key:${tenant.keyId}`)) >= 5).toBeTruthy();
  });

  it("shares the failed-authentication budget: brute force spread over instances is still stopped", async () => {
    const [a, b] = await Promise.all([start(redisUrl()), start(redisUrl())]);
    const ip = testIp();
    for (let i = 0; i < 30; i++) {
      const res = await call(i % 2 ? a : b, ME, { apiKey: randomKey(), ip });
      // `attempt ${i + 1}`
      expect(res.status).toBe(401);
    }
    expect((await call(a, ME, { apiKey: randomKey(), ip })).status).toBe(429);
    expect((await call(b, ME, { apiKey: randomKey(), ip })).status).toBe(429);
  });

  it("starts and serves with per-instance limits when Redis is unreachable from the start", async () => {
    const deadPort = await freePort();
    const app = await start(redisUrl(deadPort));
    const tenant = await createTenant(db.pool, "No Redis");
    await db.pool.query(
      "update paytrust_public.tenants set rate_limit_per_minute = 3 where id = $1",
      [tenant.tenantId],
    );
    for (let i = 0; i < 3; i++)
      expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(200);
    // the in-memory insurance limiter
    expect((await call(app, ME, { apiKey: tenant.apiKey })).status).toBe(429);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });

  it("survives Redis going away mid-run (per-instance limits) and shares limits again when it is back", async () => {
    const proxy = new RedisProxy(await freePort());
    proxies.push(proxy);
    await proxy.start();
    const app = await start(redisUrl(proxy.port));
    const tenant = await createTenant(db.pool, "Outage");
    await db.pool.query(
      "update paytrust_public.tenants set rate_limit_per_minute = 4 where id = $1",
      [tenant.tenantId],
    );
    const me = () => call(app, ME, { apiKey: tenant.apiKey });

    // Two requests counted in Redis.
    for (let i = 0; i < 2; i++) expect((await me()).status).toBe(200);
    expect(await redis.get(`${PREFIX}:key:${tenant.keyId}`)).toBe("2");

    // Redis goes away: no crash, no hang; the instance enforces the limit on its own.
    await proxy.cut();
    const started = Date.now();
    const during = [];
    for (let i = 0; i < 5; i++) during.push((await me()).status);
    // fresh per-instance budget of 4, then 429
    expect(during).toEqual([200, 200, 200, 200, 429]);
    // requests are not held up waiting for Redis
    expect(Date.now() - started < 5000).toBeTruthy();
    // nothing reached Redis meanwhile
    expect(await redis.get(`${PREFIX}:key:${tenant.keyId}`)).toBe("2");

    // Redis is back: the instance reconnects and counts in Redis again (2 used there, 2 left),
    // although its in-memory budget is spent.
    const before = proxy.connections;
    await proxy.start();
    await eventually(async () => proxy.connections > before, 10_000);
    await eventually(async () => (await me()).status === 200, 5_000);
    const count = Number(await redis.get(`${PREFIX}:key:${tenant.keyId}`));
    // `counting in Redis again (${count})`
    expect(count >= 3).toBeTruthy();
  });
});
