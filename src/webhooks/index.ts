/** The webhook routes: raw JSON bodies with a size limit, their own per-IP rate limit, no tenant auth. */
import express, { type Router } from "express";
import type pg from "pg";
import type { RateLimits } from "../auth/rateLimit.ts";
import type { Config } from "../config.ts";
import { midtransWebhookHandler } from "./midtrans.ts";
import { WEBHOOK_BODY_LIMIT } from "./receive.ts";
import { xenditWebhookHandler } from "./xendit.ts";

export function makeWebhookRouter(deps: {
  pool: pg.Pool;
  config: Config;
  rateLimits: RateLimits;
  log: (line: string) => void;
}): Router {
  const router = express.Router();
  router.use(deps.rateLimits.webhooks);
  router.use(express.text({ type: () => true, limit: WEBHOOK_BODY_LIMIT }));
  router.post(
    "/xendit",
    xenditWebhookHandler({
      pool: deps.pool,
      callbackToken: deps.config.xenditCallbackToken,
      maxAttempts: deps.config.webhookMaxAttempts,
      log: deps.log,
    }),
  );
  router.post(
    "/midtrans",
    midtransWebhookHandler({
      pool: deps.pool,
      serverKey: deps.config.midtransServerKey,
      maxAttempts: deps.config.webhookMaxAttempts,
      log: deps.log,
    }),
  );
  return router;
}
