/** Routes outside GraphQL: webhooks and the sandbox (public), documents (authenticated). */
import type { Express } from "express";
import type pg from "pg";
import type { RateLimits } from "./auth/rateLimit.ts";
import type { Config } from "./config.ts";

export interface RouteDeps {
  config: Config;
  ownerPool: pg.Pool;
  publicBaseUrl: string;
  rateLimits: RateLimits;
}

export function mountRoutes(_deps: RouteDeps) {
  return {
    publicRoutes: (_app: Express) => {},
    authenticatedRoutes: (_app: Express) => {},
  };
}
