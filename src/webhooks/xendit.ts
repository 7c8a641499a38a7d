/**
 * POST /webhooks/xendit — Xendit invoice callbacks, verified by the
 * x-callback-token header (constant-time). Event identity: the `webhook-id`
 * header when Xendit sends one, else invoice id + status (one callback per
 * status change). A callback only asks the worker to look: the invoice's
 * status and amount are taken from Xendit's API (webhook__process).
 *
 * Refund callbacks (`{"event": "refund.succeeded" | "refund.failed", "data":
 * {id, reference_id, status, …}}`) are stored and make the worker check the
 * refund through Xendit's refund API; they never mark a refund themselves.
 *
 * Refused with 4xx (never 503, which Xendit would retry for ever): ids or
 * fields over their limits (400 PTBODY), a PAID/SETTLED callback without
 * amount or currency (422 PTWHM).
 */
import type { Request, Response } from "express";
import type pg from "pg";
import { verifyXenditCallbackToken } from "../gateways/signatures.ts";
import {
  isAmount,
  isText,
  MAX_EVENT_ID_LENGTH,
  MAX_ID_LENGTH,
  parseJsonObject,
  refuseBody,
  refuseUnverified,
  storeEvent,
  storeRefundEvent,
} from "./receive.ts";

const XENDIT_STATUSES = new Set(["PENDING", "PAID", "SETTLED", "EXPIRED"]);

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
    const headerId = req.get("webhook-id");
    if (headerId !== undefined && !isText(headerId, 200)) {
      return refuseBody(res, "xendit", 400, "PTBODY", "webhook-id must be 1 to 200 characters");
    }

    if (typeof body.event === "string" && body.event.startsWith("refund.")) {
      const data = body.data as Record<string, unknown> | undefined;
      if (
        typeof data !== "object" ||
        data === null ||
        !isText(data.id, MAX_ID_LENGTH) ||
        !isText(data.reference_id, MAX_ID_LENGTH) ||
        !isText(data.status, 40)
      ) {
        return refuseBody(
          res,
          "xendit",
          400,
          "PTBODY",
          "Xendit refund callback needs data.id, data.reference_id and data.status (ids ≤ 255 characters)",
        );
      }
      await storeRefundEvent(deps.pool, res, {
        gateway: "xendit",
        eventId: isText(headerId) ? headerId : `refund:${data.id}:${data.status.toUpperCase()}`,
        refundExternalId: data.reference_id,
        rawBody: req.body,
      });
      return;
    }

    const { id, external_id: externalId, status } = body;
    if (!isText(id, MAX_ID_LENGTH) || !isText(externalId, MAX_ID_LENGTH) || !isText(status, 40)) {
      return refuseBody(
        res,
        "xendit",
        400,
        "PTBODY",
        "Xendit callback needs id, external_id and status (ids ≤ 255 characters, status ≤ 40)",
      );
    }
    const upper = status.toUpperCase();
    if (
      (upper === "PAID" || upper === "SETTLED") &&
      (!isAmount(body.paid_amount ?? body.amount) || !isText(body.currency, 3))
    ) {
      return refuseBody(
        res,
        "xendit",
        422,
        "PTWHM",
        "A PAID or SETTLED callback needs its amount (paid_amount or amount) and currency",
      );
    }
    const eventId = isText(headerId)
      ? headerId
      : `${id}:${XENDIT_STATUSES.has(upper) ? upper : "OTHER"}`;
    if (eventId.length > MAX_EVENT_ID_LENGTH) {
      return refuseBody(res, "xendit", 400, "PTBODY", "Event id too long");
    }
    await storeEvent(deps.pool, res, {
      gateway: "xendit",
      eventId,
      externalId,
      rawBody: req.body,
      maxAttempts: deps.maxAttempts,
    });
  };
}
