/**
 * The HTTP edge: security headers, health and metrics, webhooks, the sandbox
 * gateways, authentication, rate limits, REST document routes and PostGraphile.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import type pg from "pg";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/express/v4";
import type { KeyVerifier } from "./auth/keyVerifier.ts";
import { authenticate } from "./auth/middleware.ts";
import type { RateLimits } from "./auth/rateLimit.ts";
import type { Config } from "./config.ts";
import { monitorDatabase } from "./db/health.ts";
import { committedMigrationCount } from "./db/migrationsStatus.ts";
import { PayTrustError } from "./errors.ts";
import { sendError, sendPayTrustError } from "./http/errors.ts";
import { createLogger, type Logger } from "./logger.ts";
import { metricsHandler, observeRequests } from "./metrics.ts";
import {
  attachWebsockets,
  DEFAULT_QUERY_LIMITS,
  makePreset,
  publicIntrospection,
  type QueryLimits,
  queryLimits,
  schemaPlugins,
  type WebsocketAuth,
} from "./plugins/preset.ts";
import { requestLogging } from "./requestLog.ts";
import { concurrencyGate, type Gate } from "./routes/gate.ts";
import { securityHeaders } from "./routes/securityHeaders.ts";

export interface AppDeps {
  config: Config;
  ownerPool: pg.Pool;
  authPool: pg.Pool;
  /** A one-connection pool for the database health probe. */
  healthPool: pg.Pool;
  verifier: KeyVerifier;
  rateLimits: RateLimits;
  publicBaseUrl: string;
  /**
   * Extra routers mounted before authentication (webhooks, sandbox). `publicGate`
   * bounds the database connections public pages hold at once.
   */
  publicRoutes?: (app: Express, publicGate: Gate) => void;
  /** Extra routers mounted after authentication (REST documents). */
  authenticatedRoutes?: (app: Express) => void;
  /** Watch mode (config.watch): a superuser pool that installs PostGraphile's watch triggers. */
  watchSuperuserPool?: pg.Pool;
  /** The process's logger (src/logger.ts): access lines, masked GraphQL errors, unhandled errors. */
  logger?: Logger;
}

