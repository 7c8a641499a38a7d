/** Starts bench/server.ts in a child process and stops it again. */
import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import type { DatabaseUrls } from "../../src/db/connection.ts";

const SERVER_ENTRY = join(import.meta.dirname, "..", "server.ts");

export interface ServerChild {
  mode: "api" | "handwritten";
  url: string;
  pid: number;
  /** Rejects when the child exits before stop() was called (a crash fails the phase). */
  crashed: Promise<never>;
  /** Worker tasks this child completed, by task name (from graphile-worker's log lines). */
  taskCounts(): Promise<Record<string, number>>;
  /** Starts recording a CPU profile in the child. */
  profileStart(): void;
  /** Stops recording and waits for the child to write the profile to `file`. */
  profileStop(file: string): Promise<void>;
  /** The child's process.memoryUsage() (V8 heap, external, RSS), in bytes. */
  memory(): Promise<NodeJS.MemoryUsage>;
  /** Stops the child and waits for it to exit. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface ChildSettings {
  /** PAYTRUST_DB_POOL_SIZE and PAYTRUST_WORKER_CONCURRENCY, as bench/lib/connections.ts planned them. */
  dbPoolSize?: number;
  workerConcurrency?: number;
  /** Set for --instances: the limiter store every instance shares. Else the in-memory store. */
  redisUrl?: string;
  /**
   * Set for --instances: every child calls the first child's sandbox, so the
   * status API a worker asks (webhooks are confirmed there) knows every charge.
   */
  sandboxUrl?: string;
}

/** Limits raised for the run: the point is to measure the work, not to be refused by the limiter. */
function childEnv(urls: DatabaseUrls, port: number, settings: ChildSettings): NodeJS.ProcessEnv {
  const { stop: _stop, ...plain } = urls;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    // Production mode for Grafast too (and no warning about it on every start).
    GRAPHILE_ENV: "production",
    PAYTRUST_GATEWAY_MODE: "sandbox",
    PAYTRUST_RATE_LIMIT_PER_MINUTE: "100000000",
    PAYTRUST_WEBHOOK_RATE_LIMIT_PER_MINUTE: "100000000",
    // Every bench request comes from 127.0.0.1: the per-IP failed-auth budget
    // (30/min, a point reserved before each uncached key's argon2 check) is
    // not what the run measures.
    PAYTRUST_AUTH_FAILURES_PER_MINUTE: "100000",
    BENCH_DATABASE: JSON.stringify(plain),
  };
  // The in-memory limiter store: a Redis round trip per request would be a different benchmark.
  delete env.REDIS_URL;
  delete env.PUBLIC_BASE_URL;
  if (settings.redisUrl) env.REDIS_URL = settings.redisUrl;
  if (settings.sandboxUrl) {
    env.XENDIT_BASE_URL = `${settings.sandboxUrl}/sandbox/xendit`;
    env.MIDTRANS_SNAP_URL = `${settings.sandboxUrl}/sandbox/midtrans`;
    env.MIDTRANS_API_URL = `${settings.sandboxUrl}/sandbox/midtrans`;
  }
  // The bench pays at the sandbox's checkout pages (public, limited per IP).
  env.PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE = "100000000";
  if (settings.dbPoolSize) env.PAYTRUST_DB_POOL_SIZE = String(settings.dbPoolSize);
  if (settings.workerConcurrency)
    env.PAYTRUST_WORKER_CONCURRENCY = String(settings.workerConcurrency);
  return env;
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("server did not start in time")), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with code ${code} before it was ready`));
    });
    child.on("message", (message: any) => {
      if (message?.type !== "ready") return;
      clearTimeout(timer);
      resolve(message.url);
    });
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function waitForProfile(child: ChildProcess, file: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("the CPU profile was not written in time")),
      timeoutMs,
    );
    const onMessage = (message: any) => {
      if (message?.type !== "profiled" || message.file !== file) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve();
    };
    child.on("message", onMessage);
  });
}

function ask<T>(child: ChildProcess, type: string, pick: (message: any) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} report from the server`)), 10_000);
    const onMessage = (message: any) => {
      if (message?.type !== type) return;
      clearTimeout(timer);
      child.off("message", onMessage);
      resolve(pick(message));
    };
    child.on("message", onMessage);
    child.send({ type });
  });
}

export async function startServerChild(
  mode: ServerChild["mode"],
  urls: DatabaseUrls,
  settings: ChildSettings = {},
): Promise<ServerChild> {
  const port = await freePort();
  const child = fork(SERVER_ENTRY, [mode], {
    env: childEnv(urls, port, settings),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let stopping = false;
  const crashed = new Promise<never>((_resolve, reject) => {
    child.once("exit", (code, signal) => {
      if (!stopping)
        reject(
          new Error(`the ${mode} server (pid ${child.pid}) exited: ${signal ?? `code ${code}`}`),
        );
    });
  });
  crashed.catch(() => {});
  try {
    const url = await waitForReady(child, 60_000);
    return {
      mode,
      url,
      pid: child.pid!,
      crashed,
      taskCounts: () => ask(child, "tasks", (m) => m.counts as Record<string, number>),
      profileStart() {
        child.send({ type: "profile-start" });
      },
      async profileStop(file) {
        mkdirSync(dirname(file), { recursive: true });
        child.send({ type: "profile-stop", file });
        await waitForProfile(child, file, 60_000);
      },
      memory() {
        return new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error("no memory report from the server")),
            10_000,
          );
          const onMessage = (message: any) => {
            if (message?.type !== "memory") return;
            clearTimeout(timer);
            child.off("message", onMessage);
            resolve(message.usage);
          };
          child.on("message", onMessage);
          child.send({ type: "memory" });
        });
      },
      async stop() {
        stopping = true;
        if (child.connected) child.send({ type: "stop" });
        else child.kill("SIGTERM");
        await waitForExit(child, 20_000);
      },
    };
  } catch (error) {
    stopping = true;
    child.kill("SIGKILL");
    throw error;
  }
}
