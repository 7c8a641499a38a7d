/** Command-line options of `npm run bench`. */

export const PHASES = ["sql", "floor", "handwritten", "api", "webhooks"] as const;
export type Phase = (typeof PHASES)[number];

/** Client counts of the SQL-ceiling and floor sweeps (the HTTP concurrency is added). */
export const DEFAULT_SWEEP_CLIENTS = [2, 4, 10, 20, 50, 100];

export interface BenchOptions {
  /** Seconds of measurement per createInvoice HTTP phase. */
  durationS: number;
  /** Seconds of warm-up before each measured phase (not counted). */
  warmupS: number;
  connections: number;
  /** Client counts of the SQL-ceiling and floor sweeps, ascending (the planner may cap them). */
  sweepClients: number[];
  /** Seconds of measurement per sweep point (after sweepWarmupS). */
  sweepDurationS: number;
  sweepWarmupS: number;
  /** Pretend the server allows at most this many connections (tests the adaptation on any server). */
  maxConnections: number | null;
  /** --instances N (N ≥ 2): N API + worker processes on one PostgreSQL, limits shared in Redis. */
  instances: number;
  webhookRate: number;
  webhookDurationS: number;
  /** Share of webhooks sent a second time on purpose. */
  duplicateShare: number;
  soak: boolean;
  soakMinutes: number;
  reports: boolean;
  seedInvoices: number;
  /** Where the documented report queries are (docs/reporting.md). */
  reportsDoc: string;
  /** Run the API child under `node --cpu-prof` and summarise the profile. */
  profile: boolean;
  phases: Phase[];
  /** Interleaved repetitions of the createInvoice paths (median reported). */
  rounds: number;
  quick: boolean;
}

export const USAGE = `npm run bench -- [options]
  --quick               10 s HTTP phases (default 30 s), 4 s sweep points (default 10 s),
                        10 s of webhooks
  --duration N          seconds per createInvoice HTTP phase
  --sweep-duration N    seconds per client count of the SQL-ceiling and floor sweeps
  --sql-clients a,b,..  client counts of both sweeps (default ${DEFAULT_SWEEP_CLIENTS.join(",")})
  --connections N       concurrent HTTP connections (default 100; also a sweep point)
  --max-connections N   plan connections as if the server allowed only N (default: the
                        server's max_connections)
  --instances N         also run N API + worker processes on one PostgreSQL with limits
                        shared in Redis (REDIS_URL, default redis://127.0.0.1:6379)
  --webhook-rate N      webhooks per second (default 100)
  --webhook-duration N  seconds of webhooks (default: the phase duration)
  --soak                add the 5-minute mixed soak (--soak-minutes N to change)
  --reports             seed invoices (npm run seed) and time docs/reporting.md queries
  --seed-invoices N     invoices to seed for --reports (default 1000000)
  --reports-doc FILE    the Markdown with the report queries (default docs/reporting.md)
  --rounds N            repeat the createInvoice paths N times, interleaved; report
                        each path's median round (steadier on a shared machine)
  --profile             CPU-profile both server processes over the measured seconds
  --only a,b            run only these phases: ${PHASES.join(", ")}`;

function positive(name: string, raw: string | undefined): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}

function onlyPhases(raw: string | undefined): Phase[] {
  const names = String(raw ?? "").split(",");
  const unknown = names.filter((n) => !PHASES.includes(n as Phase));
  if (unknown.length) throw new Error(`--only: unknown phase(s) ${unknown.join(", ")}`);
  return names as Phase[];
}

function clientList(raw: string | undefined): number[] {
  const values = String(raw ?? "")
    .split(",")
    .map((v) => positive("--sql-clients", v));
  return values.map(Math.round);
}

/** Ascending, without duplicates. */
export const sortedUnique = (values: number[]) =>
  [...new Set(values.map(Math.round))].filter((v) => v > 0).sort((a, b) => a - b);

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const options: BenchOptions = {
    durationS: quick ? 10 : 30,
    warmupS: quick ? 3 : 5,
    connections: 100,
    sweepClients: [...DEFAULT_SWEEP_CLIENTS],
    sweepDurationS: quick ? 4 : 10,
    sweepWarmupS: quick ? 1 : 2,
    maxConnections: null,
    instances: 1,
    webhookRate: 100,
    webhookDurationS: quick ? 10 : 30,
    duplicateShare: 0.1,
    soak: false,
    soakMinutes: 5,
    reports: false,
    seedInvoices: 1_000_000,
    reportsDoc: "docs/reporting.md",
    profile: false,
    phases: [...PHASES],
    rounds: 1,
    quick,
  };
  let webhookDurationSet = false;
  let sweepDurationSet = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => argv[++i];
    if (arg === "--quick") continue;
    else if (arg === "--duration") options.durationS = positive(arg, next());
    else if (arg === "--sweep-duration") {
      options.sweepDurationS = positive(arg, next());
      sweepDurationSet = true;
    } else if (arg === "--sql-clients") options.sweepClients = clientList(next());
    else if (arg === "--connections") options.connections = Math.round(positive(arg, next()));
    else if (arg === "--max-connections")
      options.maxConnections = Math.round(positive(arg, next()));
    else if (arg === "--instances") options.instances = Math.round(positive(arg, next()));
    else if (arg === "--webhook-rate") options.webhookRate = positive(arg, next());
    else if (arg === "--webhook-duration") {
      options.webhookDurationS = positive(arg, next());
      webhookDurationSet = true;
    } else if (arg === "--soak") options.soak = true;
    else if (arg === "--soak-minutes") options.soakMinutes = positive(arg, next());
    else if (arg === "--reports") options.reports = true;
    else if (arg === "--seed-invoices") options.seedInvoices = Math.round(positive(arg, next()));
    else if (arg === "--reports-doc") options.reportsDoc = String(next());
    else if (arg === "--profile") options.profile = true;
    else if (arg === "--only") options.phases = onlyPhases(next());
    else if (arg === "--rounds") options.rounds = Math.round(positive(arg, next()));
    else if (arg === "--help" || arg === "-h") throw new Error(USAGE);
    else throw new Error(`Unknown option ${arg}\n${USAGE}`);
  }
  // --duration alone also sets how long webhooks are sent, unless given separately.
  if (!webhookDurationSet && argv.includes("--duration"))
    options.webhookDurationS = options.durationS;
  // A --duration shorter than the sweep default shortens the sweep points too.
  if (!sweepDurationSet && argv.includes("--duration"))
    options.sweepDurationS = Math.min(options.sweepDurationS, options.durationS);
  options.sweepClients = sortedUnique([...options.sweepClients, options.connections]);
  options.warmupS = Math.min(options.warmupS, Math.max(1, Math.round(options.durationS / 3)));
  options.sweepWarmupS = Math.min(
    options.sweepWarmupS,
    Math.max(1, Math.round(options.sweepDurationS / 3)),
  );
  return options;
}
