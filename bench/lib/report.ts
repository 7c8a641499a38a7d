/** The run's results (written as JSON) and their Markdown rendering (printed). */
import type { ConnectionPlan } from "./connections.ts";
import type { HttpPhaseResult } from "./createInvoiceHttp.ts";
import type { InstancesResult } from "./instances.ts";
import type { CpuSplit, Machine } from "./machine.ts";
import type { BenchOptions } from "./options.ts";
import type { ProfileSummary } from "./profile.ts";
import type { ReportsResult } from "./reports.ts";
import type { SoakResult } from "./soak.ts";
import type { SqlResult } from "./sqlCeiling.ts";
import type { SqlProfile } from "./sqlProfile.ts";
import type { LatencySummary } from "./stats.ts";
import type { SweepResult } from "./sweep.ts";
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
  /** The server's connection limits and what the run planned from them. */
  connections?: ConnectionPlan;
  /** PayTrust's create_invoice at several client counts: best = the ceiling. */
  sqlSweep?: SweepResult;
  /** The floor (bench/lib/floor.ts) at the same client counts: best = the physical reference. */
  floorSweep?: SweepResult;
  sqlProfile?: SqlProfile;
  handwritten?: HttpPhaseResult;
  api?: HttpPhaseResult;
  webhooks?: WebhookResult;
  soak?: SoakResult;
  reports?: ReportsResult;
  instances?: InstancesResult;
  /** --profile: CPU profiles of the server children over the measured createInvoice seconds. */
  profiles?: { api?: ProfileSummary; handwritten?: ProfileSummary };
  ratios?: Ratios;
  /** --rounds N: each round's throughput per path (the tables show the median round). */
  rounds?: {
    floorBest: number[];
    sqlBest: number[];
    sqlAtConnections: number[];
    handwritten: number[];
    api: number[];
  };
  targets?: Target[];
  /** Why the run failed (it then exits non-zero): phase errors, errors where none are allowed, crashes. */
  failures: string[];
}

export const PATHS = ["floor", "sqlBest", "sqlAtConnections", "handwritten", "api"] as const;
export type PathName = (typeof PATHS)[number];

export interface Ratios {
  /** req/s of every createInvoice path (null: not run). */
  throughput: Record<PathName, number | null>;
  /** Each path / the floor's best (the physical reference). */
  toFloor: Record<PathName, number | null>;
  /** Each path / the SQL ceiling's best. */
  toCeiling: Record<PathName, number | null>;
  apiToHandwritten: number | null;
}

export interface Target {
  name: string;
  measured: string;
  met: boolean | null;
}

const ratio = (a?: number | null, b?: number | null) =>
  a && b ? Math.round((a / b) * 100) / 100 : null;
const fmt = (value: number | null | undefined) =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : String(value);
const mark = (met: boolean | null) => (met === null ? "–" : met ? "yes" : "**no**");
const cpuCell = (cpu: CpuSplit | null) =>
  cpu ? `${fmt(cpu.server)} / ${fmt(cpu.postgres)} / ${cpu.loadGenerator} / ${cpu.other}` : "–";
const lat = (l: LatencySummary) => `${fmt(l.p50)} / ${fmt(l.p95)} / ${fmt(l.p99)}`;
/** PostgreSQL CPU per request (ms) from a phase's CPU split. */
const pgMsPer = (cpu: CpuSplit | null | undefined, throughput: number | undefined) =>
  cpu?.postgres != null && throughput
    ? Math.round((cpu.postgres * 10 * 100) / throughput) / 100
    : null;

export function computeRatios(
  r: Pick<BenchResults, "sqlSweep" | "floorSweep" | "handwritten" | "api">,
): Ratios {
  const throughput: Record<PathName, number | null> = {
    floor: r.floorSweep?.best?.throughput ?? null,
    sqlBest: r.sqlSweep?.best?.throughput ?? null,
    sqlAtConnections: r.sqlSweep?.atConnections?.throughput ?? null,
    handwritten: r.handwritten?.throughput ?? null,
    api: r.api?.throughput ?? null,
  };
  const over = (base: number | null) =>
    Object.fromEntries(PATHS.map((p) => [p, ratio(throughput[p], base)])) as Record<
      PathName,
      number | null
    >;
  return {
    throughput,
    toFloor: over(throughput.floor),
    toCeiling: over(throughput.sqlBest),
    apiToHandwritten: ratio(throughput.api, throughput.handwritten),
  };
}

/**
 * What makes the run fail (exit code 1): errors where none are allowed. Phase
 * exceptions and crashes are added by bench/run.ts as they happen.
 */
