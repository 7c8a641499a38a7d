/** Prometheus metrics (prom-client): request counts and latencies, webhook and job outcomes. */
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

const routeOf = (path: string) =>
  path.startsWith("/webhooks/")
    ? path
    : path.startsWith("/invoices/")
      ? "/invoices/:id"
      : path.startsWith("/sandbox/")
        ? "/sandbox"
        : path;

export function observeRequests(req: Request, res: Response, next: NextFunction): void {
  const end = httpDuration.startTimer();
  res.on("finish", () => end({ route: routeOf(req.path), status: String(res.statusCode) }));
  next();
}

export async function metricsHandler(_req: Request, res: Response): Promise<void> {
  res.setHeader("Content-Type", registry.contentType);
  res.end(await registry.metrics());
}
