/** Command-line options of `npm run bench`. */

export const PHASES = ["sql", "handwritten", "api", "webhooks"] as const;
export type Phase = (typeof PHASES)[number];

export interface BenchOptions {
  /** Seconds of measurement per createInvoice phase. */
  durationS: number;
  /** Seconds of warm-up before each measured phase (not counted). */
  warmupS: number;
  connections: number;
  /** Concurrent pg clients of the SQL-ceiling phase. */
  sqlClients: number;
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
  /** Interleaved repetitions of the three createInvoice paths (median reported). */
  rounds: number;
  quick: boolean;
}

export const USAGE = `npm run bench -- [options]
  --quick               10 s phases (default 30 s), 10 s of webhooks
  --duration N          seconds per createInvoice phase
  --connections N       concurrent HTTP connections / SQL clients (default 100)
  --webhook-rate N      webhooks per second (default 100)
  --webhook-duration N  seconds of webhooks (default: the phase duration)
  --soak                add the 5-minute mixed soak (--soak-minutes N to change)
  --reports             seed invoices (npm run seed) and time docs/reporting.md queries
  --seed-invoices N     invoices to seed for --reports (default 1000000)
  --reports-doc FILE    the Markdown with the report queries (default docs/reporting.md)
  --rounds N            repeat the three createInvoice paths N times, interleaved; report
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

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes("--quick");
  const options: BenchOptions = {
    durationS: quick ? 10 : 30,
    warmupS: quick ? 3 : 5,
    connections: 100,
    sqlClients: 100,
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
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => argv[++i];
    if (arg === "--quick") continue;
    else if (arg === "--duration") options.durationS = positive(arg, next());
    else if (arg === "--connections") {
      options.connections = positive(arg, next());
      options.sqlClients = options.connections;
    } else if (arg === "--webhook-rate") options.webhookRate = positive(arg, next());
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
  options.warmupS = Math.min(options.warmupS, Math.max(1, Math.round(options.durationS / 3)));
  return options;
}
