/** The worker's task list: one file per task, named area__action. */
import type { TaskList } from "graphile-worker";
import type { WorkerDeps } from "../worker.ts";
import { maintenance__purge_audit_log } from "./maintenance__purge_audit_log.ts";

export function makeTaskList(_deps: WorkerDeps): TaskList {
  return {
    maintenance__purge_audit_log,
  };
}
