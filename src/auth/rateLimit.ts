/**
 * Rate limits with rate-limiter-flexible, fixed one-minute windows:
 * - per API key: the tenant's `rate_limit_per_minute`, else the platform
 *   default (PAYTRUST_RATE_LIMIT_PER_MINUTE, 600); admin keys get the default;
 * - per IP for failed authentication (missing, malformed, unknown, wrong,
 *   revoked or expired keys): once an IP has used up its budget (30 a minute)
 *   every request from it is refused with 429 before any key is verified, so
 *   brute force costs neither argon2 time nor audit rows. The point is
 *   RESERVED before argon2 runs and refunded when the key turns out valid, so
 *   a concurrent burst of wrong keys cannot run more argon2 verifications (or
 *   get more 401s) than the budget, however many arrive at once;
 * - per IP for webhooks (PAYTRUST_WEBHOOK_RATE_LIMIT_PER_MINUTE), which are
 *   exempt from tenant limits;
 * - per IP for the public pages (/pay/:id, /readyz, sandbox pages;
 *   PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE).
 * The client's IP is `req.ip`, which honours PAYTRUST_TRUST_PROXY.
 * In memory by default; in Redis when REDIS_URL is set, so every instance
 * shares one budget. `REDIS_URL=redis://host:6379/0?keyPrefix=name` namespaces
 * the keys (several deployments or test runs on one Redis).
 *
 * Redis outage policy: DEGRADE to per-instance limits. Each Redis limiter has
 * an in-memory insurance limiter with the same budget; while Redis is down or
 * slow (not ready, or no answer within 500 ms) every instance enforces the
 * limits on its own and nothing crashes. Payments keep flowing (failing closed
 * would turn a cache outage into a payment outage), and abuse stays bounded:
 * at most N instances x the limit. When Redis is back, shared counting resumes.
 *
 * In memory (no REDIS_URL) every check is synchronous: the fixed windows live
 * in one Map (same semantics as rate-limiter-flexible's memory store: a window
 * opens at the first point and lasts a minute; refused points still count), so
 * a request passes the brute-force guard and the per-key limit without a
 * promise or a timer. With Redis, a request with a key costs one round trip:
 * the brute-force check waits for perKey and goes with the key's point in one
 * pipelined write.
 */
import type { NextFunction, Request, Response } from "express";
import { Redis } from "ioredis";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { sendError } from "../http/errors.ts";

export const DEFAULT_FAILED_AUTH_PER_MINUTE = 30;

export interface RateLimitOptions {
  redisUrl?: string;
  defaultPerMinute: number;
  failedAuthPerMinute?: number;
  webhookPerMinute: number;
  /** Per-IP limit on public pages (default 600 a minute). */
  publicPerMinute?: number;
  /** Prefix of every limiter key (default "paytrust", or REDIS_URL's ?keyPrefix=). */
  keyPrefix?: string;
  /** How long to wait for Redis before using the in-memory insurance limiter (ms). */
  redisTimeoutMs?: number;
  log?: (line: string) => void;
}

/** The failed-authentication budget of the requesting IP. */
export interface AuthBudget {
  /** Takes one point now; resolves to a refund function, or null when the budget is spent. */
  take(req: Request): Promise<(() => void) | null>;
  /** The same for a client address (websockets, which bypass Express). */
  takeIp(ip: string): Promise<(() => void) | null>;
  /** Answers 429 PTRATE (with Retry-After) for an IP whose budget is spent. */
  refuse(req: Request, res: Response): Promise<void>;
}

export interface RateLimits {
  /** Failed-auth budget, reserved before a key is verified (see authenticate()). */
  failedAuth: AuthBudget;
  /** Per-IP limit on the public pages. */
  publicPages(req: Request, res: Response, next: NextFunction): void;
  perKey(req: Request, res: Response, next: NextFunction): void;
  /** Counts a failed authentication for the IP; true while the IP is within budget (audit it). */
  perIpFailedAuth(req: Request): Promise<boolean>;
  /** Refuses (429) an IP that has used up its failed-authentication budget. */
  bruteForceGuard(req: Request, res: Response, next: NextFunction): void;
  webhooks(req: Request, res: Response, next: NextFunction): void;
  /** "memory", or "redis" (with the connection's current state). */
  readonly store: string;
  close(): Promise<void>;
}

