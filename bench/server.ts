/**
 * The server side of a benchmark, run as a child process of bench/run.ts so
 * its CPU and memory are measured apart from the load generator (and so it can
 * run under `node --cpu-prof`):
 *   node bench/server.ts api          PayTrust as `npm start` runs it: API + worker
 *                                     + sandbox gateways, in one process
 *   node bench/server.ts handwritten  bench/handwritten.ts
 * The database comes pre-resolved in BENCH_DATABASE (JSON); the port in PORT.
 * Tells the parent {type: "ready", url} over IPC; stops on {type: "stop"}.
 * {type: "profile-start"} / {type: "profile-stop", file} record a V8 CPU
 * profile of just the measured seconds (what `node --cpu-prof` records, minus
 * start-up and warm-up), answered with {type: "profiled", file}.
 * {type: "memory"} is answered with {type: "memory", usage: process.memoryUsage()};
 * {type: "tasks"} with {type: "tasks", counts} (worker tasks completed, by name).
 */
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { loadConfig } from "../src/config.ts";
import type { DatabaseUrls } from "../src/db/connection.ts";
import { startRuntime } from "../src/runtime.ts";
import { startHandwritten } from "./handwritten.ts";

type Urls = Omit<DatabaseUrls, "stop">;

/** Worker tasks completed in this process, by name (--instances: who did the work). */
const taskCounts: Record<string, number> = {};

// Each log line is JSON (src/logger.ts). Routine lines (access lines, worker chatter) would
// interleave with the progress line: only warnings and errors show.
const log = (line: string) => {
  // Most lines are access lines at level 30: skip them before parsing (the harness's cost,
  // not the server's; a production log goes to stdout unparsed).
  const level = /^\{"level":(\d+)/.exec(line);
  if (level && Number(level[1]) < 40 && !line.includes('"component":"worker"')) return;
  let entry: { level?: number; component?: string; msg?: string };
  try {
    entry = JSON.parse(line);
  } catch {
    entry = { level: 40, msg: line };
  }
  const completed =
    entry.component === "worker" && /^Completed task \d+ \(([\w:-]+)/.exec(entry.msg ?? "");
  if (completed) taskCounts[completed[1]] = (taskCounts[completed[1]] ?? 0) + 1;
  if ((entry.level ?? 30) >= 40) console.error(`[server] ${line}`);
};

async function startApi(urls: Urls) {
  const runtime = await startRuntime({
    config: loadConfig(),
    serve: true,
    work: true,
    migrate: false,
    // The parent owns the database server: stopping this child must not stop it.
    database: { ...urls, embedded: false, stop: async () => {} },
    log,
  });
  if (!runtime.app) throw new Error("the runtime did not start the HTTP app");
  return { url: runtime.app.url, close: () => runtime.stop() };
}

/** CPU profiling through the inspector protocol, started and stopped by the parent. */
function profiler() {
  const session = new Session();
  session.connect();
  return {
    async start() {
      await session.post("Profiler.enable");
      // 1 ms, as --cpu-prof-interval's default (µs).
      await session.post("Profiler.setSamplingInterval", { interval: 1000 });
      await session.post("Profiler.start");
    },
    async stop(file: string) {
      const { profile } = await session.post("Profiler.stop");
      await writeFile(file, JSON.stringify(profile));
    },
  };
}

async function onMessage(
  message: any,
  stop: () => Promise<void>,
  profile: ReturnType<typeof profiler>,
) {
  if (message?.type === "stop") return stop();
  if (message?.type === "profile-start") return profile.start();
  if (message?.type === "tasks") return void process.send?.({ type: "tasks", counts: taskCounts });
  if (message?.type === "memory")
    return void process.send?.({ type: "memory", usage: process.memoryUsage() });
  if (message?.type === "profile-stop") {
    await profile.stop(message.file);
    process.send?.({ type: "profiled", file: message.file });
  }
}

async function main() {
  const mode = process.argv[2];
  const urls = JSON.parse(process.env.BENCH_DATABASE ?? "null") as Urls | null;
  if (!urls || !process.send) throw new Error("run by bench/run.ts only");
  const port = Number(process.env.PORT);
  const server =
    mode === "api"
      ? await startApi(urls)
      : mode === "handwritten"
        ? await startHandwritten(urls, port)
        : null;
  if (!server) throw new Error(`unknown mode "${mode}"`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close().catch((error) => log(`stop: ${error?.message ?? error}`));
    process.exit(0);
  };
  const profile = profiler();
  process.on("message", (message) =>
    onMessage(message, stop, profile).catch((error) => log(`${error?.message ?? error}`)),
  );
  process.on("SIGTERM", () => void stop());
  process.on("disconnect", () => void stop());
  process.send({ type: "ready", url: server.url });
}

main().catch((error) => {
  console.error(`[server] ${error?.stack ?? error}`);
  process.exit(1);
});
