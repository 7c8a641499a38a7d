/**
 * POST /webhooks/xendit — Xendit invoice callbacks, verified by the
 * x-callback-token header (constant-time). Event identity: the `webhook-id`
 * header when Xendit sends one, else invoice id + status (one callback per
 * status change).
 */
import type { Request, Response } from "express";
import type pg from "pg";
import { verifyXenditCallbackToken } from "../gateways/signatures.ts";
import { isText, parseJsonObject, refuseUnverified, storeEvent } from "./receive.ts";

export function xenditWebhookHandler(deps: {
  pool: pg.Pool;
  callbackToken: string;
  maxAttempts: number;
  log: (line: string) => void;
}) {
  return async (req: Request, res: Response) => {
    if (!verifyXenditCallbackToken(req.get("x-callback-token"), deps.callbackToken)) {
      return refuseUnverified(res, "xendit", req, deps.log);
    }
    const body = parseJsonObject(req, res, "xendit");
    if (!body) return;
    const { id, external_id: externalId, status } = body;
    if (!isText(id) || !isText(externalId) || !isText(status, 40)) {
      return res.status(400).json({
        errors: [
          {
            message: "Xendit callback needs id, external_id and status",
            extensions: { code: "PTBODY" },
          },
        ],
      });
    }
    const headerId = req.get("webhook-id");
    const eventId = isText(headerId) ? headerId : `${id}:${status.toUpperCase()}`;
    await storeEvent(deps.pool, res, {
      gateway: "xendit",
      eventId,
      externalId,
      rawBody: req.body,
      maxAttempts: deps.maxAttempts,
    });
  };
}