const WINDOW_SECONDS = 60;

function setHeaders(res: Response, limit: number, result: RateLimiterRes): void {
  const resetSeconds = Math.max(0, Math.ceil(result.msBeforeNext / 1000));
  res.setHeader("RateLimit-Policy", `${limit};w=${WINDOW_SECONDS}`);
  res.setHeader("RateLimit-Limit", String(limit));
  res.setHeader("RateLimit-Remaining", String(Math.max(0, result.remainingPoints)));
  res.setHeader("RateLimit-Reset", String(resetSeconds));
}

function refuse(res: Response, limit: number, result: RateLimiterRes): void {
  setHeaders(res, limit, result);
  res.setHeader("RateLimit-Remaining", "0");
  res.setHeader("Retry-After", String(Math.max(1, Math.ceil(result.msBeforeNext / 1000))));
  sendError(res, 429, "PTRATE", "Too many requests; retry after the time in Retry-After");
}

/** Splits `?keyPrefix=` off a Redis URL. */
export function parseRedisUrl(redisUrl: string): { url: string; keyPrefix?: string } {
  const parsed = new URL(redisUrl);
  const keyPrefix = parsed.searchParams.get("keyPrefix") ?? undefined;
  parsed.searchParams.delete("keyPrefix");
  return { url: parsed.toString(), keyPrefix: keyPrefix || undefined };
}

const ipOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? "unknown";

/** Fixed one-minute windows in one Map, synchronous (the in-memory store). */
class MemoryWindows {
  private windows = new Map<string, { consumed: number; resetAt: number }>();
  private sweeper = setInterval(() => this.sweep(), WINDOW_SECONDS * 1000);

  constructor() {
    this.sweeper.unref();
  }

  /** Takes a point (refused points count too); the result as rate-limiter-flexible reports it. */
  consume(id: string, points: number): { allowed: boolean; result: RateLimiterRes } {
    const now = Date.now();
    let window = this.windows.get(id);
    if (!window || window.resetAt <= now) {
      window = { consumed: 0, resetAt: now + WINDOW_SECONDS * 1000 };
      this.windows.set(id, window);
    }
    window.consumed += 1;
    const result = new RateLimiterRes(
      Math.max(0, points - window.consumed),
      window.resetAt - now,
      window.consumed,
    );
    return { allowed: window.consumed <= points, result };
  }

  get(id: string, points: number): RateLimiterRes | null {
    const now = Date.now();
    const window = this.windows.get(id);
    if (!window || window.resetAt <= now) return null;
    return new RateLimiterRes(
      Math.max(0, points - window.consumed),
      window.resetAt - now,
      window.consumed,
    );
  }

  reward(id: string): void {
    const window = this.windows.get(id);
    if (window && window.resetAt > Date.now()) window.consumed -= 1;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, window] of this.windows) if (window.resetAt <= now) this.windows.delete(id);
  }

  close(): void {
    clearInterval(this.sweeper);
    this.windows.clear();
  }
}

