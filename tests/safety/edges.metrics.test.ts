/**
 * Issue 14 item 3: /metrics answers only `Authorization: Bearer
 * $PAYTRUST_METRICS_TOKEN`, is not served without the variable, and its label
 * values stay bounded however many distinct URLs clients request.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { routeOf } from "../../src/metrics.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

const TOKEN = "metrics-token-for-tests-0123456789";

describe("/metrics", () => {
  let db: TestDatabase;
  let app: TestApp;
  let closed: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { env: { PAYTRUST_METRICS_TOKEN: TOKEN } });
    closed = await startTestApp(db);
  });
  afterAll(async () => {
    await app?.stop();
    await closed?.stop();
    await db?.drop();
  });

  const scrape = (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) =>
    fetch(`${app.url}/metrics`, { headers });

  it("refuses requests without the token or with a wrong one (401 PTAUTH)", async () => {
    for (const headers of [
      {},
      { authorization: "Bearer wrong-token-wrong-token" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}` },
      { authorization: TOKEN },
    ] as Record<string, string>[]) {
      const res = await scrape(headers);
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(body.errors[0].extensions.code).toBe("PTAUTH");
    }
  });

  it("answers the right Bearer token with Prometheus text", async () => {
    const res = await scrape();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    expect(await res.text()).toMatch(/paytrust_http_request_duration_seconds_bucket/);
  });

  it("is not served at all without PAYTRUST_METRICS_TOKEN", async () => {
    const res = await fetch(`${closed.url}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(404);
  });

  it("keeps label cardinality bounded after 120 distinct URLs", async () => {
    // Warm every label the flood below can produce, then count.
    await fetch(`${app.url}/pay/${randomUUID()}`);
    await fetch(`${app.url}/no-such-page`);
    await fetch(`${app.url}/pay/not-a-uuid/extra`);
    // PayTrust's own series: Node's default metrics (GC kinds, heap spaces)
    // can gain lines under load whatever the URLs are.
    const ownSeries = (text: string) =>
      text.split("\n").filter((line) => line.startsWith("paytrust_")).length;
    const before = ownSeries(await (await scrape()).text());

    const urls = [
      ...Array.from({ length: 60 }, () => `/pay/${randomUUID()}`),
      ...Array.from({ length: 40 }, (_, i) => `/unknown-${i}/${randomUUID()}`),
      ...Array.from({ length: 20 }, (_, i) => `/pay/x${i}/y`),
    ];
    expect(new Set(urls).size).toBe(120);
    for (const url of urls) {
      const res = await fetch(`${app.url}${url}`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    const text = await (await scrape()).text();
    const after = ownSeries(text);
    // Only sample values change; no new series appear.
    expect(after - before).toBe(0);

    const routes = new Set(
      [...text.matchAll(/paytrust_http_request_duration_seconds_count\{route="([^"]*)"/g)].map(
        (m) => m[1],
      ),
    );
    expect(routes.has("/pay/:id")).toBe(true);
    expect(routes.has("unmatched")).toBe(true);
    for (const route of routes) expect(route).not.toMatch(/[0-9a-f]{8}-|unknown-/);
    expect(routes.size).toBeLessThanOrEqual(16);
  });

  it("maps paths to a fixed set of templates", () => {
    expect(routeOf(`/pay/${randomUUID()}`)).toBe("/pay/:id");
    expect(routeOf(`/invoices/${randomUUID()}/pain.001.xml`)).toBe("/invoices/:id/pain.001.xml");
    expect(routeOf("/webhooks/xendit")).toBe("/webhooks/xendit");
    expect(routeOf("/webhooks/anything-else")).toBe("unmatched");
    expect(routeOf("/sandbox/checkout/xendit/abc/pay")).toBe("/sandbox/checkout/*");
    expect(routeOf("/graphql/")).toBe("/graphql");
    expect(routeOf("/%2e%2e/etc/passwd")).toBe("unmatched");
  });
});
