/**
 * Knows whether the database answers, by a cheap probe once a second. While
 * it does not, the API refuses requests at once with 503 instead of letting
 * each one wait for a connection timeout; service resumes by itself with the
 * first successful probe.
 */
import type pg from "pg";

export interface DbHealth {
  isUp(): boolean;
  /** Probe now (used by /readyz so it reports the current state). */
  probe(): Promise<boolean>;
  stop(): void;
}

/**
 * A probe that fails outright (connection refused, server shutting down)
 * marks the database down at once. A probe that is only slow (our timeout, or
 * the pool's connection timeout) counts as a failure only after
 * SLOW_PROBES_BEFORE_DOWN in a row: a busy server is still up, and turning
 * every request into 503 because one probe waited 2 s under load would fail
 * requests that would have succeeded.
 */
export const SLOW_PROBES_BEFORE_DOWN = 3;

type ProbeResult = "ok" | "failed" | "slow";

function isTimeout(error: unknown): boolean {
  return error instanceof Error && /timeout/i.test(error.message);
}

export function monitorDatabase(pool: pg.Pool, intervalMs = 1000, timeoutMs = 2000): DbHealth {
  let up = true;
  let slowInARow = 0;
  let running: Promise<boolean> | null = null;

  const probe = () => {
    running ??= (async () => {
      const timer = new Promise<ProbeResult>((resolve) =>
        setTimeout(() => resolve("slow"), timeoutMs).unref(),
      );
      const query = pool.query("select 1").then(
        (): ProbeResult => "ok",
        (error: unknown): ProbeResult => (isTimeout(error) ? "slow" : "failed"),
      );
      const result = await Promise.race([query, timer]);
      slowInARow = result === "slow" ? slowInARow + 1 : 0;
      if (result === "ok") up = true;
      else if (result === "failed" || slowInARow >= SLOW_PROBES_BEFORE_DOWN) up = false;
      return up;
    })().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => void probe(), intervalMs);
  timer.unref();
  return { isUp: () => up, probe, stop: () => clearInterval(timer) };
}