/** The in-memory limits: the same contract as the Redis ones, every check synchronous. */
function memoryRateLimits(options: RateLimitOptions): RateLimits {
  const windows = new MemoryWindows();
  const failedAuthPoints = options.failedAuthPerMinute ?? DEFAULT_FAILED_AUTH_PER_MINUTE;
  const authFailId = (ip: string) => `authfail:${failedAuthPoints}:${ip}`;
  const check = (res: Response, name: string, points: number, key: string): boolean => {
    const { allowed, result } = windows.consume(`${name}:${points}:${key}`, points);
    if (!allowed) {
      refuse(res, points, result);
      return false;
    }
    setHeaders(res, points, result);
    return true;
  };
  const takeIp = (ip: string): (() => void) | null => {
    const id = authFailId(ip);
    if (!windows.consume(id, failedAuthPoints).allowed) return null;
    let refunded = false;
    return () => {
      if (refunded) return;
      refunded = true;
      windows.reward(id);
    };
  };
  return {
    perKey(req, res, next) {
      const key = req.apiKey;
      if (!key) return next();
      if (check(res, "key", key.rateLimitPerMinute ?? options.defaultPerMinute, key.id)) next();
    },
    perIpFailedAuth(req) {
      return Promise.resolve(windows.consume(authFailId(ipOf(req)), failedAuthPoints).allowed);
    },
    bruteForceGuard(req, res, next) {
      const result = windows.get(authFailId(ipOf(req)), failedAuthPoints);
      if (result && result.consumedPoints >= failedAuthPoints)
        return refuse(res, failedAuthPoints, result);
      next();
    },
    failedAuth: {
      take(req) {
        return Promise.resolve(takeIp(ipOf(req)));
      },
      takeIp(ip) {
        return Promise.resolve(takeIp(ip));
      },
      refuse(req, res) {
        const result = windows.get(authFailId(ipOf(req)), failedAuthPoints);
        refuse(
          res,
          failedAuthPoints,
          result ?? new RateLimiterRes(0, WINDOW_SECONDS * 1000, failedAuthPoints),
        );
        return Promise.resolve();
      },
    },
    publicPages(req, res, next) {
      if (check(res, "public", options.publicPerMinute ?? 600, ipOf(req))) next();
    },
    webhooks(req, res, next) {
      if (check(res, "webhook", options.webhookPerMinute, ipOf(req))) next();
    },
    store: "memory",
    async close() {
      windows.close();
    },
  };
}

