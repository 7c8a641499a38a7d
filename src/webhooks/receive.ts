/**
 * Shared webhook plumbing: raw-body parsing (the exact bytes go to PostgreSQL
 * as jsonb, so amounts are never re-rendered through floats), the one INSERT
 * that stores and queues an event, and JSON error responses.
 */
import type { Request, Response } from "express";
import type pg from "pg";
import type { GatewayName } from "../gateways/types.ts";
import { sendError } from "../http/errors.ts";
import { webhookCounter } from "../metrics.ts";

export const WEBHOOK_BODY_LIMIT = "64kb";

export function tryParseObject(body: unknown): Record<string, unknown> | null {
  try {
    const value = JSON.parse(typeof body === "string" ? body : "");
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Parses the raw body as a JSON object, or answers 400/415 and returns null. */
export function parseJsonObject(
  req: Request,
  res: Response,
  gateway: GatewayName,
): Record<string, unknown> | null {
  if (!req.is("application/json")) {
    webhookCounter.inc({ gateway, outcome: "bad_request" });
    sendError(res, 415, "PTBODY", "Webhooks must be sent as application/json");
    return null;
  }
  const value = tryParseObject(req.body);
  if (value) return value;
  webhookCounter.inc({ gateway, outcome: "bad_request" });
  sendError(res, 400, "PTBODY", "Malformed webhook body: expected a JSON object");
  return null;
}

export function refuseUnverified(
  res: Response,
  gateway: GatewayName,
  req: Request,
  log: (line: string) => void,
): void {
  webhookCounter.inc({ gateway, outcome: "unverified" });
  // A security log line, never the token or signature itself.
  log(`[security] unverified ${gateway} webhook from ${req.ip ?? "unknown"} refused`);
  sendError(res, 401, "PTSIG", "Webhook signature or token is invalid");
}

export function isText(value: unknown, max = 300): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= max;
}

/** Longest gateway ids PayTrust accepts (Xendit ids are 24 hex, order ids ≤ 50; external_id ≤ 255). */
export const MAX_ID_LENGTH = 255;
/** Longest event id stored (webhook_events.event_id allows 300). */
export const MAX_EVENT_ID_LENGTH = 300;

/** A 4xx for a notification PayTrust will never be able to apply: retrying it cannot help. */
export function refuseBody(
  res: Response,
  gateway: GatewayName,
  status: 400 | 422,
  code: "PTBODY" | "PTWHM",
  message: string,
): void {
  webhookCounter.inc({ gateway, outcome: "bad_request" });
  sendError(res, status, code, message);
}

/** A JSON amount as gateways send it: a number or a decimal string. */
export function isAmount(value: unknown): boolean {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0;
  return typeof value === "string" && /^\d{1,18}(\.\d{1,4})?$/.test(value);
}

/** Stores a verified refund notification (paytrust_private.receive_refund_webhook). */
export async function storeRefundEvent(
  pool: pg.Pool,
  res: Response,
  event: { gateway: GatewayName; eventId: string; refundExternalId: string; rawBody: string },
): Promise<void> {
  try {
    const { rows } = await pool.query(
      "select * from paytrust_private.receive_refund_webhook($1, $2, $3, $4::jsonb)",
      [event.gateway, event.eventId, event.refundExternalId, event.rawBody],
    );
    const row = rows[0];
    webhookCounter.inc({
      gateway: event.gateway,
      outcome: row.duplicate ? "duplicate" : row.known_refund ? "accepted" : "unknown_transaction",
    });
    res
      .status(200)
      .json({ received: true, duplicate: row.duplicate, eventId: String(row.webhook_event_id) });
  } catch (error: any) {
    if (["22P02", "22023", "54000", "22P05", "22021", "22001", "23514"].includes(error?.code)) {
      webhookCounter.inc({ gateway: event.gateway, outcome: "bad_request" });
      return sendError(res, 400, "PTBODY", "Malformed webhook body");
    }
    webhookCounter.inc({ gateway: event.gateway, outcome: "error" });
    sendError(res, 503, "PTUNAV", "Temporarily unable to store the webhook; retry later");
  }
}

export async function storeEvent(
  pool: pg.Pool,
  res: Response,
  event: {
    gateway: GatewayName;
    eventId: string;
    externalId: string;
    rawBody: string;
    maxAttempts: number;
  },
): Promise<void> {
  try {
    const { rows } = await pool.query(
      "select * from paytrust_private.receive_webhook($1, $2, $3, $4::jsonb, 'webhook', $5)",
      [event.gateway, event.eventId, event.externalId, event.rawBody, event.maxAttempts],
    );
    const row = rows[0];
    const outcome = row.duplicate
      ? "duplicate"
      : row.known_transaction
        ? "accepted"
        : "unknown_transaction";
    webhookCounter.inc({ gateway: event.gateway, outcome });
    res
      .status(200)
      .json({ received: true, duplicate: row.duplicate, eventId: String(row.webhook_event_id) });
  } catch (error: any) {
    // Malformed JSON text, NUL characters, nesting too deep, a field over a
    // column's limit: the sender's fault, never retry (a 503 would be retried for ever).
    if (["22P02", "22023", "54000", "22P05", "22021", "22001", "23514"].includes(error?.code)) {
      webhookCounter.inc({ gateway: event.gateway, outcome: "bad_request" });
      return sendError(res, 400, "PTBODY", "Malformed webhook body");
    }
    webhookCounter.inc({ gateway: event.gateway, outcome: "error" });
    // 503 makes the gateway retry later: nothing is lost.
    sendError(res, 503, "PTUNAV", "Temporarily unable to store the webhook; retry later");
  }
}
