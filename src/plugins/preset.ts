/**
 * The PostGraphile V5 preset: Amber + simplified inflection, the
 * paytrust_public schema, pgSettings from the authenticated API key, and
 * error masking that lets project error codes through.
 */
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import type { Request } from "express";
import type pg from "pg";
import { makePgService } from "postgraphile/adaptors/pg";
import type {} from "postgraphile/grafserv/express/v4";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import type { KeyVerifier, VerifiedKey } from "../auth/keyVerifier.ts";
import type { Logger } from "../logger.ts";
import type { UrlPolicy } from "../outbound/urlPolicy.ts";
import { PayTrustAggregatesPreset } from "./aggregates.ts";
import { graphiqlConfig, makeIntrospectionPlugin } from "./introspection.ts";
import { makeMaskError } from "./maskError.ts";
import {
  DEFAULT_QUERY_LIMITS,
  makeWebsocketLimitsPlugin,
  type QueryLimits,
} from "./queryLimits.ts";
import { type WebsocketAuth, websocketContext } from "./subscriptions.ts";

declare global {
  namespace Grafast {
    interface Context {
      apiKey?: VerifiedKey;
    }
  }
}

export interface PresetOptions {
  authPool: pg.Pool;
  port: number;
  graphiql: boolean;
  publicBaseUrl: string;
  plugins?: GraphileConfig.Plugin[];
  /** Depth, cost and page limits for documents over websockets (HTTP ones pass queryLimits()). */
  queryLimits?: QueryLimits;
  /** The schema is public: introspection answered (without a key); off, __schema/__type are refused. */
  introspection?: boolean;
  /** Verifies the API key of websocket (subscription) connections; without it websockets are off. */
  verifier?: KeyVerifier;
  /** Failed-auth budget and client address for websocket keys (as on HTTP). */
  websocketAuth?: WebsocketAuth;
  /** Where outbound webhooks may point (createWebhookEndpoint). */
  webhookUrlPolicy?: UrlPolicy;
  /**
   * Watch mode (development): rebuild the schema after DDL. The superuser pool
   * installs PostGraphile's `postgraphile_watch` event triggers (superuser only).
   */
  watch?: { superuserPool?: pg.Pool };
  /** Where masked (unexpected) GraphQL errors are logged, with the request id. */
  logger?: Logger;
}

/** The Postgres settings for one request: role and tenant claim, nothing from the client. */
export function pgSettingsFor(
  req: Request | undefined,
  publicBaseUrl: string,
): Record<string, string> {
  const key = req?.apiKey;
  // Unreachable behind the auth middleware; a request without a key gets a tenant that owns nothing.
  if (!key)
    return {
      role: "paytrust_tenant",
      "paytrust.tenant_id": "00000000-0000-0000-0000-000000000000",
    };
  return {
    "paytrust.public_base_url": publicBaseUrl,
    role: key.role === "admin" ? "paytrust_admin" : "paytrust_tenant",
    "paytrust.role": key.role,
    "paytrust.tenant_id": key.tenantId ?? "",
    "paytrust.api_key_id": key.id,
    "paytrust.ip": req?.ip ?? "",
    "paytrust.user_agent": String(req?.headers["user-agent"] ?? "").slice(0, 512),
  };
}

export function makePreset(options: PresetOptions): GraphileConfig.Preset {
  return {
    extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset, PayTrustAggregatesPreset],
    plugins: [
      ...(options.plugins ?? []),
      makeWebsocketLimitsPlugin(options.queryLimits ?? DEFAULT_QUERY_LIMITS),
      makeIntrospectionPlugin(options.introspection ?? options.graphiql),
    ],
    ruru: graphiqlConfig(),
    disablePlugins: ["NodePlugin"],
    pgServices: [
      makePgService({
        pool: options.authPool,
        schemas: ["paytrust_public"],
        ...(options.watch?.superuserPool ? { superuserPool: options.watch.superuserPool } : {}),
      }),
    ],
    gather: { pgStrictFunctions: true },
    schema: { pgForbidSetofFunctionsToReturnNull: true },
    grafserv: {
      port: options.port,
      graphqlPath: "/graphql",
      graphiql: options.graphiql,
      graphiqlPath: "/graphiql",
      graphiqlOnGraphQLGET: false,
      maskError: makeMaskError(options.logger),
      maxRequestLength: 1_000_000,
      websockets: options.verifier !== undefined,
      watch: options.watch !== undefined,
    },
    grafast: {
      explain: false,
      async context(requestContext) {
        const webhookUrlPolicy = options.webhookUrlPolicy;
        // Websockets bypass the express auth middleware: the key is in connection_init.
        if (requestContext.ws && options.verifier)
          return {
            ...(await websocketContext(
              requestContext.ws,
              options.verifier,
              options.publicBaseUrl,
              options.websocketAuth,
            )),
            webhookUrlPolicy,
          };
        const req = requestContext.expressv4?.req as Request | undefined;
        return {
          pgSettings: pgSettingsFor(req, options.publicBaseUrl),
          apiKey: req?.apiKey,
          webhookUrlPolicy,
        };
      },
    },
  };
}
