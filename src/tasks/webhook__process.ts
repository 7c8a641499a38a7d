/**
 * Applies a stored webhook event, but only on the gateway's word: before
 * anything is marked paid, settled or refunded the task asks the gateway's
 * status API (Xendit `GET /v2/invoices/{id}`, Midtrans `GET /v2/{order_id}/status`)
 * and hands its answer to paytrust_private.apply_webhook_event(id, confirmed),
 * which applies the confirmed status and amount, or records the notification as
 * contradicted and moves nothing (locks, ranks, overpayment: all in SQL).
 *
 * Errors: a notification that can never apply (currency or amount mismatch,
 * a paid status without amount: PTCCY, PTAMT, PTWHM) is failed at once and
 * listed in failedWebhooks; anything else is retried (a gateway that does not
 * answer, the database away) and, after the last attempt, failed too.
 * last_error always holds "PTxxx: short message", never raw SQL error text.
 */
import type { Task } from "graphile-worker";
import { type GatewayAdapter, GatewayError, type GatewayName } from "../gateways/index.ts";
import { jobCounter } from "../metrics.ts";

/** The codes webhook_events.last_error / outcome carry (docs/errors.md). */
export const WEBHOOK_CODES = {
  /** The status API contradicts the notification, or knows no such payment: nothing moved. */
  contradicted: "PTCNF",
  /** Every processing attempt used (the sweeper fails what an exhausted job left). */
  exhausted: "PTWHX",
  /** An unexpected processing error; the details are in the worker log only. */
  internal: "PTWHE",
  /** The gateway's status API did not answer (retried). */
  statusApi: "PTGWS",
} as const;

/** SQLSTATEs that no retry can fix: the event is failed at once. */
export const PERMANENT_WEBHOOK_CODES = new Set(["PTCCY", "PTAMT", "PTWHM", "PTCUR"]);

interface ConfirmationRequest {
  confirm: boolean;
  gateway?: GatewayName;
  externalId?: string;
  gatewayReference?: string | null;
  gatewayChargeId?: string | null;
  claimedStatus?: string;
}

/** "PTxxx: message" for last_error: project codes keep their message, the rest is generic. */
export function webhookErrorText(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === "string" && /^PT[A-Z0-9]{3,10}$/.test(code)) {
    return `${code}: ${message.replace(/\s+/g, " ").slice(0, 200)}`;
  }
  if (error instanceof GatewayError) {
    const status = error.status === null ? "no answer" : `HTTP ${error.status}`;
    return `${WEBHOOK_CODES.statusApi}: the gateway's status API could not confirm the notification (${status})`;
  }
  return `${WEBHOOK_CODES.internal}: processing failed (details in the worker log)`;
}

export function makeProcessWebhookTask(options: {
  gateways: Record<GatewayName, GatewayAdapter>;
}): Task {
  return async (rawPayload, helpers) => {
    const { webhookEventId } = rawPayload as { webhookEventId: number };
    try {
      const { rows } = await helpers.query<{ request: ConfirmationRequest }>(
        "select paytrust_private.webhook_confirmation_request($1) as request",
        [webhookEventId],
      );
      const request = rows[0]?.request ?? { confirm: false };
      let confirmed: Record<string, unknown> | null = null;
      if (request.confirm && request.gateway && request.externalId) {
        confirmed = await options.gateways[request.gateway].confirmStatus(
          request.externalId,
          request.gatewayChargeId ?? null,
        );
      }
      const { rows: applied } = await helpers.query<{ outcome: string }>(
        "select paytrust_private.apply_webhook_event($1, $2::jsonb) as outcome",
        [webhookEventId, confirmed === null ? null : JSON.stringify(confirmed)],
      );
      if (applied[0]?.outcome === "contradicted") {
        // A validly signed notification the gateway does not back: worth a security line.
        helpers.logger.warn(
          `[security] ${WEBHOOK_CODES.contradicted}: ${request.gateway} webhook event ${webhookEventId} (claims ${request.claimedStatus}) contradicted by the status API; nothing moved`,
        );
        jobCounter.inc({ task: "webhook__process", outcome: "contradicted" });
        return;
      }
      jobCounter.inc({ task: "webhook__process", outcome: "applied" });
    } catch (error) {
      const code = (error as { code?: unknown })?.code;
      const text = webhookErrorText(error);
      if (typeof code === "string" && PERMANENT_WEBHOOK_CODES.has(code)) {
        // No retry can fix it: failed now, listed in failedWebhooks with its reason.
        await helpers.query("select paytrust_private.fail_webhook_event($1, $2, $3, $4)", [
          webhookEventId,
          code,
          text.slice(code.length + 2),
          helpers.job.attempts,
        ]);
        jobCounter.inc({ task: "webhook__process", outcome: "failed" });
        return;
      }
      helpers.logger.warn(
        `webhook event ${webhookEventId} attempt ${helpers.job.attempts}: ${error instanceof Error ? error.message : String(error)}`,
      );
      await helpers.query("select paytrust_private.record_webhook_failure($1, $2, $3, $4)", [
        webhookEventId,
        helpers.job.attempts,
        helpers.job.max_attempts,
        text,
      ]);
      jobCounter.inc({ task: "webhook__process", outcome: "error" });
      throw error;
    }
  };
}
