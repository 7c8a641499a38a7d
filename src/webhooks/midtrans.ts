/**
 * POST /webhooks/midtrans — Midtrans HTTP notifications, verified by
 * signature_key = SHA512(order_id + status_code + gross_amount + server key)
 * (constant-time). Event identity: transaction id + status + fraud status +
 * status code, so each real change is one event and re-deliveries dedupe.
 */
import type { Request, Response } from "express";
import type pg from "pg";
import { verifyMidtransSignature } from "../gateways/signatures.ts";
import {
  isText,
  parseJsonObject,
  refuseUnverified,
  storeEvent,
  tryParseObject,
} from "./receive.ts";

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
    const { order_id: orderId, transaction_id: transactionId, transaction_status: status } = body;
    if (!isText(orderId, 50) || !isText(status, 40)) {
      return res.status(400).json({
        errors: [
          {
            message: "Midtrans notification needs order_id and transaction_status",
            extensions: { code: "PTBODY" },
          },
        ],
      });
    }
    const eventId = [
      isText(transactionId) ? transactionId : orderId,
      status,
      typeof body.fraud_status === "string" ? body.fraud_status : "",
      String(body.status_code),
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
