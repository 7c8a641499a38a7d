/**
 * Cron (every minute): pending payment attempts past their expiresAt are
 * expired in SQL (paytrust_private.expire_overdue_payments: row locks, the
 * installment freed, payment.expired in the outbox, an audit row), in bounded
 * batches, each its own transaction. A gateway payment arriving later is still
 * recorded by the webhook path.
 */
import type { Task } from "graphile-worker";
import { jobCounter } from "../metrics.ts";

export const EXPIRE_BATCH_SIZE = 500;
/** Batches per run at most; what is left waits for the next minute. */
export const EXPIRE_MAX_BATCHES = 20;

export const payment__expire_overdue: Task = async (payload, helpers) => {
  const requested = Number((payload as { batchSize?: number } | null)?.batchSize);
  const batchSize =
    Number.isSafeInteger(requested) && requested >= 1 && requested <= 5000
      ? requested
      : EXPIRE_BATCH_SIZE;
  let total = 0;
  for (let batch = 0; batch < EXPIRE_MAX_BATCHES; batch++) {
    const { rows } = await helpers.query<{ expired: number }>(
      "select paytrust_private.expire_overdue_payments($1) as expired",
      [batchSize],
    );
    const expired = rows[0]?.expired ?? 0;
    total += expired;
    if (expired < batchSize) break;
  }
  if (total) {
    jobCounter.inc({ task: "payment__expire_overdue", outcome: "expired" }, total);
    helpers.logger.info(`Expired ${total} overdue payment attempt(s)`);
  }
};
