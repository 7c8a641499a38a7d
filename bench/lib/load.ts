/**
 * Closed-loop HTTP load with autocannon as a library: N connections, each
 * sending its next request as soon as the previous answer arrives, for a fixed
 * duration. Latencies are recorded from autocannon's per-response event (its
 * own histogram has no p95); every response body is checked, because GraphQL
 * reports most failures with HTTP 200 and an `errors` array. Warm-up and
 * measurement are ONE autocannon run on the same connections, and only what
 * completes after the warm-up counts: a separate warm-up run would leave its
 * aborted requests queued in the server, stalling the first seconds of the
 * measurement by up to seconds at 100 connections on 2 cores.
 */
import autocannon, { type AutocannonRequest, type AutocannonResult } from "autocannon";
import { everySecond, progress } from "./progress.ts";
import { LatencyRecorder, type LatencySummary, summarise } from "./stats.ts";

export interface HttpLoadOptions {
  label: string;
  url: string;
  connections: number;
  durationS: number;
  /** Seconds at the start that are run but not counted. */
  warmupS?: number;
  requests: AutocannonRequest[];
  /** True when a 2xx body still reports a failure (GraphQL errors). */
  failed?: (body: string) => boolean;
  /** Called every second (soak: RSS samples). */
  onSecond?: (elapsedS: number, recorder: LatencyRecorder) => void;
  quiet?: boolean;
}

export interface HttpLoadResult {
  durationS: number;
  requests: number;
  throughput: number;
  latency: LatencySummary;
  non2xx: number;
  bodyErrors: number;
  socketErrors: number;
  timeouts: number;
  errors: number;
  errorSamples: string[];
  recorder: LatencyRecorder;
}

export const hasGraphqlErrors = (body: string) => body.includes('"errors"');

interface Counts {
  /** performance.now() at which the warm-up ends. */
  measureFrom: number;
  non2xx: number;
  bodyErrors: number;
  samples: string[];
}

function countingRequests(options: HttpLoadOptions, counts: Counts) {
  const keep = (status: number, body: string) => {
    if (counts.samples.length < 5) counts.samples.push(`${status} ${body.slice(0, 300)}`);
  };
  return options.requests.map((request) => ({
    ...request,
    onResponse(status: number, body: string) {
      if (performance.now() < counts.measureFrom) return;
      if (status < 200 || status >= 300) {
        counts.non2xx++;
        keep(status, body);
      } else if (options.failed?.(body)) {
        counts.bodyErrors++;
        keep(status, body);
      }
    },
  }));
}

function run(options: HttpLoadOptions, recorder: LatencyRecorder, requests: AutocannonRequest[]) {
  return new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: (options.warmupS ?? 0) + options.durationS,
        timeout: 30,
        requests,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on("response", (_client: unknown, _status: number, _bytes: number, ms: number) =>
      recorder.record(ms),
    );
  });
}

export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const recorder = new LatencyRecorder();
  const warmupMs = (options.warmupS ?? 0) * 1000;
  const counts: Counts = {
    measureFrom: performance.now() + warmupMs,
    non2xx: 0,
    bodyErrors: 0,
    samples: [],
  };
  const line = options.quiet ? null : progress(options.label);
  let lastCount = 0;
  const stopTicking = everySecond((elapsed) => {
    const perSecond = recorder.count - lastCount;
    lastCount = recorder.count;
    const phase =
      elapsed < warmupMs / 1000
        ? "warm-up"
        : `${Math.round(elapsed - warmupMs / 1000)}/${options.durationS} s`;
    line?.update(`${phase}  ${perSecond} req/s  ${counts.non2xx + counts.bodyErrors} errors`);
    options.onSecond?.(elapsed, recorder);
  });
  try {
    const result = await run(options, recorder, countingRequests(options, counts));
    const measured = recorder.window(warmupMs, Number.POSITIVE_INFINITY);
    const durationS = result.duration - warmupMs / 1000;
    // autocannon's `errors` (socket errors, timeouts) cover the warm-up too: counted in full.
    const errors = counts.non2xx + counts.bodyErrors + result.errors;
    const throughput = Math.round(measured.length / durationS);
    line?.done(`${throughput} req/s, ${errors} errors`);
    return {
      durationS: Math.round(durationS * 100) / 100,
      requests: measured.length,
      throughput,
      latency: summarise(measured),
      non2xx: counts.non2xx,
      bodyErrors: counts.bodyErrors,
      socketErrors: result.errors - result.timeouts,
      timeouts: result.timeouts,
      errors,
      errorSamples: counts.samples,
      recorder,
    };
  } finally {
    stopTicking();
  }
}
