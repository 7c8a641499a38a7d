/**
 * graphile-worker in this process (npm start) or alone (paytrust worker).
 * Tasks live one per file in src/tasks, named area__action.
 */
import { Logger, type Runner, run } from "graphile-worker";
import type { Config } from "./config.ts";
import { graphileLogFactory } from "./logger.ts";
import type { WorkerDeps } from "./tasks/deps.ts";
import { makeTaskList } from "./tasks/index.ts";
import { SWEEP_CHAIN_JOB_KEY, type SweepPayload } from "./tasks/maintenance__sweep_stalled.ts";

export type { WorkerDeps } from "./tasks/deps.ts";

/** What the sweeper is told: see PAYTRUST_SWEEP_STALLED_AFTER_SECONDS / _INTERVAL_SECONDS. */
export function sweepPayload(config: Config): SweepPayload {
  return {
    stalledAfterSeconds: config.sweepStalledAfterSeconds,
    intervalSeconds: config.sweepIntervalSeconds,
  };
}

export function crontab(config: Config, tasks: string[]): string {
  const lines = [
    // Audit retention: daily at 03:17.
    `17 3 * * * maintenance__purge_audit_log ?max=1&jobKey=maintenance__purge_audit_log ${JSON.stringify({ retentionDays: config.auditRetentionDays })}`,
    // Re-queue work a killed worker left locked: every minute, and every
    // sweepIntervalSeconds through the task's own chain.
    `* * * * * maintenance__sweep_stalled ?max=1&jobKey=maintenance__sweep_stalled ${JSON.stringify(sweepPayload(config))}`,
    // Ask gateways about transactions with no webhook for too long.
    "*/2 * * * * gateway__reconcile ?max=1&jobKey=gateway__reconcile",
    // Pending attempts past expiresAt end (and free their installment).
    "* * * * * payment__expire_overdue ?max=1&jobKey=payment__expire_overdue",
  ];
  return lines.filter((line) => tasks.includes(line.split(/\s+/)[5])).join("\n");
}

/** How often the analyst limits are enforced (paytrust_private.enforce_analyst_limits). */
export const ANALYST_LIMITS_INTERVAL_MS = 5_000;

/**
 * Analysts can SET their own statement and idle-in-transaction timeouts;
 * this enforces the limits createAnalyst recorded, whatever they SET, within
 * ANALYST_LIMITS_INTERVAL_MS of the limit.
 */
function enforceAnalystLimits(deps: WorkerDeps): () => void {
  const log = deps.logger?.child({ component: "worker" });
  let warned = false;
  const timer = setInterval(() => {
    deps.pool
      .query<{ pid: number; role_name: string; action: string }>(
        "select pid, role_name, action from paytrust_private.enforce_analyst_limits()",
      )
      .then(
        ({ rows }) => {
          for (const r of rows) {
            const message = `analyst ${r.role_name} over its limit: backend ${r.pid} ${r.action}`;
            if (log) log.info({ role: r.role_name, pid: r.pid, action: r.action }, message);
            else deps.log(`[worker] info: ${message}`);
          }
        },
        (error: Error) => {
          if (!warned) {
            const message = "enforcing analyst limits failed";
            if (log) log.warn({ err: error }, message);
            else deps.log(`[worker] warning: ${message}: ${error.message}`);
          }
          warned = true;
        },
      );
  }, ANALYST_LIMITS_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export async function startWorker(deps: WorkerDeps): Promise<Runner> {
  const taskList = makeTaskList(deps);
  const runner = await run({
    pgPool: deps.pool,
    concurrency: deps.config.workerConcurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    taskList,
    crontab: crontab(deps.config, Object.keys(taskList)),
    logger: deps.logger
      ? new Logger(graphileLogFactory(deps.logger, "worker"))
      : new Logger(() => (level, message) => {
          if (level !== "debug") deps.log(`[worker] ${level}: ${message}`);
        }),
  });
  // A worker starting may be replacing one that was killed: sweep now rather
  // than at the next minute (this also starts the sweeper's chain).
  await runner.addJob("maintenance__sweep_stalled", sweepPayload(deps.config), {
    jobKey: SWEEP_CHAIN_JOB_KEY,
    jobKeyMode: "replace",
    maxAttempts: 1,
  });
  const stopLimits = enforceAnalystLimits(deps);
  const stop = runner.stop.bind(runner);
  runner.stop = async () => {
    stopLimits();
    await stop();
  };
  return runner;
}
