/**
 * Routes outside GraphQL: webhooks, hosted checkout links and the sandbox
 * (public), documents (authenticated). The sandbox exists only in sandbox mode:
 * in live mode /sandbox is an unknown path (404). Public pages (/pay/:id and
 * the sandbox's pages) have their own per-IP limit, and /pay/:id holds at most
 * PAYTRUST_PUBLIC_DB_CONCURRENCY connections at once (the gate).
 */
import type { Express, NextFunction, Request, Response } from "express";
import type pg from "pg";
import type { RateLimits } from "../auth/rateLimit.ts";
import type { Config } from "../config.ts";
import { createSandboxRouter } from "../gateways/sandbox.ts";
import { makeWebhookRouter } from "../webhooks/index.ts";
import { checkoutRedirectHandler } from "./checkoutRedirect.ts";
import { invoiceDocumentHandler } from "./documents.ts";
import type { Gate } from "./gate.ts";

export interface RouteDeps {
  config: Config;
  ownerPool: pg.Pool;
  authPool: pg.Pool;
  publicBaseUrl: string;
  selfUrl: string;
  rateLimits: RateLimits;
  log: (line: string) => void;
}

export function mountRoutes(deps: RouteDeps) {
  const sandbox =
    deps.config.gatewayMode === "sandbox"
      ? createSandboxRouter({
          xenditSecretKey: deps.config.xenditSecretKey,
          xenditCallbackToken: deps.config.xenditCallbackToken,
          midtransServerKey: deps.config.midtransServerKey,
          webhookBaseUrl: deps.selfUrl,
          publicUrl: `${deps.publicBaseUrl}/sandbox`,
        })
      : null;
  return {
    sandboxControl: sandbox?.control ?? null,
    publicRoutes: (app: Express, publicGate: Gate) => {
      app.use(
        "/webhooks",
        makeWebhookRouter({
          pool: deps.ownerPool,
          config: deps.config,
          rateLimits: deps.rateLimits,
          log: deps.log,
        }),
      );
      app.get(
        "/pay/:id",
        deps.rateLimits.publicPages,
        publicGate,
        checkoutRedirectHandler(deps.ownerPool),
      );
      if (sandbox) {
        // The pages people (or scripts) open; the fake gateway API the worker calls is not limited.
        const pages = (req: Request, res: Response, next: NextFunction) =>
          req.path === "/" || req.path.startsWith("/checkout/")
            ? deps.rateLimits.publicPages(req, res, next)
            : next();
        app.use("/sandbox", pages, sandbox.router);
      }
    },
    authenticatedRoutes: (app: Express) => {
      const docs = { authPool: deps.authPool, publicBaseUrl: deps.publicBaseUrl };
      app.get("/invoices/:id/pain.001.xml", invoiceDocumentHandler(docs, "pain.001"));
      app.get("/invoices/:id/pain.002.xml", invoiceDocumentHandler(docs, "pain.002"));
    },
  };
}
