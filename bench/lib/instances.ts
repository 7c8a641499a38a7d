/**
 * --instances N: N PayTrust processes (API + worker + sandbox each, as
 * `npm start` runs them) on one PostgreSQL, their rate limits in one Redis.
 *   1. createInvoice, the HTTP connections split evenly across the N
 *      processes (closed loop, as the single-process API phase): total and
 *      per-process throughput, merged latency, errors.
 *   2. Shared limits: a second tenant limited to LIMIT requests a minute
 *      sends LIMIT requests to EACH process; with the limits in Redis exactly
 *      LIMIT are accepted in total (per-process memory limits would accept
 *      N × LIMIT).
 *   3. Webhooks across workers: the webhook phase with webhook k sent to
 *      process k mod N (duplicates usually reach another process than their
 *      original), then the rows are counted: one processed event per payment
 *      attempt, every invoice paid exactly once; which process's worker ran
 *      each job comes from the processes' own task counts.
 *   4. Outbound webhooks across workers: for part 3 the bench tenant has a
 *      webhook endpoint (invoice.paid, payment.succeeded) on a receiver in
 *      the bench process; every outbound event the payments wrote must arrive
 *      exactly once (counted by PayTrust-Event-Id), whichever worker sent it.
 */
import { createServer, type Server } from "node:http";
import type { AutocannonRequest } from "autocannon";
import { Redis } from "ioredis";
import pg from "pg";
import type { ServerChild } from "./child.ts";
import { type BenchDatabase, type BenchTenant, createBenchTenant } from "./database.ts";
import { graphqlBody, SET_CLAIMS_SQL, tenantClaims } from "./invoice.ts";
import { hasGraphqlErrors, httpLoad } from "./load.ts";
import { type CpuSplit, startCpuMeter } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import { progress } from "./progress.ts";
import { type LatencySummary, summarise } from "./stats.ts";
import { runWebhooks, type WebhookResult } from "./webhooks.ts";

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
/** Requests a minute allowed to the limited tenant of the shared-limit check. */
export const SHARED_LIMIT = 60;

export interface InstancesResult {
  instances: number;
  redis: string;
  pools: { dbPoolSize: number; workerConcurrency: number };
  createInvoice: {
    connections: number;
    durationS: number;
    throughput: number;
    perInstance: number[];
    latency: LatencySummary;
    errors: number;
    errorSamples: string[];
    cpu: CpuSplit | null;
  };
  sharedLimit: {
    limitPerMinute: number;
    sentPerInstance: number;
    acceptedPerInstance: number[];
    refused: number;
    otherErrors: number;
    /** Accepted in total == the limit: every process counted in the same Redis budget. */
    shared: boolean;
  };
  webhooks?: WebhookResult;
  /** Outbound events of part 3, as the bench's endpoint received them. */
  outbound?: OutboundResult;
}

export interface OutboundResult {
  eventTypes: string[];
  /** outbound_events rows written for the bench tenant during part 3. */
  events: number;
  /** Distinct PayTrust-Event-Id values received. */
  received: number;
  /** Deliveries beyond the first of an event. */
  duplicates: number;
  /** Received but not in outbound_events (should be 0). */
  unknown: number;
  /** webhook__deliver jobs per process. */
  deliveriesByInstance: number[];
  exactlyOnce: boolean;
}

const OUTBOUND_TYPES = ["invoice.paid", "payment.succeeded"];

