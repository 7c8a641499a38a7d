/**
 * Shared steps of the reliability suite: an app whose log lines are kept,
 * a worker in a child process (to SIGKILL it), the "database unchanged"
 * snapshot, and small HTTP helpers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { AUTHENTICATOR_PASSWORD, type TestDatabase } from "../helpers/db.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The shared harness keeps every log line; the reliability suite reads them. */
export type LoggedApp = TestApp;
export const startLoggedApp = startTestApp;

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  /** The JSON body, or undefined when it is not JSON. */
  json: any;
}

export async function http(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<HttpResult> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 30_000) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function graphql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  apiKey?: string,
): Promise<{ status: number; body: any }> {
  const res = await http(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: res.json ?? res.text };
}

// ---------------------------------------------------------------------------
// "The database is unchanged": row counts of every table PayTrust owns (and
// the job queue), plus a checksum over every money and status column.
// ---------------------------------------------------------------------------

export interface DbSnapshot {
  counts: Record<string, number>;
  money: string;
}

/** Tables whose rows a refused request must not add, change or remove: every table PayTrust owns. */
export async function trackedTables(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname in ('paytrust_public', 'paytrust_private')
      order by 1`,
  );
  return rows.map((r) => r.name);
}

export async function snapshot(pool: pg.Pool, tables: string[]): Promise<DbSnapshot> {
  // The job queue too: the jobs a request can queue (cron jobs come and go on their own).
  const jobs = `select 'graphile_worker.jobs' as name, count(*)::int as n from graphile_worker.jobs
                 where task_identifier in ('gateway__create_payment', 'webhook__process')`;
  const union = [
    jobs,
    ...tables.map((t) => `select '${t}' as name, count(*)::int as n from ${t}`),
  ].join(" union all ");
  // One round trip: the fuzz tests take a snapshot after every request.
  const { rows } = await pool.query<{ counts: Record<string, number>; money: string }>(
    `select (select jsonb_object_agg(name, n) from (${union}) c) as counts,
            md5(concat_ws('|',
       (select string_agg(concat_ws(',', id, status, subtotal, tax_total, service_fee, total, amount_paid,
                                    overpayment_amount, payment_initiated_at), ';' order by id)
          from paytrust_public.invoices),
       (select string_agg(concat_ws(',', id, status, total, paid_amount), ';' order by id)
          from paytrust_public.installments),
       (select string_agg(concat_ws(',', id, status, amount, paid_amount, gateway_reference), ';' order by id)
          from paytrust_public.payment_transactions),
       (select string_agg(concat_ws(',', id, status, attempts), ';' order by id)
          from paytrust_public.webhook_events))) as money`,
  );
  return { counts: rows[0].counts, money: rows[0].money };
}

// ---------------------------------------------------------------------------
// A worker in a child process, so a test can SIGKILL it like a crash would.
// ---------------------------------------------------------------------------

export interface ChildWorker {
  process: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const WORKER_FIXTURE = fileURLToPath(new URL("./fixtures/worker.ts", import.meta.url));

/** Starts tests/reliability/fixtures/worker.ts with env; resolves once it says READY. */
export async function startChildWorker(env: Record<string, string>): Promise<ChildWorker> {
  const child = spawn(process.execPath, ["--no-warnings", WORKER_FIXTURE], {
    env: { ...process.env, NODE_ENV: "test", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Child worker not ready in 30 s:\n${output}`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("READY")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Child worker exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    process: child,
    output: () => output,
    async kill(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** The env a child worker needs to reach a test database and the parent app's sandbox gateways. */
export function childWorkerEnv(
  db: Pick<TestDatabase, "ownerUrl">,
  sandboxBaseUrl: string,
): Record<string, string> {
  return {
    DATABASE_URL: db.ownerUrl,
    // The runtime role's password is derived from it (runtimeUrlOf): servers
    // with password authentication (the embedded one) need the suite's.
    DATABASE_AUTHENTICATOR_PASSWORD: AUTHENTICATOR_PASSWORD,
    XENDIT_BASE_URL: `${sandboxBaseUrl}/sandbox/xendit`,
    MIDTRANS_SNAP_URL: `${sandboxBaseUrl}/sandbox/midtrans`,
    MIDTRANS_API_URL: `${sandboxBaseUrl}/sandbox/midtrans`,
    PUBLIC_BASE_URL: sandboxBaseUrl,
  };
}
