/**
 * The SQL ceiling and the floor as sweeps over client counts (2, 4, 10, 20,
 * 50, 100 by default, capped by bench/lib/connections.ts): 100 clients on 2
 * cores are not a ceiling, they are a queue. The best point is the ceiling;
 * the point at the HTTP paths' concurrency ("SQL@100") is the like-for-like
 * comparison with the API and the hand-written endpoint.
 */

import type { BenchTenant } from "./database.ts";
import type { CpuSplit } from "./machine.ts";
import { type SqlResult, sqlCeiling } from "./sqlCeiling.ts";

export type SweepPath = "sql" | "floor";

export interface SweepResult {
  path: SweepPath;
  points: SqlResult[];
  /** The point with the highest throughput. */
  best: SqlResult | null;
  /** The point at the HTTP concurrency (or the planner's cap). */
  atConnections: SqlResult | null;
}

export const bestOf = (points: SqlResult[]): SqlResult | null =>
  points.reduce<SqlResult | null>((a, b) => (!a || b.throughput > a.throughput ? b : a), null);

export function sweepResult(path: SweepPath, points: SqlResult[], at: number): SweepResult {
  const sorted = [...points].sort((a, b) => a.clients - b.clients);
  return {
    path,
    points: sorted,
    best: bestOf(sorted),
    atConnections: sorted.find((p) => p.clients === at) ?? null,
  };
}

/**
 * Several rounds of one sweep: per client count the round with the median
 * throughput (as for the HTTP paths), then best and @N from those.
 */
export function medianSweep(path: SweepPath, rounds: SweepResult[], at: number): SweepResult {
  const byClients = new Map<number, SqlResult[]>();
  for (const round of rounds)
    for (const p of round.points)
      byClients.set(p.clients, [...(byClients.get(p.clients) ?? []), p]);
  const medians = [...byClients.values()].map((list) => {
    const sorted = [...list].sort((a, b) => a.throughput - b.throughput);
    return sorted[Math.floor((sorted.length - 1) / 2)];
  });
  return sweepResult(path, medians, at);
}

export async function runSweep(options: {
  path: SweepPath;
  sql: string;
  authUrl: string;
  tenants: BenchTenant[];
  clients: number[];
  atConnections: number;
  durationS: number;
  warmupS: number;
  meter: () => () => CpuSplit;
  /** Before each point: vacuum, checkpoint, wait for earlier backends to go. */
  before: () => Promise<void>;
}): Promise<SweepResult> {
  const points: SqlResult[] = [];
  const name = options.path === "sql" ? "SQL ceiling" : "floor";
  for (const clients of options.clients) {
    await options.before();
    points.push(
      await sqlCeiling({
        authUrl: options.authUrl,
        tenants: options.tenants,
        clients,
        durationS: options.durationS,
        warmupS: options.warmupS,
        sql: options.sql,
        label: `createInvoice (${name}, ${clients} clients)`,
        meter: options.meter,
      }),
    );
  }
  return sweepResult(options.path, points, options.atConnections);
}
