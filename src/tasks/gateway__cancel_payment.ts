/**
 * Cancels an attempt at its gateway after cancelPayment (or after a charge was
 * created for an attempt cancelled meanwhile): Xendit expires the attempt's
 * pending invoices, Midtrans cancels the order. Then the gateway's status is
 * fed through the webhook path (receive_webhook as a reconciliation report):
 * a payment that got through before the cancel is recorded, never dropped.
 * Idempotent: nothing open at the gateway is a success; transient faults
 * retry with graphile-worker's backoff.
 */
import type { Task } from "graphile-worker";
import type { GatewayAdapter, GatewayName } from "../gateways/index.ts";
import { jobCounter } from "../metrics.ts";

interface CancelRequestRow {
  transactionId: string;
  status: string;
  gateway: GatewayName;
  externalId: string;
  gatewayReference: string | null;
}

export function makeCancelPaymentTask(options: {
  gateways: Record<GatewayName, GatewayAdapter>;
  webhookMaxAttempts: number;
}): Task {
  return async (rawPayload, helpers) => {
    const payload = rawPayload as { transactionId: string };
    const { rows } = await helpers.query<{ request: CancelRequestRow | null }>(
      "select paytrust_private.gateway_cancel_request($1) as request",
      [payload.transactionId],
    );
    const request = rows[0]?.request;
    if (request?.status !== "cancelled") return;
    const gateway = options.gateways[request.gateway];
    const result = await gateway.cancelPayment(request.externalId, request.gatewayReference);
    if (result.refused.length)
      helpers.logger.warn(
        `Cancel of ${request.transactionId} at ${request.gateway} refused: ${result.refused.join("; ")}`,
      );
    // What the gateway says now (a payment that beat the cancel is money to record).
    const report = await gateway.getStatus(request.externalId, request.gatewayReference);
    if (report)
      await helpers.query(
        "select * from paytrust_private.receive_webhook($1, $2, $3, $4::jsonb, 'reconciliation', $5)",
        [
          request.gateway,
          report.eventId,
          request.externalId,
          JSON.stringify(report.payload),
          options.webhookMaxAttempts,
        ],
      );
    jobCounter.inc({
      task: "gateway__cancel_payment",
      outcome: result.cancelled > 0 ? "cancelled" : "nothing_open",
    });
  };
}
