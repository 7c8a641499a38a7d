/**
 * Sends a refund queued by refund_payment to its gateway and records what the
 * gateway says (paytrust_private.record_refund_result: locks, the money, the
 * invoice's status, the refund.* event). Idempotent: the adapters send the
 * refund's own key, so a retry returns the refund already made. A refund the
 * gateway reports as pending is checked again later (Xendit GET /refunds/{id}),
 * with growing delays. When the gateway stays unreachable after the last
 * attempt the refund stays pending (its amount reserved): it may have been made,
 * so it is never marked failed without the gateway saying so.
 */
import type { Task } from "graphile-worker";
import { GatewayError, type GatewayName } from "../gateways/index.ts";
import type { RefundAdapter, RefundRequest } from "../gateways/refunds.ts";
import { jobCounter } from "../metrics.ts";

interface Payload {
  refundId: string;
  checks?: number;
}

type RefundRow = RefundRequest & { status: string; gateway: GatewayName };

const MAX_CHECK_DELAY_MS = 10 * 60_000;

export function makeRefundTask(options: {
  refunds: Record<GatewayName, RefundAdapter>;
  maxAttempts: number;
}): Task {
  return async (rawPayload, helpers) => {
    const payload = rawPayload as Payload;
    const { rows } = await helpers.query<{ request: RefundRow | null }>(
      "select paytrust_private.gateway_refund_request($1) as request",
      [payload.refundId],
    );
    const request = rows[0]?.request;
    if (request?.status !== "pending") return; // gone or already final

    const record = (
      status: string,
      reference: string | null,
      gatewayStatus: string | null,
      reason: string | null,
    ) =>
      helpers.query("select paytrust_private.record_refund_result($1, $2, $3, $4, $5)", [
        request.refundId,
        status,
        reference,
        gatewayStatus,
        reason,
      ]);

    try {
      const result = await options.refunds[request.gateway].refund(request);
      await record(
        result.status,
        result.gatewayReference,
        result.gatewayStatus,
        result.failureReason,
      );
      jobCounter.inc({ task: "gateway__refund", outcome: result.status });
      if (result.status === "pending") {
        const checks = (payload.checks ?? 0) + 1;
        await helpers.addJob(
          "gateway__refund",
          { refundId: request.refundId, checks },
          {
            jobKey: `gateway__refund:${request.refundId}`,
            jobKeyMode: "replace",
            runAt: new Date(
              Date.now() + Math.min(1000 * 2 ** Math.min(checks, 20), MAX_CHECK_DELAY_MS),
            ),
            maxAttempts: helpers.job.max_attempts,
          },
        );
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GatewayError && !error.transient) {
        await record("failed", null, null, `Gateway refused the refund: ${message}`);
        jobCounter.inc({ task: "gateway__refund", outcome: "failed" });
        return;
      }
      const attempts = helpers.job.attempts;
      if (attempts >= Math.min(options.maxAttempts, helpers.job.max_attempts)) {
        helpers.logger.error(
          `Refund ${request.refundId} still unconfirmed after ${attempts} attempts (left pending): ${message}`,
        );
        jobCounter.inc({ task: "gateway__refund", outcome: "unconfirmed" });
        return;
      }
      jobCounter.inc({ task: "gateway__refund", outcome: "retry" });
      throw error;
    }
  };
}