export function collectFailures(r: BenchResults): string[] {
  const out: string[] = [];
  const none = (what: string, n: number | undefined, samples?: string[]) => {
    if (n)
      out.push(`${what}: ${n} errors${samples?.length ? ` (${samples[0].slice(0, 160)})` : ""}`);
  };
  for (const sweep of [r.sqlSweep, r.floorSweep]) {
    for (const p of sweep?.points ?? [])
      none(
        `${sweep?.path === "floor" ? "floor" : "SQL ceiling"} at ${p.clients} clients`,
        p.errors,
        p.errorSamples,
      );
  }
  none("createInvoice (hand-written)", r.handwritten?.errors, r.handwritten?.errorSamples);
  none("createInvoice (API)", r.api?.errors, r.api?.errorSamples);
  const webhookFailures = (label: string, w?: WebhookResult) => {
    if (!w) return;
    none(`${label}: HTTP`, w.httpErrors, w.errorSamples);
    if (w.failedEvents) out.push(`${label}: ${w.failedEvents} events failed`);
    if (w.appliedExactlyOnce !== w.transactions)
      out.push(`${label}: ${w.appliedExactlyOnce}/${w.transactions} invoices paid exactly once`);
    if (w.processedEventsPerAttempt.more)
      out.push(
        `${label}: ${w.processedEventsPerAttempt.more} attempts with more than one processed event`,
      );
  };
  webhookFailures("webhooks", r.webhooks);
  none("soak", r.soak?.errors, r.soak?.errorSamples);
  for (const q of r.reports?.queries ?? [])
    if (q.error) out.push(`report "${q.name}": ${q.error.slice(0, 160)}`);
  const i = r.instances;
  if (i) {
    none(
      `createInvoice (${i.instances} instances)`,
      i.createInvoice.errors,
      i.createInvoice.errorSamples,
    );
    if (!i.sharedLimit.shared)
      out.push(
        `${i.instances} instances: the limit of ${i.sharedLimit.limitPerMinute}/min was not shared ` +
          `(accepted ${i.sharedLimit.acceptedPerInstance.join(" + ")}, ${i.sharedLimit.otherErrors} other errors)`,
      );
    webhookFailures(`webhooks across ${i.instances} instances`, i.webhooks);
    const o = i.outbound;
    if (o && !o.exactlyOnce)
      out.push(
        `outbound webhooks across ${i.instances} instances: ${o.received}/${o.events} received, ` +
          `${o.duplicates} duplicates, ${o.unknown} unknown`,
      );
  }
  return out;
}

