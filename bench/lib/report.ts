/** The run's results (written as JSON) and their Markdown rendering (printed). */
import type { HttpPhaseResult } from "./createInvoiceHttp.ts";
import type { CpuSplit, Machine } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import type { ProfileSummary } from "./profile.ts";
import type { ReportsResult } from "./reports.ts";
import type { SoakResult } from "./soak.ts";
import type { SqlResult } from "./sqlCeiling.ts";
import type { SqlProfile } from "./sqlProfile.ts";
import type { LatencySummary } from "./stats.ts";
import type { WebhookResult } from "./webhooks.ts";

export interface BenchResults {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  options: BenchOptions;
  machine: Machine;
  database: string;
  /** Busy CPU of the machine just before the run (% of one core): other work skews every figure. */
  backgroundLoadPct: number;
  sql?: SqlResult;
  sqlProfile?: SqlProfile;
  handwritten?: HttpPhaseResult;
  api?: HttpPhaseResult;
  webhooks?: WebhookResult;
  soak?: SoakResult;
  reports?: ReportsResult;
  /** --profile: CPU profiles of the server children over the measured createInvoice seconds. */
  profiles?: { api?: ProfileSummary; handwritten?: ProfileSummary };
  ratios?: { apiToSql: number | null; apiToHandwritten: number | null };
  /** --rounds N: each round's throughput per path (the tables show the median round). */
  rounds?: { sql: number[]; handwritten: number[]; api: number[] };
  targets?: Target[];
}

export interface Target {
  name: string;
  measured: string;
  met: boolean | null;
}

const ratio = (a?: number, b?: number) => (a && b ? Math.round((a / b) * 100) / 100 : null);
const fmt = (value: number | null | undefined) =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : String(value);
const mark = (met: boolean | null) => (met === null ? "–" : met ? "yes" : "**no**");
const cpuCell = (cpu: CpuSplit | null) =>
  cpu ? `${fmt(cpu.server)} / ${fmt(cpu.postgres)} / ${cpu.loadGenerator} / ${cpu.other}` : "–";
const lat = (l: LatencySummary) => `${fmt(l.p50)} / ${fmt(l.p95)} / ${fmt(l.p99)}`;

export function computeRatios(results: BenchResults): BenchResults["ratios"] {
  return {
    apiToSql: ratio(results.api?.throughput, results.sql?.throughput),
    apiToHandwritten: ratio(results.api?.throughput, results.handwritten?.throughput),
  };
}

/** The issue's targets for this 2-core machine; null where the phase did not run. */
export function evaluateTargets(r: BenchResults): Target[] {
  const t: Target[] = [];
  const add = (name: string, measured: string | null, met: boolean | null) =>
    t.push({ name, measured: measured ?? "not run", met: measured === null ? null : met });
  const { apiToSql, apiToHandwritten } = r.ratios ?? { apiToSql: null, apiToHandwritten: null };
  add(
    "createInvoice ≥ 0.7 × hand-written",
    apiToHandwritten === null ? null : `${apiToHandwritten} ×`,
    (apiToHandwritten ?? 0) >= 0.7,
  );
  add(
    "createInvoice ≥ 0.4 × SQL ceiling",
    apiToSql === null ? null : `${apiToSql} ×`,
    (apiToSql ?? 0) >= 0.4,
  );
  add(
    "createInvoice p95 ≤ 250 ms at 100 concurrent",
    r.api ? `${r.api.latency.p95} ms` : null,
    (r.api?.latency.p95 ?? 1e9) <= 250,
  );
  add("createInvoice: zero errors", r.api ? String(r.api.errors) : null, r.api?.errors === 0);
  add(
    "sustained createInvoice ≥ 116/s",
    r.api ? `${r.api.throughput}/s` : null,
    (r.api?.throughput ?? 0) >= 116,
  );
  const w = r.webhooks;
  add(
    "webhooks receive→applied p95 ≤ 200 ms",
    w ? `${w.receiveToApplied.p95} ms` : null,
    (w?.receiveToApplied.p95 ?? 1e9) <= 200,
  );
  add(
    "webhooks 100 % applied exactly once",
    w ? `${w.appliedExactlyOnce}/${w.transactions}` : null,
    !!w && w.appliedExactlyOnce === w.transactions,
  );
  const s = r.soak;
  add("soak: zero errors", s ? String(s.errors) : null, s?.errors === 0);
  add("soak: p95 drift ≤ 20 %", s ? `${s.p95DriftPct} %` : null, (s?.p95DriftPct ?? 1e9) <= 20);
  add(
    "soak: RSS growth ≤ 10 % after warm-up",
    s ? `${s.rssGrowthAfterWarmupPct} %` : null,
    (s?.rssGrowthAfterWarmupPct ?? 1e9) <= 10,
  );
  return t;
}

