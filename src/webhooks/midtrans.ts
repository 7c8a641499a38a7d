/**
 * POST /webhooks/midtrans — Midtrans HTTP notifications, verified by
 * signature_key = SHA512(order_id + status_code + gross_amount + server key)
 * (constant-time). The signature covers those three fields only, so nothing
 * else is trusted: the event identity is built from them (plus the status,
 * one of the few Midtrans has, so a replay with other unsigned fields cannot
 * make new events), and the worker takes the status and amount from the
 * status API before anything moves (webhook__process).
 *
 * Refused with 4xx (never 503, which Midtrans would retry for ever): ids or
 * fields over their limits (400 PTBODY), a capture/settlement without
 * currency (422 PTWHM; gross_amount is signed, so always there).
 */
import type { Request, Response } from "express";
import type pg from "pg";
import { verifyMidtransSignature } from "../gateways/signatures.ts";
import {
  isText,
  MAX_ID_LENGTH,
  parseJsonObject,
  refuseBody,
  refuseUnverified,
  storeEvent,
  tryParseObject,
} from "./receive.ts";

const MIDTRANS_STATUSES = new Set([
  "capture",
  "settlement",
  "pending",
  "deny",
  "cancel",
  "expire",
  "failure",
  "refund",
  "partial_refund",
  "authorize",
]);

export function midtransWebhookHandler(deps: {
  pool: pg.Pool;
  serverKey: string;
  maxAttempts: number;
  log: (line: string) => void;
}) {
  return async (req: Request, res: Response) => {
    if (!req.is("application/json")) return void parseJsonObject(req, res, "midtrans"); // 415
    // Parse before verifying: the signature covers fields of the body.
    const body = tryParseObject(req.body);
    if (!body || !verifyMidtransSignature(body, deps.serverKey)) {
      return refuseUnverified(res, "midtrans", req, deps.log);
    }
    const { order_id: orderId, transaction_status: status } = body;
    if (
      !isText(orderId, 50) ||
      !isText(status, 40) ||
      !isText(body.status_code, 3) ||
      !isText(body.gross_amount, 24) ||
      (body.transaction_id !== undefined && !isText(body.transaction_id, MAX_ID_LENGTH))
    ) {
      return refuseBody(
        res,
        "midtrans",
        400,
        "PTBODY",
        "Midtrans notification needs order_id (≤ 50), transaction_status, status_code and gross_amount within their limits",
      );
    }
    const lower = status.toLowerCase();
    if ((lower === "capture" || lower === "settlement") && !isText(body.currency, 3)) {
      return refuseBody(
        res,
        "midtrans",
        422,
        "PTWHM",
        "A capture or settlement notification needs its currency",
      );
    }
    // Signed fields (order_id, status_code, gross_amount) + a bounded status.
    const eventId = [
      orderId,
      body.status_code,
      body.gross_amount,
      MIDTRANS_STATUSES.has(lower) ? lower : "other",
    ].join(":");
    await storeEvent(deps.pool, res, {
      gateway: "midtrans",
      eventId,
      externalId: orderId,
      rawBody: req.body,
      maxAttempts: deps.maxAttempts,
    });
  };
}
