/**
 * Configuration from the environment, parsed once and validated: a bad value
 * stops the process with a clear message (code PTENV) instead of a surprise later.
 */
import { isIP } from "node:net";
import { resolve } from "node:path";
import { PayTrustError } from "./errors.ts";
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "./logger.ts";

export type GatewayMode = "sandbox" | "live";

/** Express's `trust proxy`: false, a hop count, or addresses/subnets/names (never `true`). */
export type TrustProxy = false | number | string[];

/** Publicly known values: the sandbox's defaults and the passwords shipped in examples. */
export const SANDBOX_DEFAULTS = {
  XENDIT_SECRET_KEY: "xnd_development_sandbox",
  XENDIT_CALLBACK_TOKEN: "sandbox-callback-token",
  MIDTRANS_SERVER_KEY: "SB-Mid-server-sandbox",
} as const;
export const KNOWN_DEFAULT_PASSWORDS = [
  "change-me",
  "changeme",
  "postgres",
  "password",
  "paytrust",
  "secret",
  "paytrust-test-authenticator",
];

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
  /** PAYTRUST_CHECKOUT_EXPIRY_MINUTES: how long a payment attempt stays payable (expiresAt). */
  checkoutExpiryMinutes: number;
  /** A job locked longer than this is presumed dead (killed worker) and its work re-queued. */
  sweepStalledAfterSeconds: number;
  /** How often the sweeper runs (it re-schedules itself; the minute cron restarts it). */
  sweepIntervalSeconds: number;
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
  /** Worst-case values a GraphQL response may hold (lists multiplied; src/plugins/queryLimits.ts). */
  graphqlMaxRowCost: number;
  /** PAYTRUST_INTROSPECTION: the schema is public (introspection without a key); default on only in development. */
  introspection: boolean;
  /** Outbound webhooks may target private, loopback and link-local addresses (and plain http). */
  webhookAllowPrivateUrls: boolean;
  /** Per-delivery timeout of outbound webhooks. */
  webhookDeliveryTimeoutMs: number;
  /** Delay before the first retry of a failed outbound webhook; later ones grow (docs/webhooks.md). */
  webhookRetryBaseSeconds: number;
  /** Apply migrations/current.sql at start-up: development only, and only when asked for. */
  applyCurrentMigration: boolean;
  /**
   * PAYTRUST_WATCH: PostGraphile watches the database and rebuilds the API
   * after DDL (graphile-migrate watch); default on only when NODE_ENV is
   * development (or unset), off in test and production unless set.
   */
  watch: boolean;
  /** `start`/`serve`/`worker` migrate first (false: a DBA runs `paytrust migrate`, the app needs no DDL rights). */
  migrateOnStart: boolean;
  /** Bearer token for GET /metrics; unset: /metrics is not served. */
  metricsToken: string | undefined;
  /** Express's `trust proxy` (PAYTRUST_TRUST_PROXY; default "loopback"). */
  trustProxy: TrustProxy;
  /** Per-IP limit on the public pages: /pay/:id, /readyz, sandbox pages. */
  publicRateLimitPerMinute: number;
  /** Database connections the public pages may hold at once (the rest serve webhooks and the worker). */
  publicDbConcurrency: number;
  /** PAYTRUST_LOG_LEVEL: fatal | error | warn | info (default) | debug | trace | silent. */
  logLevel: LogLevel;
  /** PAYTRUST_LOG_FORMAT: json | pretty | auto (default: pretty in a terminal, JSON otherwise). */
  logFormat: LogFormat;
}

/**
 * Bad configuration is a PayTrustError with code PTENV (docs/errors.md). The
 * alias stays for callers that still name it; new code uses PayTrustError.
 */
export const ConfigError = PayTrustError;
export type ConfigError = PayTrustError;
const configError = (message: string) => new PayTrustError("PTENV", message);

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw configError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max)
    throw configError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  values: readonly T[],
  fallback: T,
): T {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = raw.trim().toLowerCase() as T;
  if (!values.includes(value))
    throw configError(`${name} must be one of ${values.join(", ")}; got "${raw}"`);
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw configError(`${name} must be true or false, got "${raw}"`);
}

const TRUST_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

/**
 * PAYTRUST_TRUST_PROXY: "false"/"0" (trust no proxy), a hop count 1..10, or a
 * comma-separated list of loopback | linklocal | uniquelocal | IP | IP/prefix.
 * "true" (trust every X-Forwarded-For entry) is refused: any client could then
 * choose its own address and escape the per-IP limits.
 */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const name = "PAYTRUST_TRUST_PROXY";
  if (raw === undefined || raw.trim() === "") return ["loopback"];
  const value = raw.trim();
  if (/^(false|0)$/i.test(value)) return false;
  if (/^true$/i.test(value))
    throw configError(
      `${name}=true would trust any client's X-Forwarded-For; give the hop count (e.g. 1) or the proxies' addresses`,
    );
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > 10) throw configError(`${name} hop count must be 1..10, got ${hops}`);
    return hops;
  }
  const entries = value.split(",").map((entry) => entry.trim());
  for (const entry of entries) {
    if (TRUST_NAMES.has(entry)) continue;
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (!family || !prefixOk || extra !== undefined)
      throw configError(
        `${name} must be false, a hop count, or a list of loopback|linklocal|uniquelocal|IP|IP/prefix; got "${entry}"`,
      );
  }
  return entries;
}

