import { describe, expect, it } from "@jest/globals";
import {
  apiConnectionsOf,
  BENCH_EXTRA,
  BENCH_OWNER_POOL,
  PREPARE_POOL,
  planConnections,
  type ServerLimits,
} from "../../bench/lib/connections.ts";
import { DEFAULT_SWEEP_CLIENTS, parseOptions } from "../../bench/lib/options.ts";

const server = (maxConnections: number, inUseByOthers = 0): ServerLimits => ({
  maxConnections,
  superuserReserved: 3,
  reserved: 0,
  inUseByOthers,
});

const request = { sweepClients: DEFAULT_SWEEP_CLIENTS, connections: 100, instances: 1 };

/** The most the run holds at one time under a plan (bench/lib/connections.ts's accounting). */
function peak(plan: ReturnType<typeof planConnections>): number {
  const fixed = BENCH_OWNER_POOL + BENCH_EXTRA;
  return Math.max(
    fixed + Math.max(...plan.sweepClients),
    fixed + PREPARE_POOL + plan.instances * plan.pools.apiConnections,
  );
}

describe("bench connection planner", () => {
  it("keeps every requested client count on a roomy server", () => {
    const plan = planConnections(server(400, 12), request);
    expect(plan.sweepClients).toEqual([2, 4, 10, 20, 50, 100]);
    expect(plan.atConnections).toBe(100);
    expect(plan.capped).toEqual([]);
    expect(plan.pools).toMatchObject({ dbPoolSize: 10, workerConcurrency: 4, apiConnections: 25 });
  });

  it("caps the sweep on a default PostgreSQL (max_connections 100) and still fits", () => {
    const limits = server(100);
    const plan = planConnections(limits, request);
    const usable = limits.maxConnections - limits.superuserReserved - limits.reserved;
    expect(plan.capped).toEqual([100]);
    expect(Math.max(...plan.sweepClients)).toBeLessThan(100);
    expect(plan.sweepClients.slice(0, 5)).toEqual([2, 4, 10, 20, 50]);
    expect(plan.atConnections).toBe(Math.max(...plan.sweepClients));
    expect(peak(plan)).toBeLessThanOrEqual(usable - plan.headroom);
    expect(plan.notes.join(" ")).toMatch(/capped/);
  });

  it("--max-connections 100 on a 400-connection server plans as the default server would", () => {
    const real = planConnections(server(100), request);
    const pretended = planConnections(server(400), { ...request, maxConnectionsOverride: 100 });
    expect(pretended.sweepClients).toEqual(real.sweepClients);
    expect(pretended.maxConnectionsOverride).toBe(100);
    // An override above the server's own limit changes nothing.
    expect(planConnections(server(100), { ...request, maxConnectionsOverride: 500 }).budget).toBe(
      real.budget,
    );
  });

  it("counts connections other clients hold and PostgreSQL 16's reserved_connections", () => {
    const quiet = planConnections(server(100), request);
    const busy = planConnections({ ...server(100, 30), reserved: 5 }, request);
    expect(busy.budget).toBe(quiet.budget - 35);
    expect(Math.max(...busy.sweepClients)).toBe(Math.max(...quiet.sweepClients) - 35);
  });

  it("shrinks the server pools for several instances, then refuses", () => {
    const two = planConnections(server(100), { ...request, instances: 2 });
    expect(two.pools.apiConnections).toBe(25);
    const four = planConnections(server(100), { ...request, instances: 4 });
    expect(four.pools.apiConnections).toBeLessThan(25);
    expect(peak(four)).toBeLessThanOrEqual(four.budget);
    expect(four.notes.join(" ")).toMatch(/PAYTRUST_DB_POOL_SIZE=/);
    expect(() => planConnections(server(40), { ...request, instances: 4 })).toThrow(
      /npm run bench: the server has room for/,
    );
  });

  it("an API process holds PostGraphile's pool, the runtime pool and the health probe", () => {
    expect(apiConnectionsOf(10, 4)).toBe(10 + (4 + 10) + 1);
  });
});

describe("bench options", () => {
  it("adds the HTTP concurrency to the sweep and keeps it sorted", () => {
    const o = parseOptions(["--quick", "--sql-clients", "50,2,10", "--connections", "30"]);
    expect(o.sweepClients).toEqual([2, 10, 30, 50]);
    expect(o.sweepDurationS).toBe(4);
    expect(o.maxConnections).toBeNull();
  });

  it("parses --max-connections, --instances and a short --duration", () => {
    const o = parseOptions(["--duration", "2", "--max-connections", "100", "--instances", "2"]);
    expect(o).toMatchObject({ durationS: 2, sweepDurationS: 2, maxConnections: 100, instances: 2 });
    expect(o.warmupS).toBe(1);
  });
});
