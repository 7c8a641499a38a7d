/**
 * Rate limits with rate-limiter-flexible: per API key (the tenant's own limit
 * or the platform default), per IP for unauthenticated and failed requests,
 * and per IP for webhooks. In memory by default; in Redis when REDIS_URL is
 * set, so every instance shares one budget.
 *
 * Redis outage policy: fail OPEN to a per-instance in-memory limiter (the
 * library's insuranceLimiter). Payments must keep flowing when the cache
 * store is down; abuse stays bounded per instance, and nothing crashes.
 */
import type { NextFunction, Request, Response } from "express";
import { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { RateLimiterAbstract } from "rate-limiter-flexible";
import { sendError } from "./middleware.ts";

export interface RateLimitOptions {
  redisUrl?: string;
  defaultPerMinute: number;
  failedAuthPerMinute?: number;
  webhookPerMinute: number;
  keyPrefix?: string;
}

export interface RateLimits {
  perKey(req: Request, res: Response, next: NextFunction): void;
  perIpFailedAuth(req: Request): Promise<boolean>;
  /** Refuses (429) an IP that has used up its failed-authentication budget. */
  bruteForceGuard(req: Request, res: Response, next: NextFunction): void;
  webhooks(req: Request, res: Response, next: NextFunction): void;
  close(): Promise<void>;
}

function setHeaders(res: Response, limit: number, result: RateLimiterRes): void {
  const resetSeconds = Math.max(0, Math.ceil(result.msBeforeNext / 1000));
  res.setHeader("RateLimit-Limit", String(limit));
  res.setHeader("RateLimit-Remaining", String(Math.max(0, result.remainingPoints)));
  res.setHeader("RateLimit-Reset", String(resetSeconds));
}

function refuse(res: Response, limit: number, result: RateLimiterRes): void {
  setHeaders(res, limit, result);
  res.setHeader("Retry-After", String(Math.max(1, Math.ceil(result.msBeforeNext / 1000))));
  sendError(res, 429, "PTRATE", "Too many requests; retry after the time in Retry-After");
}

export function createRateLimits(options: RateLimitOptions): RateLimits {
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 1000,
        lazyConnect: false,
      })
    : null;
  // ioredis emits 'error' while Redis is away; the limiter falls back, the process must not crash.
  redis?.on("error", () => {});
  const prefix = options.keyPrefix ?? "paytrust";
  const limiters = new Map<string, RateLimiterAbstract>();

  function limiter(name: string, points: number): RateLimiterAbstract {
    const id = `${name}:${points}`;
    let found = limiters.get(id);
    if (!found) {
      const base = { points, duration: 60, keyPrefix: `${prefix}:${name}` };
      found = redis
        ? new RateLimiterRedis({
            ...base,
            storeClient: redis,
            insuranceLimiter: new RateLimiterMemory(base),
          })
        : new RateLimiterMemory(base);
      limiters.set(id, found);
    }
    return found;
  }

  async function consume(res: Response, name: string, points: number, key: string): Promise<boolean> {
    try {
      const result = await limiter(name, points).consume(key, 1);
      setHeaders(res, points, result);
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        refuse(res, points, rejection);
        return false;
      }
      return true; // store error with no insurance: fail open (documented)
    }
  }

  return {
    perKey(req, res, next) {
      const key = req.apiKey;
      if (!key) return next();
      const points = key.rateLimitPerMinute ?? options.defaultPerMinute;
      void consume(res, "key", points, key.id).then((ok) => ok && next());
    },
    async perIpFailedAuth(req) {
      try {
        await limiter("authfail", options.failedAuthPerMinute ?? 30).consume(req.ip ?? "unknown", 1);
        return true;
      } catch (rejection) {
        return !(rejection instanceof RateLimiterRes);
      }
    },
    bruteForceGuard(req, res, next) {
      const points = options.failedAuthPerMinute ?? 30;
      limiter("authfail", points)
        .get(req.ip ?? "unknown")
        .then((result) => {
          if (result && result.remainingPoints <= 0 && result.consumedPoints > points) return refuse(res, points, result);
          next();
        })
        .catch(() => next());
    },
    webhooks(req, res, next) {
      void consume(res, "webhook", options.webhookPerMinute, req.ip ?? "unknown").then((ok) => ok && next());
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
