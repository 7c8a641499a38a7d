/**
 * Live status over websockets (graphql-transport-ws on /graphql):
 * `invoiceUpdated(invoiceId)` and `paymentTransactionUpdated(id)`.
 *
 * Fed by LISTEN/NOTIFY: triggers in migrations/committed/000011-outbound-webhooks-endpoints-transactional-outbox-deliveries.sql
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
 * (`{"authorization": "Bearer <key>"}`), verified like the HTTP header, from
 * the same failed-auth budget. A missing, invalid or refused key closes the
 * socket at connection_init (graphql-ws `onConnect` → false), before any
 * operation: 4403 "PTAUTH: …" (Forbidden), 4429 "PTRATE: …" (failed-auth
 * budget spent), 4503 "PTUNAV: …" (key store unavailable). Every operation
 * verifies the key again (cached), so a key revoked while connected stops
 * working for the next operation.
 */
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { CloseCode, makeServer } from "graphql-ws";
import { context, lambda, listen } from "postgraphile/grafast";
import { makeGraphQLWSConfig, normalizeConnectionParams } from "postgraphile/grafserv";
import { extendSchema, gql } from "postgraphile/utils";
import type { KeyVerifier, VerifiedKey } from "../auth/keyVerifier.ts";
import { PayTrustError } from "../errors.ts";

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
      throw new PayTrustError(
        "PTRATE",
        "Too many failed authentications from this address; retry in a minute",
      );
  };
  const header = ws.normalizedConnectionParams?.authorization;
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) {
    await spend();
    throw new PayTrustError(
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
    throw new PayTrustError("PTUNAV", "Authentication is temporarily unavailable; retry shortly");
  }
  const throttled = () =>
    new PayTrustError(
      "PTRATE",
      "Too many failed authentications from this address; retry in a minute",
    );
  if (result.reason === "throttled") throw throttled();
  const key = result.key;
  if (!key) {
    // No point reserved for this attempt yet (no lookup ran): it pays now.
    if (refund === null) await spend();
    throw new PayTrustError("PTAUTH", "Invalid, expired or revoked API key");
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

/** Close codes (graphql-ws 4400–4999 range) for a key refused at connection_init. */
const CLOSE_CODES: Record<string, number> = {
  PTAUTH: CloseCode.Forbidden, // 4403
  PTRATE: 4429,
  PTUNAV: 4503,
};

/** The grafserv instance (express or node adaptor) the websocket server runs operations through. */
type WebsocketGrafserv = Parameters<typeof makeGraphQLWSConfig>[0] & {
  shouldHandleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
};

interface SocketExtra {
  socket: import("ws").WebSocket;
  request: IncomingMessage;
}

/**
 * graphql-transport-ws on the grafserv graphql path, like grafserv's own
 * upgrade handler plus `onConnect`: the connection_init key is verified before
 * the connection is acknowledged, and a refused key closes the socket.
 * Released with the grafserv instance (open sockets are terminated).
 */
export async function attachWebsockets(
  server: Server,
  serv: WebsocketGrafserv,
  options: { verifier: KeyVerifier; publicBaseUrl: string; auth?: WebsocketAuth },
): Promise<void> {
  const { WebSocketServer } = await import("ws");
  const graphqlWs = makeServer<Record<string, unknown> | undefined, SocketExtra>({
    ...(makeGraphQLWSConfig(serv) as object),
    async onConnect(ctx) {
      try {
        await websocketContext(
          {
            request: ctx.extra.request,
            normalizedConnectionParams: normalizeConnectionParams(ctx.connectionParams) as Record<
              string,
              string | string[] | undefined
            >,
          },
          options.verifier,
          options.publicBaseUrl,
          options.auth,
        );
        return true;
      } catch (error) {
        // A refused key (PayTrustError: PTAUTH, PTRATE or PTUNAV) closes the socket.
        if (!(error instanceof PayTrustError)) throw error;
        // The reason carries the project code (close reasons hold at most 123 bytes).
        const reason = Buffer.from(`${error.code}: ${error.message}`).subarray(0, 123).toString();
        ctx.extra.socket.close(CLOSE_CODES[error.code] ?? CloseCode.Forbidden, reason);
        return false;
      }
    },
  });
  const wss = new WebSocketServer({ noServer: true });
  const keepaliveMs = serv.getPreset().grafserv?.websocketKeepalive ?? 12_000;

  const upgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!serv.shouldHandleUpgrade(request, socket, head)) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      // Keepalive: a ping every keepaliveMs; no pong before the next one → terminated.
      let alive = true;
      const timer =
        Number.isFinite(keepaliveMs) && keepaliveMs > 0
          ? setInterval(() => {
              if (!alive) return ws.terminate();
              alive = false;
              ws.ping();
            }, keepaliveMs)
          : null;
      timer?.unref();
      ws.on("pong", () => {
        alive = true;
      });
      const closed = graphqlWs.opened(
        {
          protocol: ws.protocol,
          send: (data) =>
            new Promise<void>((resolve, reject) =>
              ws.send(data, (error) => (error ? reject(error) : resolve())),
            ),
          close: (code, reason) => ws.close(code, reason),
          onMessage: (cb) =>
            ws.on("message", async (data) => {
              try {
                await cb(String(data));
              } catch {
                try {
                  ws.close(CloseCode.InternalServerError, "Internal error");
                } catch {
                  /* already closed */
                }
              }
            }),
        },
        { socket: ws, request },
      );
      ws.once("close", (code, reason) => {
        if (timer) clearInterval(timer);
        void closed(code, String(reason));
      });
    });
  };
  server.on("upgrade", upgrade);
  serv.onRelease(() => {
    server.off("upgrade", upgrade);
    for (const client of wss.clients) client.terminate();
    wss.close();
  });
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