function passwordOf(connectionString: string | undefined): string {
  if (!connectionString) return "";
  try {
    return decodeURIComponent(new URL(connectionString).password);
  } catch {
    return "";
  }
}

function url(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  try {
    new URL(raw);
  } catch {
    throw configError(`${name} is not a valid URL`);
  }
  return raw.replace(/\/+$/, "");
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === "production";
  // Fail closed: in production nobody gets the sandbox (public tokens, fake payments) by accident.
  if (production && !env.PAYTRUST_GATEWAY_MODE)
    throw configError(
      'PAYTRUST_GATEWAY_MODE must be set when NODE_ENV=production ("live", or "sandbox" for a demo)',
    );
  const mode = env.PAYTRUST_GATEWAY_MODE || "sandbox";
  if (mode !== "sandbox" && mode !== "live") {
    throw configError(`PAYTRUST_GATEWAY_MODE must be "sandbox" or "live", got "${mode}"`);
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
    isDev: !production,
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
    // At most 365 days: Xendit's invoice_duration limit (31,536,000 s).
    checkoutExpiryMinutes: integer(env, "PAYTRUST_CHECKOUT_EXPIRY_MINUTES", 1440, 1, 525_600),
    // Must exceed the longest legitimate job (a gateway job makes up to three
    // calls of PAYTRUST_GATEWAY_TIMEOUT_MS each; statements time out at 30 s),
    // or live work is duplicated. 40 s + a 15 s sweep interval: a killed
    // worker's work is re-queued within 55 s (docs/reliability.md).
    sweepStalledAfterSeconds: integer(env, "PAYTRUST_SWEEP_STALLED_AFTER_SECONDS", 40, 1, 3600),
    sweepIntervalSeconds: integer(env, "PAYTRUST_SWEEP_INTERVAL_SECONDS", 15, 1, 60),
    graphqlMaxDepth: integer(env, "PAYTRUST_GRAPHQL_MAX_DEPTH", 10, 2, 100),
    graphqlMaxCost: integer(env, "PAYTRUST_GRAPHQL_MAX_COST", 500, 10, 100_000),
    graphqlMaxRowCost: integer(env, "PAYTRUST_GRAPHQL_MAX_ROW_COST", 50_000, 100, 10_000_000),
    introspection: boolean(env, "PAYTRUST_INTROSPECTION", !production),
    webhookAllowPrivateUrls: boolean(
      env,
      "PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS",
      env.NODE_ENV !== "production" || mode === "sandbox",
    ),
    webhookDeliveryTimeoutMs: integer(
      env,
      "PAYTRUST_WEBHOOK_DELIVERY_TIMEOUT_MS",
      10_000,
      100,
      60_000,
    ),
    webhookRetryBaseSeconds: integer(env, "PAYTRUST_WEBHOOK_RETRY_BASE_SECONDS", 30, 1, 3600),
    applyCurrentMigration: boolean(env, "PAYTRUST_APPLY_CURRENT_MIGRATION", false),
    watch: boolean(env, "PAYTRUST_WATCH", !env.NODE_ENV || env.NODE_ENV === "development"),
    migrateOnStart: boolean(env, "PAYTRUST_MIGRATE_ON_START", true),
    metricsToken: env.PAYTRUST_METRICS_TOKEN || undefined,
    trustProxy: parseTrustProxy(env.PAYTRUST_TRUST_PROXY),
    publicRateLimitPerMinute: integer(
      env,
      "PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE",
      600,
      1,
      100_000_000,
    ),
    publicDbConcurrency: integer(env, "PAYTRUST_PUBLIC_DB_CONCURRENCY", 2, 1, 100),
    logLevel: oneOf(env, "PAYTRUST_LOG_LEVEL", LOG_LEVELS, "info"),
    logFormat: oneOf(env, "PAYTRUST_LOG_FORMAT", LOG_FORMATS, "auto"),
  };
  if (production && config.applyCurrentMigration)
    throw configError(
      "PAYTRUST_APPLY_CURRENT_MIGRATION is for development only: commit the migration instead",
    );
  if (config.metricsToken !== undefined && config.metricsToken.length < 16)
    throw configError("PAYTRUST_METRICS_TOKEN must be at least 16 characters");
  if (mode === "live") {
    for (const [name, value] of [
      ["XENDIT_SECRET_KEY", config.xenditSecretKey],
      ["XENDIT_CALLBACK_TOKEN", config.xenditCallbackToken],
      ["MIDTRANS_SERVER_KEY", config.midtransServerKey],
      ["PUBLIC_BASE_URL", config.publicBaseUrl],
    ] as const) {
      if (!value) throw configError(`${name} is required when PAYTRUST_GATEWAY_MODE=live`);
    }
    for (const [name, value] of Object.entries(SANDBOX_DEFAULTS)) {
      if (env[name] === value)
        throw configError(
          `${name} is the sandbox's public default; set the real secret for PAYTRUST_GATEWAY_MODE=live`,
        );
    }
    for (const [name, password] of [
      ["DATABASE_AUTHENTICATOR_PASSWORD", env.DATABASE_AUTHENTICATOR_PASSWORD ?? ""],
      ["AUTH_DATABASE_URL", passwordOf(env.AUTH_DATABASE_URL)],
      ["DATABASE_URL", passwordOf(env.DATABASE_URL)],
    ] as const) {
      if (password && KNOWN_DEFAULT_PASSWORDS.includes(password.toLowerCase()))
        throw configError(
          `${name} uses a publicly known default password; generate one (e.g. openssl rand -base64 24)`,
        );
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
