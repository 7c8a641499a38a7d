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

export function monitorDatabase(pool: pg.Pool, intervalMs = 1000, timeoutMs = 2000): DbHealth {
  let up = true;
  let running: Promise<boolean> | null = null;

  const probe = () => {
    running ??= (async () => {
      const timer = new Promise<false>((resolve) =>
        setTimeout(() => resolve(false), timeoutMs).unref(),
      );
      const query = pool.query("select 1").then(
        () => true,
        () => false,
      );
      up = await Promise.race([query, timer]);
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
