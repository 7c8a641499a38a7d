/** Audit retention: deletes audit rows older than the retention period (default 365 days). */
import type { Task } from "graphile-worker";

export const maintenance__purge_audit_log: Task = async (payload, helpers) => {
  const days = Number((payload as { retentionDays?: number } | null)?.retentionDays ?? 365);
  const { rows } = await helpers.query<{ purged: string }>(
    "select paytrust_private.purge_audit_events(make_interval(days => $1)) as purged",
    [days],
  );
  helpers.logger.info(`Purged ${rows[0].purged} audit rows older than ${days} days`);
};
