/** The machine a run was taken on, and CPU accounting per process from /proc (Linux). */
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, totalmem } from "node:os";
import type pg from "pg";

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  platform: string;
  loadGenerator: string;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1].trim();
  } catch {}
  return cpus()[0]?.model ?? "unknown";
}

export async function describeMachine(pool: pg.Pool): Promise<Machine> {
  const { rows } = await pool.query<{ v: string }>("select current_setting('server_version') as v");
  return {
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    postgres: rows[0].v,
    platform: `${process.platform} ${process.arch}`,
    loadGenerator: "same machine (autocannon and pg clients in the bench process)",
  };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Busy CPU seconds of the whole machine since boot (all cores). */
function machineBusySeconds(): number {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
  return (user + nice + system + irq + softirq + (steal ?? 0)) / TICKS_PER_SECOND;
}

/** CPU seconds (user + system) a process has used, or 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Seconds a process's main thread (the event loop) has spent runnable but waiting for a CPU. */
function runQueueWaitSeconds(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in MiB (VmRSS), or null once it is gone. */
export function processRssMiB(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Math.round(Number(match[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** The postmaster of the server a pool talks to, when it runs on this machine (else null). */
export async function findPostmaster(pool: pg.Pool): Promise<number | null> {
  const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
  try {
    const stat = readFileSync(`/proc/${rows[0].pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null; // a remote server
  }
}

/**
 * The PostgreSQL processes that work for the benchmark: every child of the
 * postmaster on a dedicated (embedded) cluster; on a shared server only the
 * backends connected to the bench database (their title names it).
 */
function postgresPids(postmaster: number, database: string | null): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) !== postmaster) continue;
      if (database && !readFileSync(`/proc/${name}/cmdline`, "utf8").includes(` ${database} `))
        continue;
      pids.push(Number(name));
    } catch {
      // the process ended meanwhile
    }
  }
  return database ? pids : [postmaster, ...pids];
}

function postgresCpuSeconds(postgres: PostgresProcesses | null): Map<number, number> {
  const cpu = new Map<number, number>();
  if (!postgres) return cpu;
  for (const pid of postgresPids(postgres.postmaster, postgres.database)) {
    cpu.set(pid, processCpuSeconds(pid));
  }
  return cpu;
}

export interface PostgresProcesses {
  postmaster: number;
  /** null: a dedicated cluster (count every process); else count this database's backends only. */
  database: string | null;
}

/** Where the CPU went during a phase, in percent of ONE core (200 % = both cores of a 2-core box). */
export interface CpuSplit {
  machine: number;
  server: number | null;
  loadGenerator: number;
  postgres: number | null;
  /** Busy CPU nobody above accounts for: other work on the machine (it skews the figures). */
  other: number;
  /** Share of the time the server's event loop was ready to run but had no CPU (%). */
  serverWaitingForCpu: number | null;
}

/** Starts measuring; the returned function ends the measurement. Several servers: summed (waiting: mean). */
export function startCpuMeter(
  server: number | number[] | null,
  postgres: PostgresProcesses | null,
): () => CpuSplit {
  const pids = server === null ? [] : Array.isArray(server) ? server : [server];
  const serverPid = pids.length ? pids[0] : null;
  const serverCpu = () => pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const serverWait = () =>
    pids.reduce((sum, pid) => sum + runQueueWaitSeconds(pid), 0) / (pids.length || 1);
  const t0 = performance.now();
  const busy0 = machineBusySeconds();
  const self0 = process.cpuUsage();
  const server0 = serverPid ? serverCpu() : 0;
  const wait0 = serverPid ? serverWait() : 0;
  const pg0 = postgresCpuSeconds(postgres);
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const pct = (seconds: number) => Math.round((seconds / wall) * 100);
    const self = process.cpuUsage(self0);
    const loadGenerator = (self.user + self.system) / 1e6;
    const server = serverPid ? serverCpu() - server0 : 0;
    let pgSeconds = 0;
    // Backends started during the phase count in full; those that ended are lost (pools keep theirs).
    for (const [pid, seconds] of postgresCpuSeconds(postgres))
      pgSeconds += seconds - (pg0.get(pid) ?? 0);
    const machine = machineBusySeconds() - busy0;
    return {
      machine: pct(machine),
      server: serverPid ? pct(server) : null,
      loadGenerator: pct(loadGenerator),
      postgres: postgres ? pct(pgSeconds) : null,
      other: pct(Math.max(0, machine - server - loadGenerator - pgSeconds)),
      serverWaitingForCpu: serverPid ? pct(serverWait() - wait0) : null,
    };
  };
}

/** Busy share of the machine (percent of one core) over a short idle look, before the run. */
export async function backgroundLoad(ms = 2000): Promise<number> {
  const busy0 = machineBusySeconds();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return Math.round(((machineBusySeconds() - busy0) / (ms / 1000)) * 100);
}
