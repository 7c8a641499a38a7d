import { describe, expect, it } from "@jest/globals";
import { parseOptions } from "../../bench/lib/options.ts";
import {
  type BenchResults,
  collectFailures,
  computeRatios,
  evaluateTargets,
  renderReport,
} from "../../bench/lib/report.ts";
import type { SqlResult } from "../../bench/lib/sqlCeiling.ts";
import { medianSweep, sweepResult } from "../../bench/lib/sweep.ts";

const latency = { count: 1, mean: 1, p50: 1, p95: 2, p99: 3, max: 4 };
const point = (clients: number, throughput: number, errors = 0): SqlResult => ({
  clients,
  postgresCpuMsPerTx: 1,
  durationS: 10,
  transactions: throughput * 10,
  throughput,
  latency,
  errors,
  errorSamples: errors ? ["53300 remaining connection slots are reserved"] : [],
  cpu: null,
});
const http = (throughput: number, errors = 0) =>
  ({
    throughput,
    errors,
    errorSamples: [],
    latency,
    cpu: null,
    serverRssMiB: { start: 1, afterWarmup: 1, end: 1 },
  }) as unknown as BenchResults["api"];

function results(overrides: Partial<BenchResults> = {}): BenchResults {
  return {
    runId: "x",
    startedAt: "2026-12-02T00:00:00.000Z",
    options: parseOptions(["--quick"]),
    machine: {
      cpus: 2,
      cpuModel: "test",
      memoryGiB: 1,
      node: "v22",
      postgres: "15",
      platform: "linux",
      loadGenerator: "same",
    },
    database: "test",
    backgroundLoadPct: 0,
    sqlSweep: sweepResult("sql", [point(2, 500), point(10, 700), point(100, 400)], 100),
    floorSweep: sweepResult("floor", [point(2, 1200), point(10, 2000), point(100, 1500)], 100),
    handwritten: http(560),
    api: http(380),
    failures: [],
    ...overrides,
  };
}

describe("bench ratios", () => {
  it("relates every path to the floor's best and the ceiling's best", () => {
    const r = computeRatios(results());
    expect(r.throughput).toEqual({
      floor: 2000,
      sqlBest: 700,
      sqlAtConnections: 400,
      handwritten: 560,
      api: 380,
    });
    expect(r.toFloor).toEqual({
      floor: 1,
      sqlBest: 0.35,
      sqlAtConnections: 0.2,
      handwritten: 0.28,
      api: 0.19,
    });
    expect(r.toCeiling.api).toBe(0.54);
    expect(r.toCeiling.sqlAtConnections).toBe(0.57);
    expect(r.apiToHandwritten).toBe(0.68);
  });

  it("leaves ratios of paths that did not run empty", () => {
    const r = computeRatios(results({ floorSweep: undefined, api: undefined }));
    expect(r.toFloor.sqlBest).toBeNull();
    expect(r.toCeiling.api).toBeNull();
  });

  it("takes the median round per client count, then the best of those", () => {
    const rounds = [
      sweepResult("sql", [point(2, 100), point(10, 300)], 10),
      sweepResult("sql", [point(2, 500), point(10, 200)], 10),
      sweepResult("sql", [point(2, 300), point(10, 250)], 10),
    ];
    const m = medianSweep("sql", rounds, 10);
    expect(m.points.map((p) => p.throughput)).toEqual([300, 250]);
    expect(m.best?.clients).toBe(2);
    expect(m.atConnections?.throughput).toBe(250);
  });
});

describe("bench failures (exit code 1)", () => {
  it("a clean run has none", () => {
    expect(collectFailures(results())).toEqual([]);
  });

  it("any error where zero is required fails the run", () => {
    const r = results({
      sqlSweep: sweepResult("sql", [point(2, 500), point(100, 10, 3)], 100),
      api: http(380, 2),
    });
    const failures = collectFailures(r);
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(/SQL ceiling at 100 clients: 3 errors \(53300 remaining/);
    expect(failures[1]).toMatch(/createInvoice \(API\): 2 errors/);
  });

  it("the report lists failures and the new ratios", () => {
    const r = results({ failures: ["floor sweep: boom"] });
    r.ratios = computeRatios(r);
    r.targets = evaluateTargets(r);
    const text = renderReport(r);
    expect(text).toMatch(/### FAILED/);
    expect(text).toMatch(/floor sweep: boom/);
    expect(text).toMatch(/Ratios to the floor \(2000\/s\): SQL best \*\*0\.35\*\*/);
    expect(text).toMatch(/\| 10 \| \*\*700\*\* \|/);
    expect(r.targets.find((t) => t.name.startsWith("createInvoice SQL (best)"))?.met).toBe(false);
  });
});
