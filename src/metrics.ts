/**
 * Prometheus metrics (prom-client): request counts and latencies, webhook and
 * job outcomes. Label values are bounded: a request is labelled with its route
 * template (`/pay/:id`), never its URL, and every path PayTrust does not serve
 * shares the one label "unmatched", so no client can grow the series count.
 * GET /metrics is served only with PAYTRUST_METRICS_TOKEN set, and answers only
 * `Authorization: Bearer <that token>` (compared in constant time).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import client from "prom-client";

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const httpDuration = new client.Histogram({
  name: "paytrust_http_request_duration_seconds",
  help: "HTTP request duration by route and status",
  labelNames: ["route", "status"],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const webhookCounter = new client.Counter({
  name: "paytrust_webhooks_total",
  help: "Webhooks received by gateway and outcome",
  labelNames: ["gateway", "outcome"],
  registers: [registry],
});

export const jobCounter = new client.Counter({
  name: "paytrust_jobs_total",
  help: "Worker jobs by task and outcome",
  labelNames: ["task", "outcome"],
  registers: [registry],
});

const EXACT_ROUTES = new Set([
  "/graphql",
  "/graphiql",
  "/healthz",
  "/readyz",
  "/metrics",
  "/webhooks/xendit",
  "/webhooks/midtrans",
  "/sandbox",
]);
const TEMPLATES: Array<[RegExp, string]> = [
  [/^\/pay\/[^/]+$/, "/pay/:id"],
  [/^\/invoices\/[^/]+\/pain\.001\.xml$/, "/invoices/:id/pain.001.xml"],
  [/^\/invoices\/[^/]+\/pain\.002\.xml$/, "/invoices/:id/pain.002.xml"],
  [/^\/sandbox\/checkout\//, "/sandbox/checkout/*"],
  [/^\/sandbox\/(xendit|midtrans)\//, "/sandbox/api/*"],
];

/** The route template of a path, from a fixed list; "unmatched" for everything else. */
export function routeOf(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, "") : path;
  if (EXACT_ROUTES.has(trimmed)) return trimmed;
  for (const [pattern, template] of TEMPLATES) if (pattern.test(trimmed)) return template;
  return "unmatched";
}

/** Status codes as they come, except unusual ones (bounded: 1xx-5xx classes). */
const statusLabel = (status: number) => (status >= 100 && status <= 599 ? String(status) : "other");

export function observeRequests(req: Request, res: Response, next: NextFunction): void {
  const end = httpDuration.startTimer();
  res.on("finish", () => end({ route: routeOf(req.path), status: statusLabel(res.statusCode) }));
  next();
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** GET /metrics behind `Authorization: Bearer <token>`: 401 PTAUTH otherwise. */
export function metricsHandler(token: string) {
  const expected = digest(token);
  return async (req: Request, res: Response): Promise<void> => {
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    // Digests have one length, so the comparison takes the same time whatever was sent.
    if (!match || !timingSafeEqual(digest(match[1]), expected)) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="metrics"');
      res.status(401).json({
        errors: [
          {
            message: "Send Authorization: Bearer <PAYTRUST_METRICS_TOKEN>",
            extensions: { code: "PTAUTH" },
          },
        ],
      });
      return;
    }
    res.setHeader("Content-Type", registry.contentType);
    res.setHeader("Cache-Control", "no-store");
    res.end(await registry.metrics());
  };
}
