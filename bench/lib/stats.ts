/** Latency samples and their percentiles (exact: every sample is kept, runs are short). */

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const round1 = (value: number) => Math.round(value * 10) / 10;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export function summarise(values: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    mean: round1(sum / (sorted.length || 1)),
    p50: round1(percentile(sorted, 50)),
    p95: round1(percentile(sorted, 95)),
    p99: round1(percentile(sorted, 99)),
    max: round1(sorted.length ? sorted[sorted.length - 1] : Number.NaN),
  };
}

/** Latencies (ms) with the time each completed, so windows (first / last minute) can be compared. */
export class LatencyRecorder {
  readonly latencies: number[] = [];
  readonly completedAt: number[] = [];
  private readonly startedAt = performance.now();

  record(latencyMs: number): void {
    this.latencies.push(latencyMs);
    this.completedAt.push(performance.now() - this.startedAt);
  }

  get count(): number {
    return this.latencies.length;
  }

  /** Samples completed in [fromMs, toMs) after the recorder started. */
  window(fromMs: number, toMs: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.latencies.length; i++) {
      const t = this.completedAt[i];
      if (t >= fromMs && t < toMs) out.push(this.latencies[i]);
    }
    return out;
  }

  summary(): LatencySummary {
    return summarise(this.latencies);
  }
}

/** Change from `before` to `after` in percent (positive: grew). */
export const drift = (before: number, after: number) =>
  before > 0 ? Math.round(((after - before) / before) * 1000) / 10 : Number.NaN;
