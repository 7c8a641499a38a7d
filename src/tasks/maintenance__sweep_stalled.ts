/**
 * Crash recovery: re-queues webhook events and gateway charges that a killed
 * worker left locked, and surfaces what exhausted jobs left (failed, so it is
 * listed): see paytrust_private.sweep_stalled_work for the rule. Outbound
 * webhook deliveries left locked are re-queued too
 * (paytrust_private.sweep_stalled_webhook_deliveries).
 *
 * graphile-worker's cron cannot run more often than once a minute, and
 * recovery must take less than one: so each run schedules the next one
 * intervalSeconds later (one pending job, by its job key). The minute cron,
 * and every worker at start-up, restart the chain should a killed worker take
 * the chain's job down with it.
 */
import type { Task } from "graphile-worker";
import { WEBHOOK_CODES } from "./webhook__process.ts";

export interface SweepPayload {
  stalledAfterSeconds?: number;
  intervalSeconds?: number;
}

/** The job key of the chained run (the cron's own run has another key). */
export const SWEEP_CHAIN_JOB_KEY = "maintenance__sweep_stalled:next";

export const maintenance__sweep_stalled: Task = async (payload, helpers) => {
  const options = (payload ?? {}) as SweepPayload;
  const seconds = Number(options.stalledAfterSeconds ?? 40);
  const interval = Number(options.intervalSeconds ?? 60);
  // Next run first: a sweep that fails (database away) must not end the chain.
  if (interval < 60) {
    await helpers.addJob("maintenance__sweep_stalled", options, {
      jobKey: SWEEP_CHAIN_JOB_KEY,
      jobKeyMode: "replace",
      runAt: new Date(Date.now() + interval * 1000),
      maxAttempts: 1,
    });
  }
  const { rows } = await helpers.query<{ kind: string; subject: string }>(
    "select * from paytrust_private.sweep_stalled_work(make_interval(secs => $1))",
    [seconds],
  );
  const failed = rows.filter((row) => row.kind.endsWith("_failed"));
  const requeued = rows.filter((row) => !row.kind.endsWith("_failed"));
  for (const r of failed) {
    helpers.logger.warn(
      `${WEBHOOK_CODES.exhausted}: ${r.kind.replace(/_failed$/, "")} ${r.subject} failed: its job used every attempt`,
    );
  }
  if (requeued.length) {
    helpers.logger.info(
      `Re-queued ${requeued.length} stalled item(s): ${requeued.map((r) => `${r.kind} ${r.subject}`).join(", ")}`,
    );
  }
  // Outbound deliveries a dead worker left locked (at least 2 minutes, see the SQL).
  const { rows: deliveries } = await helpers.query<{ count: number }>(
    "select paytrust_private.sweep_stalled_webhook_deliveries(make_interval(secs => $1)) as count",
    [seconds],
  );
  if (deliveries[0]?.count) {
    helpers.logger.info(`Re-queued ${deliveries[0].count} stalled outbound webhook delivery(ies)`);
  }
};