/** The tenant's receiving end: counts deliveries per event id, answers 200. */
async function startReceiver(): Promise<{
  url: string;
  seen: Map<string, number>;
  server: Server;
}> {
  const seen = new Map<string, number>();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["paytrust-event-id"] ?? "");
      if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}/paytrust-events`, seen, server };
}

/** createWebhookEndpoint's SQL, as the bench tenant (through the authenticator, as the API). */
async function createEndpoint(db: BenchDatabase, url: string): Promise<string> {
  const client = new pg.Client({ connectionString: db.urls.authUrl });
  await client.connect();
  try {
    await client.query("begin");
    await client.query(SET_CLAIMS_SQL, [tenantClaims(db.tenant)]);
    const { rows } = await client.query<{ id: string }>(
      "select id from paytrust_hidden.create_webhook_endpoint($1, $2::text[])",
      [url, OUTBOUND_TYPES],
    );
    await client.query("commit");
    return rows[0].id;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

/** Waits until every event written since `since` arrived (or the timeout), then a little more for duplicates. */
async function collectOutbound(
  db: BenchDatabase,
  seen: Map<string, number>,
  since: string,
  timeoutS = 60,
): Promise<Omit<OutboundResult, "deliveriesByInstance" | "eventTypes">> {
  const line = progress("outbound webhooks: delivering");
  const deadline = performance.now() + timeoutS * 1000;
  let ids = new Set<string>();
  for (;;) {
    const { rows } = await db.ownerPool.query<{ id: string }>(
      "select id from paytrust_public.outbound_events where tenant_id = $1 and created_at >= $2 and type = any($3)",
      [db.tenant.tenantId, since, OUTBOUND_TYPES],
    );
    ids = new Set(rows.map((r) => r.id));
    const arrived = [...ids].filter((id) => seen.has(id)).length;
    line.update(`${arrived}/${ids.size} events received`);
    if (arrived === ids.size || performance.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const received = [...ids].filter((id) => seen.has(id)).length;
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
  const unknown = [...seen.keys()].filter((id) => !ids.has(id)).length;
  line.done(`${received}/${ids.size} events received, ${duplicates} duplicates`);
  return {
    events: ids.size,
    received,
    duplicates,
    unknown,
    exactlyOnce: received === ids.size && duplicates === 0 && unknown === 0,
  };
}

/** REDIS_URL (default local) with a key prefix of its own, so runs never share counters. */
export function redisUrlForRun(runId: string, base = process.env.REDIS_URL || DEFAULT_REDIS_URL) {
  const url = new URL(base);
  url.searchParams.set("keyPrefix", `paytrust-bench-${runId}`);
  return url.toString();
}

/** Fails the phase early (and clearly) when Redis does not answer. */
export async function checkRedis(redisUrl: string): Promise<void> {
  const url = new URL(redisUrl);
  url.search = "";
  const redis = new Redis(url.toString(), {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error: any) {
    throw new Error(
      `--instances needs Redis for the shared limits (${url.host}): ${error?.message ?? error}`,
    );
  } finally {
    redis.disconnect();
  }
}

async function splitCreateInvoice(
  children: ServerChild[],
  db: BenchDatabase,
  options: BenchOptions,
): Promise<InstancesResult["createInvoice"]> {
  const perChild = Math.max(1, Math.floor(options.connections / children.length));
  const request: AutocannonRequest = {
    method: "POST",
    path: "/graphql",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${db.tenant.apiKey}`,
      "user-agent": "paytrust-bench",
    },
    body: graphqlBody(),
  };
  // A first request per process before the clock starts (key cache, plans, JIT), as a client would.
  await Promise.all(
    children.map(async (child) => {
      const res = await fetch(`${child.url}/graphql`, {
        method: "POST",
        headers: request.headers,
        body: request.body,
      });
      await res.text();
    }),
  );
  let endCpu: (() => CpuSplit) | undefined;
  const runs = await Promise.all(
    children.map((child, k) =>
      httpLoad({
        label: `createInvoice (${children.length} instances, ${perChild} connections each)`,
        quiet: k > 0,
        url: child.url,
        connections: perChild,
        durationS: options.durationS,
        warmupS: options.warmupS,
        requests: [request],
        failed: (body) => hasGraphqlErrors(body) || !body.includes('"invoice":{'),
        onSecond: (elapsed) => {
          if (k === 0 && !endCpu && elapsed >= options.warmupS - 0.5)
            endCpu = startCpuMeter(
              children.map((c) => c.pid),
              db.postgres,
            );
        },
      }),
    ),
  );
  const warmupMs = options.warmupS * 1000;
  const latencies = runs.flatMap((r) => r.recorder.window(warmupMs, Number.POSITIVE_INFINITY));
  const durationS = Math.max(...runs.map((r) => r.durationS));
  return {
    connections: perChild * children.length,
    durationS,
    throughput: runs.reduce((sum, r) => sum + r.throughput, 0),
    perInstance: runs.map((r) => r.throughput),
    latency: summarise(latencies),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    errorSamples: runs.flatMap((r) => r.errorSamples).slice(0, 5),
    cpu: endCpu?.() ?? null,
  };
}

