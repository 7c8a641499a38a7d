/**
 * Wires a PayTrust process together: database (embedded or DATABASE_URL),
 * migrations, pools, key verification, rate limits, the HTTP app and the
 * worker. `npm start` runs everything; `paytrust serve` / `worker` run one half.
 */
import type { Runner } from "graphile-worker";
import type pg from "pg";
import { createKeyVerifier } from "./auth/keyVerifier.ts";
import { createRateLimits } from "./auth/rateLimit.ts";
import { type Config, gatewayUrls } from "./config.ts";
import { migrateDatabase, withDatabase } from "./db/bootstrap.ts";
import { type DatabaseUrls, makePool, resolveDatabase, runtimeUrlOf } from "./db/connection.ts";
import { RequestClient } from "./db/requestClient.ts";
import type { SandboxControl } from "./gateways/sandbox.ts";
import { createLogger, type Logger, lineLog, lineSink } from "./logger.ts";
import { mountRoutes } from "./routes/index.ts";
import { type RunningApp, startApp } from "./server.ts";
import { startWorker } from "./worker.ts";

export interface RuntimeOptions {
  config: Config;
  serve: boolean;
  work: boolean;
  migrate: boolean;
  /** Pre-resolved database (tests); otherwise resolved from config. */
  database?: DatabaseUrls;
  /** The process's logger (src/logger.ts); default: one from config (PAYTRUST_LOG_*) on stdout. */
  logger?: Logger;
  /** Without `logger`: receives each log line (JSON) instead of stdout. */
  log?: (line: string) => void;
}

export interface Runtime {
  db: DatabaseUrls;
  /**
   * The runtime role's pool (paytrust_runtime, not the owner: the owner only
   * migrates): worker, webhook receivers, /pay/:id, key lookups, /readyz.
   */
  runtimePool: pg.Pool;
  app: RunningApp | null;
  /** The in-process sandbox gateways (sandbox mode, serving processes only). */
  sandbox: SandboxControl | null;
  worker: Runner | null;
  stop(): Promise<void>;
}

/** Resolves when no client of the pool is checked out or awaited, or after `timeoutMs`. */
async function untilIdle(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((pool.waitingCount > 0 || pool.totalCount > pool.idleCount) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runtime-role connections of the HTTP side; the worker's pool has its own. */
const HTTP_RUNTIME_POOL = 6;

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config } = options;
  const logger =
    options.logger ??
    createLogger({
      level: config.logLevel,
      format: options.log ? "json" : config.logFormat,
      destination: options.log ? lineSink(options.log) : undefined,
    });
  // Modules that log free text (rate limits, webhooks, embedded PostgreSQL) get a line adapter.
  const db =
    options.database ?? (await resolveDatabase(config, { log: lineLog(logger, "database") }));
  const cleanups: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await db.stop();
  };
  try {
    if (options.migrate) {
      await migrateDatabase({
        ownerUrl: db.ownerUrl,
        rootUrl: db.rootUrl,
        authenticatorPassword: db.authenticatorPassword,
        includeCurrent: config.applyCurrentMigration,
        logger,
      });
    }
    // Least privilege: nothing at run time connects as the owner. The HTTP side
    // (webhook receivers, /pay, key lookups) and the worker get separate pools
    // of the runtime role: a flood of requests must never starve the worker,
    // whose job completions fail when a connection takes longer than the
    // connect timeout. Together they hold what the shared pool did
    // (PAYTRUST_WORKER_CONCURRENCY + 10; bench/lib/connections.ts).
    const runtimePool = makePool(runtimeUrlOf(db), HTTP_RUNTIME_POOL);
    cleanups.push(() => runtimePool.end());

    // The sandbox and the webhook URLs point back at this process unless told otherwise.
    const selfUrl = `http://${config.host}:${config.port}`;
    const publicBaseUrl = config.publicBaseUrl ?? selfUrl;
    const urls = gatewayUrls(config, selfUrl);

    let app: RunningApp | null = null;
    let sandbox: SandboxControl | null = null;
    if (options.serve) {
      // PostGraphile's pool: begin + pgSettings in one round trip, mutations prepared.
      const authPool = makePool(db.authUrl, config.dbPoolSize, { Client: RequestClient });
      cleanups.push(() => authPool.end());
      // Its own connection: a busy API pool must never make the probe report the database down.
      const healthPool = makePool(db.authUrl, 1);
      cleanups.push(() => healthPool.end());
      // Watch mode (development): PostGraphile's event triggers need a superuser to install.
      let watchSuperuserPool: pg.Pool | undefined;
      if (config.watch) {
        const pool = makePool(withDatabase(db.rootUrl, new URL(db.ownerUrl).pathname.slice(1)), 1);
        cleanups.push(() => pool.end());
        watchSuperuserPool = pool;
      }
      const verifier = await createKeyVerifier(runtimePool);
      cleanups.push(() => verifier.close());
      const rateLimits = createRateLimits({
        redisUrl: config.redisUrl,
        defaultPerMinute: config.rateLimitPerMinute,
        webhookPerMinute: config.webhookRateLimitPerMinute,
        publicPerMinute: config.publicRateLimitPerMinute,
        failedAuthPerMinute: config.authFailuresPerMinute,
        log: lineLog(logger, "rate-limit"),
      });
      cleanups.push(() => rateLimits.close());
      const { sandboxControl, ...routes } = mountRoutes({
        config,
        ownerPool: runtimePool,
        authPool,
        publicBaseUrl,
        selfUrl,
        rateLimits,
        log: lineLog(logger, "http"),
      });
      sandbox = sandboxControl;
      app = await startApp(
        {
          config,
          ownerPool: runtimePool,
          authPool,
          healthPool,
          verifier,
          rateLimits,
          logger,
          publicBaseUrl,
          watchSuperuserPool,
          ...routes,
        },
        { port: config.port, host: config.host },
      );
      const running = app;
      cleanups.push(() => running.close());
    }
    let worker: Runner | null = null;
    if (options.work) {
      const workerPool = makePool(
        runtimeUrlOf(db),
        config.workerConcurrency + 10 - HTTP_RUNTIME_POOL,
      );
      // graphile-worker completes a finished job without awaiting it, so a
      // completion can still be queued on the pool when runner.stop() returns:
      // ending the pool then would leave it to time out (an unhandled
      // rejection). Let the pool go idle first, bounded.
      cleanups.push(async () => {
        await untilIdle(workerPool, 5_000);
        await workerPool.end();
      });
      worker = await startWorker({
        config,
        pool: workerPool,
        gatewayUrls: urls,
        publicBaseUrl,
        log: lineLog(logger, "worker"),
        logger,
      });
      const running = worker;
      cleanups.push(() => running.stop());
    }
    return { db, runtimePool, app, sandbox, worker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