/** The issue's targets for this 2-core machine; null where the phase did not run. */
export function evaluateTargets(r: BenchResults): Target[] {
  const t: Target[] = [];
  const add = (name: string, measured: string | null, met: boolean | null) =>
    t.push({ name, measured: measured ?? "not run", met: measured === null ? null : met });
  const ratios = r.ratios ?? computeRatios(r);
  const x = (v: number | null) => (v === null ? null : `${v} ×`);
  const sqlToFloor = ratios.toFloor.sqlBest;
  add("createInvoice SQL (best) ≥ 0.6 × floor (best)", x(sqlToFloor), (sqlToFloor ?? 0) >= 0.6);
  const best = r.sqlSweep?.best;
  add(
    "createInvoice ≤ 1.2 ms PostgreSQL CPU per invoice (SQL best point)",
    best?.postgresCpuMsPerTx != null ? `${best.postgresCpuMsPerTx} ms` : null,
    (best?.postgresCpuMsPerTx ?? 1e9) <= 1.2,
  );
  add(
    "API ≥ 0.8 × hand-written",
    x(ratios.apiToHandwritten),
    (ratios.apiToHandwritten ?? 0) >= 0.8,
  );
  add(
    "API ≥ 0.6 × SQL ceiling (best)",
    x(ratios.toCeiling.api),
    (ratios.toCeiling.api ?? 0) >= 0.6,
  );
  add(
    `API p95 ≤ 250 ms at ${r.options.connections} concurrent`,
    r.api ? `${r.api.latency.p95} ms` : null,
    (r.api?.latency.p95 ?? 1e9) <= 250,
  );
  add("API: zero errors", r.api ? String(r.api.errors) : null, r.api?.errors === 0);
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
  const i = r.instances;
  if (i) {
    const iw = i.webhooks;
    add(
      `${i.instances} instances: webhooks applied exactly once across workers`,
      iw
        ? `${iw.appliedExactlyOnce}/${iw.transactions}, ${iw.processedEventsPerAttempt.more} twice`
        : null,
      !!iw && iw.appliedExactlyOnce === iw.transactions && iw.processedEventsPerAttempt.more === 0,
    );
    const o = i.outbound;
    add(
      `${i.instances} instances: outbound webhooks delivered exactly once`,
      o ? `${o.received}/${o.events}, ${o.duplicates} duplicates` : null,
      !!o && o.exactlyOnce,
    );
    add(
      `${i.instances} instances: one rate-limit budget in Redis`,
      `${i.sharedLimit.acceptedPerInstance.reduce((a, b) => a + b, 0)}/${i.sharedLimit.limitPerMinute} accepted`,
      i.sharedLimit.shared,
    );
  }
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

function ratioCells(r: BenchResults, path: PathName): string {
  const q = r.ratios;
  return q ? `${fmt(q.toFloor[path])} | ${fmt(q.toCeiling[path])}` : "– | –";
}

function createInvoiceTable(r: BenchResults): string[] {
  const sql = r.sqlSweep;
  const floor = r.floorSweep;
  if (!sql && !floor && !r.handwritten && !r.api) return [];
  const o = r.options;
  const lines = [
    "",
    `### createInvoice (3 line items, 4 installments, IDR): HTTP ${o.connections} concurrent, ${o.durationS} s after ${o.warmupS} s warm-up; sweeps ${o.sweepDurationS} s per client count after ${o.sweepWarmupS} s`,
    "",
    "| path | req/s | × floor | × ceiling | p50 / p95 / p99 ms | errors | PostgreSQL CPU ms / invoice | CPU % server / PostgreSQL / load gen / other | server waiting for CPU | server RSS MiB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const sqlRow = (name: string, path: PathName, p: SqlResult | null | undefined) =>
    p &&
    lines.push(
      `| ${name} (${p.clients} clients) | ${p.throughput} | ${ratioCells(r, path)} | ${lat(p.latency)} | ${p.errors} | ${fmt(p.postgresCpuMsPerTx)} | ${cpuCell(p.cpu)} | – | – |`,
    );
  sqlRow(
    "floor: minimal PL/pgSQL, same rows, no triggers/audit/extra indexes, RLS",
    "floor",
    floor?.best,
  );
  sqlRow("SQL ceiling, best: create_invoice over pg, same transaction", "sqlBest", sql?.best);
  sqlRow(
    `SQL@${o.connections}: the same at the HTTP concurrency`,
    "sqlAtConnections",
    sql?.atConnections,
  );
  const http = (name: string, path: PathName, p?: HttpPhaseResult) =>
    p &&
    lines.push(
      `| ${name} | ${p.throughput} | ${ratioCells(r, path)} | ${lat(p.latency)} | ${p.errors} | ${fmt(pgMsPer(p.cpu, p.throughput))} | ${cpuCell(p.cpu)} | ${fmt(p.cpu?.serverWaitingForCpu)} % | ${fmt(p.serverRssMiB.start)} → ${fmt(p.serverRssMiB.end)} |`,
    );
  http("hand-written Express + pg (bench/handwritten.ts)", "handwritten", r.handwritten);
  http("PayTrust API: GraphQL, auth, rate limit", "api", r.api);
  const q = r.ratios;
  if (q) {
    lines.push(
      "",
      `Ratios to the floor (${fmt(q.throughput.floor)}/s): SQL best **${fmt(q.toFloor.sqlBest)}**, ` +
        `SQL@${o.connections} **${fmt(q.toFloor.sqlAtConnections)}**, hand-written **${fmt(q.toFloor.handwritten)}**, ` +
        `API **${fmt(q.toFloor.api)}**. To the SQL ceiling (${fmt(q.throughput.sqlBest)}/s): ` +
        `SQL@${o.connections} **${fmt(q.toCeiling.sqlAtConnections)}**, hand-written **${fmt(q.toCeiling.handwritten)}**, ` +
        `API **${fmt(q.toCeiling.api)}**. API / hand-written **${fmt(q.apiToHandwritten)}**.`,
    );
  }
  lines.push(...sweepTable(r));
  if (r.rounds) {
    const list = (values: number[]) => (values.length ? values.join(", ") : "–");
    lines.push(
      "",
      `Rounds (req/s, interleaved; the tables show each path's median round): floor best ${list(r.rounds.floorBest)}; ` +
        `SQL best ${list(r.rounds.sqlBest)}; SQL@${o.connections} ${list(r.rounds.sqlAtConnections)}; ` +
        `hand-written ${list(r.rounds.handwritten)}; API ${list(r.rounds.api)}.`,
    );
  }
  return lines;
}

function sweepTable(r: BenchResults): string[] {
  const sql = r.sqlSweep;
  const floor = r.floorSweep;
  if (!sql && !floor) return [];
  const clients = [
    ...new Set([...(sql?.points ?? []), ...(floor?.points ?? [])].map((p) => p.clients)),
  ].sort((a, b) => a - b);
  const lines = [
    "",
    "Sweep (req/s; p95 ms; PostgreSQL CPU ms per invoice; errors):",
    "",
    "| clients | SQL ceiling | SQL p95 | SQL PG ms | floor | floor p95 | floor PG ms | errors SQL / floor |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const n of clients) {
    const s = sql?.points.find((p) => p.clients === n);
    const f = floor?.points.find((p) => p.clients === n);
    const bold = (p: SqlResult | undefined, best: SqlResult | null | undefined) =>
      p ? (p === best ? `**${p.throughput}**` : String(p.throughput)) : "–";
    lines.push(
      `| ${n} | ${bold(s, sql?.best)} | ${fmt(s?.latency.p95)} | ${fmt(s?.postgresCpuMsPerTx)} | ${bold(f, floor?.best)} | ${fmt(f?.latency.p95)} | ${fmt(f?.postgresCpuMsPerTx)} | ${fmt(s?.errors)} / ${fmt(f?.errors)} |`,
    );
  }
  return lines;
}

function connectionsLine(r: BenchResults): string[] {
  const c = r.connections;
  if (!c) return [];
  const l = c.limits;
  return [
    "",
    `Connections: max_connections ${l.maxConnections}${c.maxConnectionsOverride ? ` (planned as ${c.maxConnectionsOverride})` : ""}, ` +
      `${l.superuserReserved + l.reserved} reserved, ${l.inUseByOthers} in use by others, ${c.headroom} headroom → ` +
      `budget ${c.budget}; sweeps at ${c.sweepClients.join(", ")} clients; server pools ` +
      `PAYTRUST_DB_POOL_SIZE=${c.pools.dbPoolSize}, PAYTRUST_WORKER_CONCURRENCY=${c.pools.workerConcurrency} ` +
      `(${c.pools.apiConnections} connections per API process).` +
      (c.notes.length ? ` ${c.notes.join("; ")}.` : ""),
  ];
}

function instancesTable(i?: InstancesResult): string[] {
  if (!i) return [];
  const c = i.createInvoice;
  const lines = [
    "",
    `### ${i.instances} instances (API + worker each) on one PostgreSQL, limits in Redis (${i.redis})`,
    "",
    "| createInvoice req/s total | per instance | p50 / p95 / p99 ms | errors | CPU % servers / PostgreSQL / load gen / other | shared limit: accepted / limit (refused) |",
    "|---:|---:|---:|---:|---:|---:|",
    `| ${c.throughput} | ${c.perInstance.join(" + ")} | ${lat(c.latency)} | ${c.errors} | ${cpuCell(c.cpu)} | ${i.sharedLimit.acceptedPerInstance.join(" + ")} / ${i.sharedLimit.limitPerMinute} (${i.sharedLimit.refused}) ${i.sharedLimit.shared ? "shared" : "**not shared**"} |`,
  ];
  const w = i.webhooks;
  if (w) {
    const tasks = (name: string) => (w.tasksByInstance ?? []).map((t) => t[name] ?? 0).join(" + ");
    lines.push(
      "",
      "| webhooks sent (round robin) | accepted | duplicates ignored | receive→applied p50 / p95 / p99 ms | paid exactly once | processed events per attempt: 1 / >1 / 0 | webhook__process jobs per instance | gateway__create_payment jobs per instance |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|",
      `| ${w.sent} | ${w.accepted} | ${w.duplicatesIgnored}/${w.duplicatesSent} | ${lat(w.receiveToApplied)} | ${w.appliedExactlyOnce}/${w.transactions} | ${w.processedEventsPerAttempt.one} / ${w.processedEventsPerAttempt.more} / ${w.processedEventsPerAttempt.none} | ${tasks("webhook__process")} | ${tasks("gateway__create_payment")} |`,
    );
  }
  const o = i.outbound;
  if (o) {
    lines.push(
      "",
      `Outbound webhooks (${o.eventTypes.join(", ")}) to an endpoint in the bench process: ` +
        `${o.received}/${o.events} events received, ${o.duplicates} duplicate deliveries, ` +
        `${o.unknown} unknown; webhook__deliver jobs per instance ${o.deliveriesByInstance.join(" + ")}` +
        `${o.exactlyOnce ? " (exactly once)" : " (**not exactly once**)"}.`,
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

function failuresList(failures: string[]): string[] {
  if (!failures.length) return [];
  return ["", "### FAILED (the run exits with code 1)", "", ...failures.map((f) => `- ${f}`)];
}

export function renderReport(r: BenchResults): string {
  return [
    ...header(r),
    ...connectionsLine(r),
    ...failuresList(r.failures),
    ...createInvoiceTable(r),
    ...webhookTable(r.webhooks),
    ...instancesTable(r.instances),
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