async function sharedLimitCheck(
  children: ServerChild[],
  tenant: BenchTenant,
): Promise<InstancesResult["sharedLimit"]> {
  const line = progress(`shared limit (${SHARED_LIMIT}/min, ${children.length} instances)`);
  const body = JSON.stringify({ query: "{ __typename }" });
  const headers = { "content-type": "application/json", authorization: `Bearer ${tenant.apiKey}` };
  const accepted = children.map(() => 0);
  let refused = 0;
  let otherErrors = 0;
  // Interleaved, a few at a time: k-th request of every process before the (k+1)-th.
  for (let k = 0; k < SHARED_LIMIT; k += 5) {
    await Promise.all(
      children.flatMap((child, c) =>
        Array.from({ length: Math.min(5, SHARED_LIMIT - k) }, async () => {
          const res = await fetch(`${child.url}/graphql`, { method: "POST", headers, body });
          await res.text();
          if (res.status === 200) accepted[c]++;
          else if (res.status === 429) refused++;
          else otherErrors++;
        }),
      ),
    );
  }
  const total = accepted.reduce((a, b) => a + b, 0);
  line.done(`${total} of ${SHARED_LIMIT * children.length} accepted, ${refused} refused (429)`);
  return {
    limitPerMinute: SHARED_LIMIT,
    sentPerInstance: SHARED_LIMIT,
    acceptedPerInstance: accepted,
    refused,
    otherErrors,
    shared: total === SHARED_LIMIT && otherErrors === 0,
  };
}

export async function runInstances(
  children: ServerChild[],
  db: BenchDatabase,
  options: BenchOptions,
  context: { redisUrl: string; pools: InstancesResult["pools"]; settle: () => Promise<void> },
): Promise<InstancesResult> {
  const createInvoice = await splitCreateInvoice(children, db, options);
  const limited = await createBenchTenant(db.ownerPool, "Rate-limited tenant", SHARED_LIMIT);
  const sharedLimit = await sharedLimitCheck(children, limited);
  const result: InstancesResult = {
    instances: children.length,
    redis: new URL(context.redisUrl).host,
    pools: context.pools,
    createInvoice,
    sharedLimit,
  };
  if (options.phases.includes("webhooks")) {
    await context.settle();
    const receiver = await startReceiver();
    try {
      const endpointId = await createEndpoint(db, receiver.url);
      const deliveredBefore = await Promise.all(children.map((c) => c.taskCounts()));
      const { rows } = await db.ownerPool.query<{ now: string }>("select now()::text as now");
      result.webhooks = await runWebhooks(db, children, options);
      const collected = await collectOutbound(db, receiver.seen, rows[0].now);
      const deliveredAfter = await Promise.all(children.map((c) => c.taskCounts()));
      result.outbound = {
        eventTypes: OUTBOUND_TYPES,
        ...collected,
        deliveriesByInstance: deliveredAfter.map(
          (after, k) => (after.webhook__deliver ?? 0) - (deliveredBefore[k].webhook__deliver ?? 0),
        ),
      };
      await db.ownerPool.query(
        "update paytrust_public.webhook_endpoints set enabled = false where id = $1",
        [endpointId],
      );
    } finally {
      receiver.server.closeAllConnections();
      await new Promise((resolve) => receiver.server.close(resolve));
    }
  }
  return result;
}