function header(r: BenchResults): string[] {
  const m = r.machine;
  return [
    `## PayTrust benchmark, ${r.startedAt.slice(0, 16).replace("T", " ")} UTC`,
    "",
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; Node ${m.node}; ` +
      `PostgreSQL ${m.postgres} (${r.database}). Load generator: ${m.loadGenerator}.`,
    `Background load before the run: ${r.backgroundLoadPct} % of one core` +
      (r.backgroundLoadPct > 20
        ? " (**busy machine: figures are lower than on an idle one**)."
        : "."),
  ];
}

function createInvoiceTable(r: BenchResults): string[] {
  if (!r.sql && !r.handwritten && !r.api) return [];
  const o = r.options;
  const lines = [
    "",
    `### createInvoice (3 line items, 4 installments, IDR): ${o.connections} concurrent, ${o.durationS} s after ${o.warmupS} s warm-up`,
    "",
    "| path | req/s | p50 / p95 / p99 ms | errors | CPU % server / PostgreSQL / load gen / other | server waiting for CPU | server RSS MiB |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  if (r.sql) {
    lines.push(
      `| SQL ceiling (pg, ${r.sql.clients} clients, same transaction) | ${r.sql.throughput} | ${lat(r.sql.latency)} | ${r.sql.errors} | ${cpuCell(r.sql.cpu)} | – | – |`,
    );
  }
  const http = (name: string, p?: HttpPhaseResult) =>
    p &&
    lines.push(
      `| ${name} | ${p.throughput} | ${lat(p.latency)} | ${p.errors} | ${cpuCell(p.cpu)} | ${fmt(p.cpu?.serverWaitingForCpu)} % | ${fmt(p.serverRssMiB.start)} → ${fmt(p.serverRssMiB.end)} |`,
    );
  http("hand-written Express + pg (bench/handwritten.ts)", r.handwritten);
  http("PayTrust API: GraphQL, auth, rate limit", r.api);
  const { apiToSql, apiToHandwritten } = r.ratios ?? {};
  lines.push(
    "",
    `Ratios: API / SQL ceiling = **${fmt(apiToSql)}**, API / hand-written = **${fmt(apiToHandwritten)}**.`,
  );
  if (r.rounds) {
    const list = (values: number[]) => (values.length ? values.join(", ") : "–");
    lines.push(
      `Rounds (req/s, interleaved; the table shows each path's median round): SQL ${list(r.rounds.sql)}; ` +
        `hand-written ${list(r.rounds.handwritten)}; API ${list(r.rounds.api)}.`,
    );
  }
  return lines;
}

function webhookTable(w?: WebhookResult): string[] {
  if (!w) return [];
  return [
    "",
    `### Webhooks: signed Xendit + Midtrans PAID at ${w.rate}/s for ${w.durationS} s, ${w.duplicatesSent} sent twice on purpose`,
    "",
    "| sent | accepted (200) | duplicates ignored | HTTP p50 / p95 / p99 ms | receive→applied p50 / p95 / p99 ms | applied exactly once | over / under / failed |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    `| ${w.sent} | ${w.accepted} (${w.successRate} %) | ${w.duplicatesIgnored}/${w.duplicatesSent} | ${lat(w.acceptLatency)} | ${lat(w.receiveToApplied)} | ${w.appliedExactlyOnce}/${w.transactions} | ${w.overpaid} / ${w.unpaid} / ${w.failedEvents} |`,
  ];
}