export function createRateLimits(options: RateLimitOptions): RateLimits {
  if (!options.redisUrl) return memoryRateLimits(options);
  const redisTarget = options.redisUrl ? parseRedisUrl(options.redisUrl) : null;
  const redis = redisTarget
    ? new Redis(redisTarget.url, {
        // Never queue commands while disconnected: fail at once, use the insurance limiter.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 1000,
        commandTimeout: options.redisTimeoutMs ?? 500,
        // Keep trying to come back, at most every 2 s.
        retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
        // Commands issued in one tick go out in one write (perKey: guard + limit, one round trip).
        enableAutoPipelining: true,
      })
    : null;
  // ioredis emits 'error' while Redis is away; the limiters fall back, the process must not crash.
  let lastError = "";
  redis?.on("error", (error: Error) => {
    if (error.message !== lastError)
      options.log?.(
        `Rate limits: Redis unavailable (${error.message}); per-instance limits in use`,
      );
    lastError = error.message;
  });
  redis?.on("ready", () => {
    if (lastError) options.log?.("Rate limits: Redis is back; limits are shared again");
    lastError = "";
  });
  // Right after start-up the first requests would otherwise be counted by the per-instance
  // insurance limiter while ioredis is still connecting: wait for the first answer (bounded).
  let startup: Promise<void> | null = redis
    ? new Promise<void>((resolveStartup) => {
        const done = () => {
          clearTimeout(timer);
          startup = null;
          resolveStartup();
        };
        const timer = setTimeout(done, 1000);
        timer.unref();
        redis.once("ready", done);
        redis.once("error", done);
        redis.once("end", done);
      })
    : null;
  const connected = async () => {
    if (startup) await startup;
  };
  const prefix = options.keyPrefix ?? redisTarget?.keyPrefix ?? "paytrust";
  /** Requests whose brute-force check bruteForceGuard left to perKey. */
  const deferredGuard = new WeakSet<Request>();
  const failedAuthPoints = options.failedAuthPerMinute ?? DEFAULT_FAILED_AUTH_PER_MINUTE;
  const limiters = new Map<string, RateLimiterAbstract>();

  function limiter(name: string, points: number): RateLimiterAbstract {
    const id = `${name}:${points}`;
    let found = limiters.get(id);
    if (!found) {
      const base = { points, duration: WINDOW_SECONDS, keyPrefix: `${prefix}:${name}` };
      found = redis
        ? new RateLimiterRedis({
            ...base,
            storeClient: redis,
            rejectIfRedisNotReady: true,
            insuranceLimiter: new RateLimiterMemory(base),
          })
        : new RateLimiterMemory(base);
      limiters.set(id, found);
    }
    return found;
  }

  /** Consumes one point; false (and a 429 sent) when the budget is spent. */
  async function consume(
    res: Response,
    name: string,
    points: number,
    key: string,
  ): Promise<boolean> {
    try {
      await connected();
      const result = await limiter(name, points).consume(key, 1);
      setHeaders(res, points, result);
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        refuse(res, points, rejection);
        return false;
      }
      return true; // the insurance limiter failed too: let the request through
    }
  }

  return {
    perKey(req, res, next) {
      const key = req.apiKey;
      if (!key && !deferredGuard.has(req)) return next();
      if (!key) {
        // Let through without a key (GraphiQL's page, public introspection): the guard alone.
        deferredGuard.delete(req);
        void limiter("authfail", failedAuthPoints)
          .get(ipOf(req))
          .catch(() => null)
          .then((spent) =>
            spent && spent.consumedPoints >= failedAuthPoints
              ? refuse(res, failedAuthPoints, spent)
              : next(),
          );
        return;
      }
      const points = key.rateLimitPerMinute ?? options.defaultPerMinute;
      if (!deferredGuard.has(req)) {
        void consume(res, "key", points, key.id).then((ok) => ok && next());
        return;
      }
      // The brute-force check deferred by bruteForceGuard and the key's point, issued in one
      // tick: ioredis pipelines them (enableAutoPipelining), one round trip per request.
      deferredGuard.delete(req);
      const guard = limiter("authfail", failedAuthPoints)
        .get(ipOf(req))
        .catch(() => null);
      void Promise.all([guard, consume(res, "key", points, key.id)]).then(([spent, ok]) => {
        if (!ok) return;
        if (spent && spent.consumedPoints >= failedAuthPoints)
          return refuse(res, failedAuthPoints, spent);
        next();
      });
    },
    async perIpFailedAuth(req) {
      try {
        await limiter("authfail", failedAuthPoints).consume(ipOf(req), 1);
        return true;
      } catch (rejection) {
        return !(rejection instanceof RateLimiterRes);
      }
    },
    bruteForceGuard(req, res, next) {
      // A request with a key: checked in perKey, in the same round trip as the key's limit.
      // Until then nothing is executed, and a key that needs verifying (argon2) first reserves
      // a point of this very budget (failedAuth.take), so a spent budget still refuses it.
      if (redis?.status === "ready" && !startup && req.headers.authorization) {
        deferredGuard.add(req);
        return next();
      }
      connected()
        .then(() => limiter("authfail", failedAuthPoints).get(ipOf(req)))
        .then((result) => {
          if (result && result.consumedPoints >= failedAuthPoints)
            return refuse(res, failedAuthPoints, result);
          next();
        })
        .catch(() => next());
    },
    failedAuth: {
      take(req) {
        return this.takeIp(ipOf(req));
      },
      async takeIp(key) {
        const failed = limiter("authfail", failedAuthPoints);
        try {
          await connected();
          await failed.consume(key, 1);
        } catch (rejection) {
          if (rejection instanceof RateLimiterRes) return null;
          return () => {}; // no store at all: let the request through, nothing to refund
        }
        let refunded = false;
        return () => {
          if (refunded) return;
          refunded = true;
          void failed.reward(key, 1).catch(() => {});
        };
      },
      async refuse(req, res) {
        const result = await limiter("authfail", failedAuthPoints)
          .get(ipOf(req))
          .catch(() => null);
        refuse(
          res,
          failedAuthPoints,
          result ?? new RateLimiterRes(0, WINDOW_SECONDS * 1000, failedAuthPoints),
        );
      },
    },
    publicPages(req, res, next) {
      const points = options.publicPerMinute ?? 600;
      void consume(res, "public", points, ipOf(req)).then((ok) => ok && next());
    },
    webhooks(req, res, next) {
      void consume(res, "webhook", options.webhookPerMinute, ipOf(req)).then((ok) => ok && next());
    },
    get store() {
      return redis ? `redis (${redis.status})` : "memory";
    },
    async close() {
      if (!redis) return;
      if (redis.status === "ready") await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}
