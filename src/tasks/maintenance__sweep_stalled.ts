/**
 * Crash recovery (cron, every minute): re-queues webhook events and gateway
 * charges that a killed worker left locked. See
 * paytrust_private.sweep_stalled_work for the rule.
 */
import type { Task } from "graphile-worker";

export const maintenance__sweep_stalled: Task = async (payload, helpers) => {
  const seconds = Number((payload as { stalledAfterSeconds?: number } | null)?.stalledAfterSeconds ?? 45);
  const { rows } = await helpers.query<{ kind: string; subject: string }>(
    "select * from paytrust_private.sweep_stalled_work(make_interval(secs => $1))",
    [seconds],
  );
  if (rows.length) helpers.logger.info(`Re-queued ${rows.length} stalled item(s): ${rows.map((r) => `${r.kind} ${r.subject}`).join(", ")}`);
};
