/**
 * Summarises a V8 CPU profile of a server child (recorded over the measured
 * seconds only, see bench/server.ts): self time per function and per package
 * (node_modules/<package>, PayTrust's src/, Node's internals, GC). Also
 * runnable on any .cpuprofile, e.g. one from `node --cpu-prof`:
 *   node bench/lib/profile.ts path/to/file.cpuprofile
 */
import { readFile } from "node:fs/promises";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  selfMs: number;
  /** Percent of busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  idleMs: number;
  byPackage: CostLine[];
  topFunctions: CostLine[];
}

/** Which package a frame belongs to, from its script URL. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url);
  if (modules) return modules[1];
  if (url.startsWith("node:")) return "node:internal";
  const own = /\/(src|bench)\/(.+)$/.exec(url);
  return own ? `paytrust ${own[1]}/${own[2].split("/")[0]}` : url;
}

function selfTimes(profile: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return self;
}

function top(costs: Map<string, number>, busyMs: number, n: number): CostLine[] {
  return [...costs]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, ms]) => ({
      name,
      selfMs: Math.round(ms),
      pct: Math.round((ms / busyMs) * 1000) / 10,
    }));
}

export function summariseProfile(file: string, profile: CpuProfile, n = 25): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, ms] of selfTimes(profile)) {
    const frame = nodes.get(id)!.callFrame;
    totalMs += ms;
    if (frame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    const pkg = packageOf(frame);
    const where = frame.url
      ? ` ${frame.url.split("/").slice(-2).join("/")}:${frame.lineNumber + 1}`
      : "";
    const name = `${frame.functionName || "(anonymous)"}${where} [${pkg}]`;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  return {
    file,
    busyMs: Math.round(busyMs),
    idleMs: Math.round(idleMs),
    byPackage: top(byPackage, busyMs, n),
    topFunctions: top(byFunction, busyMs, n),
  };
}

export async function summariseProfileFile(file: string): Promise<ProfileSummary> {
  return summariseProfile(file, JSON.parse(await readFile(file, "utf8")) as CpuProfile);
}

function printSummary(summary: ProfileSummary): void {
  console.log(`${summary.file}: busy ${summary.busyMs} ms, idle ${summary.idleMs} ms\n`);
  console.log("| package | self ms | % busy |\n|---|---:|---:|");
  for (const line of summary.byPackage)
    console.log(`| ${line.name} | ${line.selfMs} | ${line.pct} |`);
  console.log("\n| function | self ms | % busy |\n|---|---:|---:|");
  for (const line of summary.topFunctions)
    console.log(`| ${line.name} | ${line.selfMs} | ${line.pct} |`);
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node bench/lib/profile.ts file.cpuprofile");
  printSummary(await summariseProfileFile(file));
}
