/** createInvoice over HTTP against a server child: PostGraphile (/graphql) or hand-written (/invoices). */
import type { AutocannonRequest } from "autocannon";
import type { ServerChild } from "./child.ts";
import type { BenchDatabase, BenchTenant } from "./database.ts";
import { BENCH_INVOICE, graphqlBody } from "./invoice.ts";
import { type HttpLoadResult, hasGraphqlErrors, httpLoad } from "./load.ts";
import { type CpuSplit, processRssMiB, startCpuMeter } from "./machine.ts";

export interface HttpPhaseResult extends Omit<HttpLoadResult, "recorder"> {
  connections: number;
  /** Over the measured seconds (from the end of the warm-up). */
  cpu: CpuSplit | null;
  serverRssMiB: { start: number | null; afterWarmup: number | null; end: number | null };
}

function requestFor(child: ServerChild, tenant: BenchTenant): AutocannonRequest {
  const headers = {
    "content-type": "application/json",
    authorization: `Bearer ${tenant.apiKey}`,
    "user-agent": "paytrust-bench",
  };
  return child.mode === "api"
    ? { method: "POST", path: "/graphql", headers, body: graphqlBody() }
    : { method: "POST", path: "/invoices", headers, body: JSON.stringify(BENCH_INVOICE) };
}

/** A 2xx answer that still is not an invoice. */
function failedFor(child: ServerChild): (body: string) => boolean {
  return child.mode === "api"
    ? (body) => hasGraphqlErrors(body) || !body.includes('"invoice":{')
    : (body) => !body.includes('"invoice":{');
}

export async function measureCreateInvoice(
  child: ServerChild,
  db: BenchDatabase,
  options: {
    label: string;
    connections: number;
    durationS: number;
    warmupS: number;
    /** Called once the warm-up is over (starts the CPU profile). */
    onMeasureStart?: () => void;
  },
): Promise<HttpPhaseResult> {
  const rssStart = processRssMiB(child.pid);
  // CPU and RSS are taken from the end of the warm-up (JIT, key cache, plans, pool connections).
  const measured: { endCpu?: () => CpuSplit; rss?: number | null } = {};
  const { recorder: _recorder, ...result } = await httpLoad({
    label: options.label,
    url: child.url,
    connections: options.connections,
    durationS: options.durationS,
    warmupS: options.warmupS,
    // autocannon cycles each connection through these: load spread over the tenants
    requests: db.tenants.map((tenant) => requestFor(child, tenant)),
    failed: failedFor(child),
    onSecond: (elapsed) => {
      if (measured.endCpu || elapsed < options.warmupS - 0.5) return;
      measured.rss = processRssMiB(child.pid);
      measured.endCpu = startCpuMeter(child.pid, db.postgres);
      options.onMeasureStart?.();
    },
  });
  return {
    ...result,
    connections: options.connections,
    cpu: measured.endCpu?.() ?? null,
    serverRssMiB: {
      start: rssStart,
      afterWarmup: measured.rss ?? null,
      end: processRssMiB(child.pid),
    },
  };
}
