/**
 * Applies a stored webhook event. All the rules (locks, status ranks,
 * overpayment) are in paytrust_private.apply_webhook_event; this task only
 * records failures so they show in the retry log and, after the last
 * attempt, in failedWebhooks.
 */
import type { Task } from "graphile-worker";
import { jobCounter } from "../metrics.ts";

export const webhook__process: Task = async (rawPayload, helpers) => {
  const { webhookEventId } = rawPayload as { webhookEventId: number };
  try {
    await helpers.query("select paytrust_private.apply_webhook_event($1)", [webhookEventId]);
    jobCounter.inc({ task: "webhook__process", outcome: "applied" });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await helpers.query("select paytrust_private.record_webhook_failure($1, $2, $3, $4)", [
      webhookEventId,
      helpers.job.attempts,
      helpers.job.max_attempts,
      message,
    ]);
    jobCounter.inc({ task: "webhook__process", outcome: "error" });
    throw error;
  }
};
