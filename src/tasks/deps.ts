/**
 * What the tasks get from the worker that runs them (src/worker.ts builds it;
 * src/tasks/index.ts turns it into the task list). Here, not in worker.ts, so
 * that worker.ts → tasks/index.ts is the only import between them (no cycle).
 */
import type pg from "pg";
import type { Config } from "../config.ts";
import type { Logger as PinoLogger } from "../logger.ts";

export interface WorkerDeps {
  config: Config;
  /** The runtime role's pool (not the owner; graphile-worker's schema is granted to it). */
  pool: pg.Pool;
  gatewayUrls: { xenditBaseUrl: string; midtransSnapUrl: string; midtransApiUrl: string };
  publicBaseUrl: string;
  log: (line: string) => void;
  /** The process's logger: graphile-worker's own lines (scope: workerId, task, job) go to it. */
  logger?: PinoLogger;
}
