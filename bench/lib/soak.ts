/**
 * Soak (--soak): 100 connections for 5 minutes against the API, half writes
 * (createInvoice) and half reads (an invoice with its lines and installments;
 * the latest page of invoices). Looks for what a short run hides: errors that
 * appear over time, latency that drifts from the first minute to the last,
 * and memory that keeps growing after warm-up.
 */
import type { AutocannonRequest } from "autocannon";
import type { ServerChild } from "./child.ts";
import type { BenchDatabase } from "./database.ts";
import { graphqlBody } from "./invoice.ts";
import { hasGraphqlErrors, httpLoad } from "./load.ts";
import { type CpuSplit, processRssMiB, startCpuMeter } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import { drift, type LatencySummary, summarise } from "./stats.ts";

export interface SoakResult {
  minutes: number;
  connections: number;
  requests: number;
  throughput: number;
  errors: number;
  errorSamples: string[];
  latency: LatencySummary;
  firstMinute: LatencySummary;
  lastMinute: LatencySummary;
  p95DriftPct: number;
  /** RSS of the server process: at the start, after the first minute (warm-up), at the end. */
  rssMiB: { start: number | null; afterWarmup: number | null; end: number | null };
  rssGrowthAfterWarmupPct: number;
  rssSamples: Array<[number, number | null]>;
  /**
   * V8 heap in use, lowest sample of the second minute vs of the last minute: the
   * floor the garbage collector gets back to, i.e. live data. RSS grows in steps as
   * V8 enlarges its heap; a leak shows as a rising floor.
   */
  heapFloorMiB: { afterWarmup: number | null; end: number | null };
  heapFloorGrowthPct: number;
  heapSamples: Array<[number, number]>;
  cpu: CpuSplit;
}

const INVOICE_QUERY = `query Invoice($id: UUID!) {
  invoice(id: $id) {
    id number status total amountPaid
    lineItems { nodes { description quantity unitPrice taxRate lineAmount taxAmount } }
    installments { nodes { number dueDate total status paidAmount } }
  }
}`;

const LATEST_QUERY = `query Latest {
  invoices(first: 20, orderBy: CREATED_AT_DESC) { nodes { id number status total createdAt } }
}`;

/** Invoices for the reads to find, created through the API like any client would. */
async function seedReadTargets(
  child: ServerChild,
  apiKey: string,
  count: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${child.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: graphqlBody(),
    });
    const body = (await res.json()) as any;
    ids.push(body.data.createInvoice.invoice.id);
  }
  return ids;
}

/** Ten requests each connection cycles through: 5 writes, 3 single-invoice reads, 2 list reads. */
function mixedRequests(apiKey: string, ids: string[]): AutocannonRequest[] {
  const headers = {
    "content-type": "application/json",
    authorization: `Bearer ${apiKey}`,
    "user-agent": "paytrust-bench",
  };
  const post = (body: string) => ({ method: "POST", path: "/graphql", headers, body });
  const write = post(graphqlBody());
  const read = (i: number) =>
    post(JSON.stringify({ query: INVOICE_QUERY, variables: { id: ids[i % ids.length] } }));
  const list = post(JSON.stringify({ query: LATEST_QUERY }));
  return [write, read(0), write, list, write, read(1), write, read(2), write, list];
}

export async function runSoak(
  db: BenchDatabase,
  child: ServerChild,
  options: BenchOptions,
): Promise<SoakResult> {
  const ids = await seedReadTargets(child, db.tenant.apiKey, 20);
  const durationS = Math.round(options.soakMinutes * 60);
  const rssSamples: Array<[number, number | null]> = [[0, processRssMiB(child.pid)]];
  const heapSamples: Array<[number, number]> = [];
  const sampleHeap = (t: number) =>
    child
      .memory()
      .then((m) => heapSamples.push([t, Math.round(m.heapUsed / 104857.6) / 10]))
      .catch(() => {});
  const cpu = startCpuMeter(child.pid, db.postgres);
  const { recorder, ...load } = await httpLoad({
    label: "soak (mixed reads/writes)",
    url: child.url,
    connections: options.connections,
    durationS,
    requests: mixedRequests(db.tenant.apiKey, ids),
    failed: hasGraphqlErrors,
    onSecond: (elapsed) => {
      const t = Math.round(elapsed);
      void sampleHeap(t);
      if (t % 5 === 0) rssSamples.push([t, processRssMiB(child.pid)]);
    },
  });
  const end = processRssMiB(child.pid);
  rssSamples.push([durationS, end]);
  const minuteMs = Math.min(60_000, (durationS * 1000) / 3);
  const firstMinute = summarise(recorder.window(0, minuteMs));
  const lastMinute = summarise(
    recorder.window(durationS * 1000 - minuteMs, durationS * 1000 + 1000),
  );
  const afterWarmup = rssSamples.find(([t]) => t >= minuteMs / 1000)?.[1] ?? null;
  const floor = (from: number, to: number) => {
    const inWindow = heapSamples.filter(([t]) => t >= from && t < to).map(([, v]) => v);
    return inWindow.length ? Math.min(...inWindow) : null;
  };
  const windowS = minuteMs / 1000;
  const heapFloorMiB = {
    afterWarmup: floor(windowS, 2 * windowS),
    end: floor(durationS - windowS, durationS + 1),
  };
  return {
    minutes: options.soakMinutes,
    connections: options.connections,
    requests: load.requests,
    throughput: load.throughput,
    errors: load.errors,
    errorSamples: load.errorSamples,
    latency: load.latency,
    firstMinute,
    lastMinute,
    p95DriftPct: drift(firstMinute.p95, lastMinute.p95),
    rssMiB: { start: rssSamples[0][1], afterWarmup, end },
    rssGrowthAfterWarmupPct: afterWarmup && end ? drift(afterWarmup, end) : Number.NaN,
    rssSamples,
    heapFloorMiB,
    heapFloorGrowthPct:
      heapFloorMiB.afterWarmup && heapFloorMiB.end
        ? drift(heapFloorMiB.afterWarmup, heapFloorMiB.end)
        : Number.NaN,
    heapSamples,
    cpu: cpu(),
  };
}
