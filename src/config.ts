/**
 * Configuration from the environment, parsed once and validated: a bad value
 * stops the process with a clear message (code PTENV) instead of a surprise later.
 */
import { resolve } from "node:path";

export type GatewayMode = "sandbox" | "live";

export interface Config {
  databaseUrl: string | undefined;
  port: number;
  host: string;
  gatewayMode: GatewayMode;
  publicBaseUrl: string | undefined;
  xenditSecretKey: string;
  xenditCallbackToken: string;
  xenditBaseUrl: string | undefined;
  midtransServerKey: string;
  midtransSnapUrl: string | undefined;
  midtransApiUrl: string | undefined;
  redisUrl: string | undefined;
  stateDir: string;
  isDev: boolean;
  gatewayTimeoutMs: number;
  workerConcurrency: number;
  /** PostGraphile's pool: small on purpose, PostgreSQL does more with fewer busy backends. */
  dbPoolSize: number;
  gatewayMaxAttempts: number;
  webhookMaxAttempts: number;
  rateLimitPerMinute: number;
  webhookRateLimitPerMinute: number;
  authFailuresPerMinute: number;
  auditRetentionDays: number;
  reconcileAfterSeconds: number;
  /** A job locked longer than this is presumed dead (killed worker) and its work re-queued. */
  sweepStalledAfterSeconds: number;
  /** How often the sweeper runs (it re-schedules itself; the minute cron restarts it). */
  sweepIntervalSeconds: number;
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
}

export class ConfigError extends Error {
  code = "PTENV";
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function url(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a valid URL`);
  }
  return raw.replace(/\/+$/, "");
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = env.PAYTRUST_GATEWAY_MODE || "sandbox";
  if (mode !== "sandbox" && mode !== "live") {
    throw new ConfigError(`PAYTRUST_GATEWAY_MODE must be "sandbox" or "live", got "${mode}"`);
  }
  const config: Config = {
    databaseUrl: url(env, "DATABASE_URL"),
    port: integer(env, "PORT", 5678, 0, 65535),
    host: env.HOST || "127.0.0.1",
    gatewayMode: mode,
    publicBaseUrl: url(env, "PUBLIC_BASE_URL"),
    // Sandbox defaults: the sandbox signs with the same values it is given.
    xenditSecretKey: env.XENDIT_SECRET_KEY || (mode === "sandbox" ? "xnd_development_sandbox" : ""),
    xenditCallbackToken:
      env.XENDIT_CALLBACK_TOKEN || (mode === "sandbox" ? "sandbox-callback-token" : ""),
    xenditBaseUrl: url(env, "XENDIT_BASE_URL"),
    midtransServerKey:
      env.MIDTRANS_SERVER_KEY || (mode === "sandbox" ? "SB-Mid-server-sandbox" : ""),
    midtransSnapUrl: url(env, "MIDTRANS_SNAP_URL"),
    midtransApiUrl: url(env, "MIDTRANS_API_URL"),
    redisUrl: url(env, "REDIS_URL"),
    stateDir: resolve(env.PAYTRUST_STATE_DIR || ".paytrust"),
    isDev: env.NODE_ENV !== "production",
    gatewayTimeoutMs: integer(env, "PAYTRUST_GATEWAY_TIMEOUT_MS", 10_000, 100, 120_000),
    workerConcurrency: integer(env, "PAYTRUST_WORKER_CONCURRENCY", 4, 1, 64),
    dbPoolSize: integer(env, "PAYTRUST_DB_POOL_SIZE", 10, 1, 500),
    gatewayMaxAttempts: integer(env, "PAYTRUST_GATEWAY_MAX_ATTEMPTS", 8, 1, 25),
    webhookMaxAttempts: integer(env, "PAYTRUST_WEBHOOK_MAX_ATTEMPTS", 10, 1, 25),
    rateLimitPerMinute: integer(env, "PAYTRUST_RATE_LIMIT_PER_MINUTE", 600, 1, 100_000_000),
    webhookRateLimitPerMinute: integer(
      env,
      "PAYTRUST_WEBHOOK_RATE_LIMIT_PER_MINUTE",
      6000,
      1,
      100_000_000,
    ),
    authFailuresPerMinute: integer(env, "PAYTRUST_AUTH_FAILURES_PER_MINUTE", 30, 1, 100_000),
    auditRetentionDays: integer(env, "PAYTRUST_AUDIT_RETENTION_DAYS", 365, 1, 36500),
    reconcileAfterSeconds: integer(env, "PAYTRUST_RECONCILE_AFTER_SECONDS", 900, 1, 86400 * 30),
    // Must exceed the longest legitimate job (a gateway job makes up to three
    // calls of PAYTRUST_GATEWAY_TIMEOUT_MS each; statements time out at 30 s),
    // or live work is duplicated. 40 s + a 15 s sweep interval: a killed
    // worker's work is re-queued within 55 s (docs/reliability.md).
    sweepStalledAfterSeconds: integer(env, "PAYTRUST_SWEEP_STALLED_AFTER_SECONDS", 40, 1, 3600),
    sweepIntervalSeconds: integer(env, "PAYTRUST_SWEEP_INTERVAL_SECONDS", 15, 1, 60),
    graphqlMaxDepth: integer(env, "PAYTRUST_GRAPHQL_MAX_DEPTH", 10, 2, 100),
    graphqlMaxCost: integer(env, "PAYTRUST_GRAPHQL_MAX_COST", 500, 10, 100_000),
  };
  if (mode === "live") {
    for (const [name, value] of [
      ["XENDIT_SECRET_KEY", config.xenditSecretKey],
      ["XENDIT_CALLBACK_TOKEN", config.xenditCallbackToken],
      ["MIDTRANS_SERVER_KEY", config.midtransServerKey],
      ["PUBLIC_BASE_URL", config.publicBaseUrl],
    ] as const) {
      if (!value) throw new ConfigError(`${name} is required when PAYTRUST_GATEWAY_MODE=live`);
    }
  }
  return config;
}

/** Where gateways are reached: the real hosts in live mode, the in-process sandbox otherwise. */
export function gatewayUrls(config: Config, selfBaseUrl: string) {
  const live = config.gatewayMode === "live";
  return {
    xenditBaseUrl:
      config.xenditBaseUrl ?? (live ? "https://api.xendit.co" : `${selfBaseUrl}/sandbox/xendit`),
    midtransSnapUrl:
      config.midtransSnapUrl ??
      (live ? "https://app.midtrans.com" : `${selfBaseUrl}/sandbox/midtrans`),
    midtransApiUrl:
      config.midtransApiUrl ??
      (live ? "https://api.midtrans.com" : `${selfBaseUrl}/sandbox/midtrans`),
  };
}
