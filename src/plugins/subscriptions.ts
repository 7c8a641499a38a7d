/**
 * Live status over websockets (graphql-transport-ws on /graphql):
 * `invoiceUpdated(invoiceId)` and `paymentTransactionUpdated(id)`.
 *
 * Fed by LISTEN/NOTIFY: triggers in migrations/current/300-merchant-webhooks.sql
 * pg_notify('invoice:<id>' / 'payment_transaction:<id>', <id>) in the
 * transaction that changes the row, so an event arrives only after commit.
 * The payload carries only the id; the row is read under the subscriber's own
 * role and tenant claim, so RLS decides what it sees. An id the subscriber
 * cannot see (another tenant's, or unknown) listens on a topic that never
 * fires: it yields nothing, and tells nothing about whether the id exists.
 * Each subscription starts with the row's current state, then one event per
 * committed change.
 *
 * Authentication: the API key in the connection_init payload
 * (`{"authorization": "Bearer <key>"}`), verified like the HTTP header.
 */
import type { IncomingMessage } from "node:http";
import { context, lambda, listen } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";
import type { KeyVerifier, VerifiedKey } from "../auth/keyVerifier.ts";

/** A refused websocket key; `code` passes grafserv's maskError. */
export class SubscriptionAuthError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "SubscriptionAuthError";
    this.code = code;
  }
}

/** The topic an invisible id listens on: nothing ever notifies it. */
const NOWHERE = "paytrust:nothing";

/** The failed-auth budget and the client address (trust proxy) for websocket keys. */
export interface WebsocketAuth {
  budget: { takeIp(ip: string): Promise<(() => void) | null> };
  clientIp(request: IncomingMessage): string;
}

interface WsRequestContext {
  request?: IncomingMessage;
  normalizedConnectionParams?: Record<string, string | string[] | undefined>;
}

/**
 * Grafast context for a websocket operation: the key from connection_init →
 * the same pgSettings as an HTTP request with that key.
 */
export async function websocketContext(
  ws: WsRequestContext,
  verifier: KeyVerifier,
  publicBaseUrl: string,
  auth?: WebsocketAuth,
): Promise<{ pgSettings: Record<string, string>; apiKey: VerifiedKey }> {
  // The HTTP failed-auth budget applies here too (reserved before argon2; issue 14 item 11).
  const ip = ws.request && auth ? auth.clientIp(ws.request) : "";
  const spend = async () => {
    if (auth && !(await auth.budget.takeIp(ip)))
      throw new SubscriptionAuthError(
        "PTRATE",
        "Too many failed authentications from this address; retry in a minute",
      );
  };
  const header = ws.normalizedConnectionParams?.authorization;
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    await spend();
    throw new SubscriptionAuthError(
      "PTAUTH",
      'Missing API key: send {"authorization": "Bearer <api key>"} in connection_init',
    );
  }
  let refund: (() => void) | null = null;
  let result: Awaited<ReturnType<KeyVerifier["check"]>>;
  try {
    result = await verifier.check(match[1], {
      reserve: auth
        ? async () => {
            refund = await auth.budget.takeIp(ip);
            return refund !== null;
          }
        : undefined,
    });
  } catch {
    (refund as (() => void) | null)?.();
    throw new SubscriptionAuthError(
      "PTUNAV",
      "Authentication is temporarily unavailable; retry shortly",
    );
  }
  const throttled = () =>
    new SubscriptionAuthError(
      "PTRATE",
      "Too many failed authentications from this address; retry in a minute",
    );
  if (result.reason === "throttled") throw throttled();
  const key = result.key;
  if (!key) {
    // No point reserved for this attempt yet (no lookup ran): it pays now.
    if (refund === null) await spend();
    throw new SubscriptionAuthError("PTAUTH", "Invalid, expired or revoked API key");
  }
  (refund as (() => void) | null)?.();
  return {
    apiKey: key,
    pgSettings: {
      "paytrust.public_base_url": publicBaseUrl,
      role: key.role === "admin" ? "paytrust_admin" : "paytrust_tenant",
      "paytrust.role": key.role,
      "paytrust.tenant_id": key.tenantId ?? "",
      "paytrust.api_key_id": key.id,
      "paytrust.ip": ws.request?.socket?.remoteAddress ?? "",
      "paytrust.user_agent": String(ws.request?.headers["user-agent"] ?? "").slice(0, 512),
    },
  };
}

export const LiveStatusPlugin = extendSchema((build) => {
  const table = (name: string) => {
    const resource = Object.values(build.pgResources).find(
      (r) =>
        !r.parameters &&
        r.codec.extensions?.pg?.schemaName === "paytrust_public" &&
        r.codec.extensions?.pg?.name === name,
    );
    if (!resource)
      throw new Error(`LiveStatusPlugin: paytrust_public.${name} is not in the registry`);
    return resource;
  };
  const invoices = table("invoices");
  const transactions = table("payment_transactions");

  /** Subscribes to a row's topic if the subscriber can see the row (RLS), else to nothing. */
  const subscribe = (resource: typeof invoices, prefix: string, $id: any) => {
    const $visibleId = resource.get({ id: $id }).get("id");
    const $topic = lambda(
      $visibleId,
      (id: string | null) => (id ? `${prefix}:${id}` : NOWHERE),
      true,
    );
    // The current state first (only for a visible row).
    const $initial = lambda($visibleId, (id: string | null) => id ?? undefined, true);
    return listen(context().get("pgSubscriber"), $topic, ($event) => $event, $initial as any);
  };

  return {
    typeDefs: gql`
      type InvoiceUpdatedPayload {
        "The invoice as it is now (read with the subscriber's key)."
        invoice: Invoice
      }

      type PaymentTransactionUpdatedPayload {
        "The payment attempt as it is now (read with the subscriber's key)."
        paymentTransaction: PaymentTransaction
      }

      extend type Subscription {
        """
        The invoice's current state, then again after every committed change to it or its
        payment attempts (websocket, graphql-transport-ws). Another tenant's id yields nothing.
        """
        invoiceUpdated(invoiceId: UUID!): InvoiceUpdatedPayload
        """
        The payment attempt's current state, then again after every committed change.
        Another tenant's id yields nothing.
        """
        paymentTransactionUpdated(id: UUID!): PaymentTransactionUpdatedPayload
      }
    `,
    objects: {
      Subscription: {
        plans: {
          invoiceUpdated: {
            subscribePlan(_$root, fieldArgs) {
              return subscribe(invoices, "invoice", fieldArgs.getRaw("invoiceId"));
            },
            plan($event) {
              return $event;
            },
          },
          paymentTransactionUpdated: {
            subscribePlan(_$root, fieldArgs) {
              return subscribe(transactions, "payment_transaction", fieldArgs.getRaw("id"));
            },
            plan($event) {
              return $event;
            },
          },
        },
      },
      InvoiceUpdatedPayload: {
        plans: {
          invoice($id: any) {
            return invoices.get({ id: $id });
          },
        },
      },
      PaymentTransactionUpdatedPayload: {
        plans: {
          paymentTransaction($id: any) {
            return transactions.get({ id: $id });
          },
        },
      },
    },
  };
});