export interface RunningApp {
  app: Express;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/**
 * The client address of a raw request (websocket upgrades bypass Express's
 * req.ip): the same walk as Express's proxy-addr, from the socket back through
 * X-Forwarded-For while the hop is a trusted proxy (PAYTRUST_TRUST_PROXY).
 */
export function clientIpOf(
  request: IncomingMessage,
  trust: (address: string, hop: number) => boolean,
): string {
  const forwarded = String(request.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .reverse();
  const addresses = [request.socket.remoteAddress ?? "unknown", ...forwarded];
  for (let hop = 0; hop < addresses.length - 1; hop++)
    if (!trust(addresses[hop], hop)) return addresses[hop];
  return addresses[addresses.length - 1];
}

async function databaseReady(
  pool: pg.Pool,
  up: boolean,
): Promise<{ ok: boolean; reason?: string }> {
  if (!up) return { ok: false, reason: "database unreachable" };
  try {
    const { rows } = await pool.query<{ applied: string }>(
      "select count(*) as applied from graphile_migrate.migrations",
    );
    const expected = await committedMigrationCount();
    if (Number(rows[0].applied) < expected) return { ok: false, reason: "migrations pending" };
    return { ok: true };
  } catch {
    return { ok: false, reason: "database unreachable" };
  }
}

export async function startApp(
  deps: AppDeps,
  listen: { port: number; host: string },
): Promise<RunningApp> {
  const { config, verifier, rateLimits } = deps;
  const logger = deps.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const app = express();
  app.disable("x-powered-by");
  // First: the request id (x-request-id) and one access line per request.
  app.use(requestLogging(logger));
  // req.ip (per-IP limits, audit rows) comes from X-Forwarded-For only through trusted proxies.
  app.set("trust proxy", config.trustProxy);
  // helmet's headers, precomputed once and set in one call per response.
  app.use(
    securityHeaders({
      // GraphiQL (Ruru) and the sandbox checkout page use inline scripts.
      contentSecurityPolicy: false,
      crossOriginEmbedderPolicy: false,
    }),
  );
  app.use(observeRequests);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  const health = monitorDatabase(deps.healthPool);
  // Public pages: their own per-IP budget, and a bound on the connections they hold.
  // /pay/:id holds at most publicDbConcurrency connections; /readyz at most one: concurrent
  // probes share one check in flight, so a flood of either cannot fail the other or the worker.
  const publicGate = concurrencyGate({ max: config.publicDbConcurrency });
  let readiness: Promise<{ ok: boolean; reason?: string }> | null = null;
  const checkReady = () => {
    readiness ??= (async () => databaseReady(deps.ownerPool, await health.probe()))().finally(
      () => {
        readiness = null;
      },
    );
    return readiness;
  };
  app.get("/readyz", rateLimits.publicPages, async (_req, res) => {
    const ready = await checkReady();
    res
      .status(ready.ok ? 200 : 503)
      .json(ready.ok ? { status: "ready" } : { status: "unavailable", reason: ready.reason });
  });
  // Not served at all without a token (then it 404s like any unknown path).
  if (config.metricsToken) app.get("/metrics", metricsHandler(config.metricsToken));

  deps.publicRoutes?.(app, publicGate);

  const graphqlLimits: QueryLimits = {
    ...DEFAULT_QUERY_LIMITS,
    maxDepth: config.graphqlMaxDepth,
    maxCost: config.graphqlMaxCost,
    maxRowCost: config.graphqlMaxRowCost,
  };
  const auth = authenticate({
    verifier,
    optional: (req) =>
      (req.method === "GET" && req.path === "/graphiql") || req.publicIntrospection === true,
    // Every 401 is paid for from the IP's failed-auth budget, reserved before argon2 runs.
    budget: rateLimits.failedAuth,
    onFailure: async (req, failure) => {
      // Within the budget (the middleware answers 429 beyond it): audited, never the secret.
      await deps.ownerPool
        .query(
          `insert into paytrust_public.audit_events (action, tenant_id, subject_id, ip, user_agent, details)
             values ('auth.failed', $1, $2, $3, nullif(left($4, 512), ''),
                     jsonb_strip_nulls(jsonb_build_object('reason', $5::text, 'prefix', $6::text)))`,
          [
            failure.tenantId ?? null,
            failure.keyId ?? null,
            req.ip ?? null,
            String(req.headers["user-agent"] ?? ""),
            failure.reason,
            failure.prefix ?? null,
          ],
        )
        .catch(() => {});
    },
  });
  // While the database is down, answer at once rather than queue requests behind connect timeouts.
  const databaseUp = (_req: Request, res: Response, next: NextFunction) =>
    health.isUp()
      ? next()
      : sendError(res, 503, "PTUNAV", "The database is unavailable; retry shortly");
  // Introspection-only documents need no key while the schema is public (PAYTRUST_INTROSPECTION).
  app.use(
    "/graphql",
    publicIntrospection({
      enabled: config.introspection,
      maxBodyBytes: graphqlLimits.maxBodyBytes,
    }),
  );
  for (const path of ["/graphql", "/invoices"]) {
    app.use(path, databaseUp, rateLimits.bruteForceGuard, auth, rateLimits.perKey);
  }
  deps.authenticatedRoutes?.(app);
  // Depth, cost and body size are checked before PostGraphile sees the request.
  app.use(
    "/graphql",
    queryLimits(graphqlLimits, () => pgl.getSchema()),
  );

  const server = createServer(app);
  const websocketAuth: WebsocketAuth = {
    budget: rateLimits.failedAuth,
    clientIp: (request) => clientIpOf(request, app.get("trust proxy fn")),
  };
  const pgl = postgraphile(
    makePreset({
      authPool: deps.authPool,
      port: listen.port,
      graphiql: config.isDev,
      plugins: schemaPlugins,
      queryLimits: graphqlLimits,
      introspection: config.introspection,
      publicBaseUrl: deps.publicBaseUrl,
      checkoutExpiryMinutes: config.checkoutExpiryMinutes,
      verifier,
      websocketAuth,
      webhookUrlPolicy: { allowPrivate: config.webhookAllowPrivateUrls },
      watch: config.watch ? { superuserPool: deps.watchSuperuserPool } : undefined,
      logger,
    }),
  );
  const serv = pgl.createServ(grafserv);
  // Websockets (subscriptions, graphql-transport-ws) on /graphql; the key in connection_init is
  // verified before the connection is acknowledged (a refused key closes the socket).
  await serv.addTo(app, server, false);
  await attachWebsockets(server, serv, {
    verifier,
    publicBaseUrl: deps.publicBaseUrl,
    auth: websocketAuth,
  });

  // Unknown paths: one JSON answer (and one metrics label, "unmatched").
  app.use((_req: Request, res: Response) => sendError(res, 404, "PTNFD", "Not found"));

  // Anything unexpected: JSON, no stack trace, no internals.
  app.use((error: any, _req: Request, res: Response, _next: NextFunction) => {
    if (error?.type === "entity.too.large")
      return sendError(res, 413, "PTSIZE", "Request body too large");
    if (error?.type === "entity.parse.failed")
      return sendError(res, 400, "PTBODY", "Malformed request body");
    // Any other body-parser refusal (unsupported charset or encoding, aborted upload) is the client's.
    if (typeof error?.type === "string" && error.status >= 400 && error.status < 500) {
      return sendError(res, error.status, "PTBODY", "The request body cannot be read");
    }
    // Thrown on purpose with a code (src/errors.ts): the client gets it, with its status.
    if (error instanceof PayTrustError) return sendPayTrustError(res, error);
    logger.error({ component: "http", err: error }, "Unhandled error");
    sendError(res, 500, "PTINTERNAL", "Internal error");
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : listen.port;
  const url = `http://${listen.host}:${port}`;

  return {
    app,
    server,
    url,
    async close() {
      health.stop();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
      await pgl.release();
      // pgl.release() leaves the pgServices alone: release them (the subscriptions' LISTEN client).
      for (const service of pgl.getResolvedPreset().pgServices ?? []) await service.release?.();
    },
  };
}