function soakTable(s?: SoakResult): string[] {
  if (!s) return [];
  return [
    "",
    `### Soak: ${s.minutes} min, ${s.connections} concurrent, 50 % createInvoice / 50 % reads`,
    "",
    "| req/s | errors | p95 first min | p95 last min | p95 drift | RSS MiB start / after 1 min / end | RSS growth after warm-up | V8 heap floor MiB 2nd min → last min |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
    `| ${s.throughput} | ${s.errors} | ${s.firstMinute.p95} ms | ${s.lastMinute.p95} ms | ${s.p95DriftPct} % | ${fmt(s.rssMiB.start)} / ${fmt(s.rssMiB.afterWarmup)} / ${fmt(s.rssMiB.end)} | ${fmt(s.rssGrowthAfterWarmupPct)} % | ${fmt(s.heapFloorMiB.afterWarmup)} → ${fmt(s.heapFloorMiB.end)} (${fmt(s.heapFloorGrowthPct)} %) |`,
  ];
}

function reportsTable(reports?: ReportsResult): string[] {
  if (!reports) return [];
  if (reports.skipped) return ["", `### Reports: skipped (${reports.skipped})`];
  const lines = [
    "",
    `### Reports on ${reports.seededInvoices?.toLocaleString("en")} seeded invoices (seeded in ${reports.seedSeconds} s)`,
    "",
    "| documented query | run as | cold ms | warm median ms | rows |",
    "|---|---|---:|---:|---:|",
  ];
  for (const q of reports.queries ?? []) {
    lines.push(
      `| ${q.name} | ${q.ranAs ?? "–"} | ${fmt(q.coldMs)} | ${fmt(q.warmMedianMs)} | ${q.error ? `error: ${q.error.slice(0, 80)}` : fmt(q.rows)} |`,
    );
  }
  return lines;
}

function sqlProfileTable(p?: SqlProfile): string[] {
  if (!p) return [];
  if (p.skipped) return ["", `### SQL function profile: skipped (${p.skipped})`];
  const lines = [
    "",
    `### Where PostgreSQL spends createInvoice (track_functions, ${p.invoices} invoices, 10 clients)`,
    "",
    "| function | calls / invoice | self ms / invoice | total ms / invoice |",
    "|---|---:|---:|---:|",
  ];
  for (const f of p.functions.slice(0, 10)) {
    lines.push(
      `| ${f.name} | ${f.callsPerInvoice} | ${f.selfMsPerInvoice} | ${f.totalMsPerInvoice} |`,
    );
  }
  return lines;
}

function profileTable(name: string, p?: ProfileSummary): string[] {
  if (!p) return [];
  const lines = [
    "",
    `### ${name} CPU profile, measured seconds only (${p.busyMs} ms busy, ${p.idleMs} ms idle)`,
    "",
    `Profile: ${p.file}`,
    "",
    "| package | self % of busy |",
    "|---|---:|",
  ];
  for (const l of p.byPackage.slice(0, 12)) lines.push(`| ${l.name} | ${l.pct} |`);
  lines.push("", "| function | self % of busy |", "|---|---:|");
  for (const l of p.topFunctions.slice(0, 15)) lines.push(`| \`${l.name}\` | ${l.pct} |`);
  return lines;
}

function targetsTable(targets: Target[] = []): string[] {
  return [
    "",
    "### Targets (2-core machine, load generator included)",
    "",
    "| target | measured | met |",
    "|---|---:|:---:|",
    ...targets.map((t) => `| ${t.name} | ${t.measured} | ${mark(t.met)} |`),
  ];
}

export function renderReport(r: BenchResults): string {
  return [
    ...header(r),
    ...createInvoiceTable(r),
    ...webhookTable(r.webhooks),
    ...soakTable(r.soak),
    ...reportsTable(r.reports),
    ...targetsTable(r.targets),
    ...sqlProfileTable(r.sqlProfile),
    ...profileTable("API server", r.profiles?.api),
    ...profileTable("Hand-written server", r.profiles?.handwritten),
    "",
    "CPU columns: percent of ONE core over the measured seconds (200 % = the whole 2-core machine); " +
      "`other` is work outside the benchmark (other processes on the machine).",
  ].join("\n");
}
