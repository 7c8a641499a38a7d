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
import { pgSettingsFor } from "../auth/pgSettings.ts";
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

// The plugins' entry point: what the HTTP edge (src/server.ts) needs from src/plugins
// comes through here (tests/unit/layering.test.ts).
export { pgSettingsFor } from "../auth/pgSettings.ts";
export { schemaPlugins } from "./index.ts";
export { publicIntrospection } from "./introspection.ts";
export { DEFAULT_QUERY_LIMITS, type QueryLimits, queryLimits } from "./queryLimits.ts";
export { attachWebsockets, type WebsocketAuth } from "./subscriptions.ts";

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
  /** Minutes a payment attempt stays payable (paytrust.checkout_expiry_minutes; SQL's default 1440). */
  checkoutExpiryMinutes?: number;
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
        // Deployment settings SQL reads (initiate_payment's expires_at).
        const settings: Record<string, string> =
          options.checkoutExpiryMinutes === undefined
            ? {}
            : { "paytrust.checkout_expiry_minutes": String(options.checkoutExpiryMinutes) };
        // Websockets bypass the express auth middleware: the key is in connection_init.
        if (requestContext.ws && options.verifier) {
          const ws = await websocketContext(
            requestContext.ws,
            options.verifier,
            options.publicBaseUrl,
            options.websocketAuth,
          );
          return { ...ws, pgSettings: { ...ws.pgSettings, ...settings }, webhookUrlPolicy };
        }
        const req = requestContext.expressv4?.req as Request | undefined;
        return {
          pgSettings: { ...pgSettingsFor(req, options.publicBaseUrl), ...settings },
          apiKey: req?.apiKey,
          webhookUrlPolicy,
        };
      },
    },
  };
}
