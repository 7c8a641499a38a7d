/** Routes outside GraphQL: webhooks, hosted checkout links and the sandbox (public), documents (authenticated). */
import type { Express } from "express";
import type pg from "pg";
import type { RateLimits } from "../auth/rateLimit.ts";
import type { Config } from "../config.ts";
import { createSandboxRouter } from "../gateways/sandbox.ts";
import { makeWebhookRouter } from "../webhooks/index.ts";
import { checkoutRedirectHandler } from "./checkoutRedirect.ts";
import { invoiceDocumentHandler } from "./documents.ts";

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
    publicRoutes: (app: Express) => {
      app.use(
        "/webhooks",
        makeWebhookRouter({
          pool: deps.ownerPool,
          config: deps.config,
          rateLimits: deps.rateLimits,
          log: deps.log,
        }),
      );
      app.get("/pay/:id", checkoutRedirectHandler(deps.ownerPool));
      if (sandbox) app.use("/sandbox", sandbox.router);
    },
    authenticatedRoutes: (app: Express) => {
      const docs = { authPool: deps.authPool, publicBaseUrl: deps.publicBaseUrl };
      app.get("/invoices/:id/pain.001.xml", invoiceDocumentHandler(docs, "pain.001"));
      app.get("/invoices/:id/pain.002.xml", invoiceDocumentHandler(docs, "pain.002"));
    },
  };
}
