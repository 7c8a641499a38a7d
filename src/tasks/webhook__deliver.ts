/**
 * Delivers one outbound event to one webhook endpoint (queued by
 * paytrust_private.emit_event in the transaction of the change, one job per
 * event × endpoint). The task records every attempt itself and SQL schedules
 * the next one (backoff for 3 days, same event id), so a failed delivery is
 * not a failed job; graphile-worker's own retries only cover crashes.
 */
import type { Task } from "graphile-worker";
import { jobCounter } from "../metrics.ts";
import { type DeliveryJob, type DeliveryOptions, deliverWebhook } from "../outbound/deliver.ts";

export function makeDeliverWebhookTask(options: DeliveryOptions): Task {
  return async (rawPayload, helpers) => {
    const payload = rawPayload as Partial<DeliveryJob>;
    if (!payload.eventId || !payload.endpointId) return;
    const outcome = await deliverWebhook(
      (text, values) => helpers.query(text, values),
      { eventId: payload.eventId, endpointId: payload.endpointId, attempt: payload.attempt ?? 1 },
      options,
    );
    jobCounter.inc({ task: "webhook__deliver", outcome });
  };
}
