/**
 * How many connections the run may open, so `npm run bench` works on any
 * PostgreSQL: a default one (max_connections = 100, 3 reserved for
 * superusers) as well as a tuned one. The server's limits are read once at the
 * start; the planner then caps the SQL sweeps' client counts and, when needed,
 * shrinks the server children's pools so that everything the run holds at one
 * time fits, with headroom for other users of a shared server.
 *
 * What the run holds at the same time (see bench/lib/database.ts, child.ts):
 * - always: the bench's owner pool (BENCH_OWNER_POOL) plus a root client now
 *   and then (settle, track_functions);
 * - SQL sweeps: N pg clients (no server child runs then);
 * - HTTP phases: one child, the hand-written server (its pool + 5 owner
 *   connections) or the API (PostGraphile's pool PAYTRUST_DB_POOL_SIZE + the
 *   runtime pool PAYTRUST_WORKER_CONCURRENCY + 10 + the health probe's 1);
 * - webhooks: one API child plus the preparing pool (PREPARE_POOL);
 * - --instances N: N API children plus the preparing pool.
 */
import type pg from "pg";

export const BENCH_OWNER_POOL = 10;
/** Root clients (settle's checkpoint, track_functions) and pool slack. */
export const BENCH_EXTRA = 2;
/** Pool of the webhook phase's preparation (pending payments through SQL). */
export const PREPARE_POOL = 8;
/** PayTrust's defaults (src/config.ts). */
export const DEFAULT_DB_POOL_SIZE = 10;
export const DEFAULT_WORKER_CONCURRENCY = 4;

export interface ServerLimits {
  maxConnections: number;
  superuserReserved: number;
  /** PostgreSQL 16+: `reserved_connections` (pg_use_reserved_connections); 0 before. */
  reserved: number;
  /** Connections other clients (not this run) hold when the run starts. */
  inUseByOthers: number;
}

export interface ChildPools {
  dbPoolSize: number;
  workerConcurrency: number;
  /** Connections one API child may hold: PostGraphile's pool + runtime pool + health probe. */
  apiConnections: number;
  /** Connections the hand-written child may hold. */
  handwrittenConnections: number;
}

export interface ConnectionPlan {
  limits: ServerLimits;
  /** --max-connections, when it lowered max_connections for the plan. */
  maxConnectionsOverride: number | null;
  /** Slots this run may fill at once (after reserved slots, others and headroom). */
  budget: number;
  headroom: number;
  /** Client counts the sweeps run, ascending. */
  sweepClients: number[];
  /** The sweep point that stands for "the HTTP paths' concurrency" (SQL@100). */
  atConnections: number;
  /** Requested client counts that did not fit (dropped or replaced by the cap). */
  capped: number[];
  pools: ChildPools;
  instances: number;
  notes: string[];
}

export const apiConnectionsOf = (dbPoolSize: number, workerConcurrency: number) =>
  dbPoolSize + workerConcurrency + 10 + 1;

export async function readServerLimits(
  pool: pg.Pool,
  benchDatabase: string,
): Promise<ServerLimits> {
  const { rows } = await pool.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings
      where name in ('max_connections', 'superuser_reserved_connections', 'reserved_connections')`,
  );
  const setting = (name: string) => Number(rows.find((r) => r.name === name)?.setting ?? 0);
  // Our own connections are the bench database's; everyone else's count against the budget.
  const others = await pool.query<{ n: string }>(
    `select count(*) as n from pg_stat_activity
      where backend_type = 'client backend' and datname is distinct from $1`,
    [benchDatabase],
  );
  return {
    maxConnections: setting("max_connections"),
    superuserReserved: setting("superuser_reserved_connections"),
    reserved: setting("reserved_connections"),
    inUseByOthers: Number(others.rows[0].n),
  };
}

/**
 * The plan. Throws (the run then exits non-zero before measuring anything)
 * when not even the smallest configuration fits.
 */
export function planConnections(
  limits: ServerLimits,
  request: {
    sweepClients: number[];
    connections: number;
    instances: number;
    maxConnectionsOverride?: number | null;
    dbPoolSize?: number;
    workerConcurrency?: number;
  },
): ConnectionPlan {
  const notes: string[] = [];
  const override =
    request.maxConnectionsOverride && request.maxConnectionsOverride < limits.maxConnections
      ? request.maxConnectionsOverride
      : null;
  const max = override ?? limits.maxConnections;
  if (override) notes.push(`planned as if max_connections were ${override} (--max-connections)`);
  // Non-superuser logins (the authenticator, the runtime role) cannot use reserved slots.
  const usable = max - limits.superuserReserved - limits.reserved - limits.inUseByOthers;
  const headroom = Math.max(5, Math.ceil(max * 0.05));
  const budget = usable - headroom;
  const fixed = BENCH_OWNER_POOL + BENCH_EXTRA;
  const instances = Math.max(1, request.instances);

  // Server children: shrink the pools (PostGraphile's first, then the worker's) until they fit.
  let dbPoolSize = request.dbPoolSize ?? DEFAULT_DB_POOL_SIZE;
  let workerConcurrency = request.workerConcurrency ?? DEFAULT_WORKER_CONCURRENCY;
  const childrenFit = () =>
    fixed + PREPARE_POOL + instances * apiConnectionsOf(dbPoolSize, workerConcurrency) <= budget;
  while (!childrenFit() && (dbPoolSize > 2 || workerConcurrency > 1)) {
    if (dbPoolSize > 2) dbPoolSize--;
    else workerConcurrency--;
  }
  if (!childrenFit()) {
    throw new Error(
      `npm run bench: the server has room for ${Math.max(0, budget)} more connections ` +
        `(max_connections ${max}, ${limits.superuserReserved + limits.reserved} reserved, ` +
        `${limits.inUseByOthers} in use by others, ${headroom} headroom); ` +
        `${instances} server process(es) need at least ` +
        `${fixed + PREPARE_POOL + instances * apiConnectionsOf(2, 1)}. ` +
        "Raise max_connections or run fewer --instances.",
    );
  }
  if (
    dbPoolSize !== (request.dbPoolSize ?? DEFAULT_DB_POOL_SIZE) ||
    workerConcurrency !== (request.workerConcurrency ?? DEFAULT_WORKER_CONCURRENCY)
  ) {
    notes.push(
      `server pools reduced to PAYTRUST_DB_POOL_SIZE=${dbPoolSize}, ` +
        `PAYTRUST_WORKER_CONCURRENCY=${workerConcurrency} to fit`,
    );
  }

  // Sweeps: no child runs, so the clients get everything but the bench's own pool.
  const sweepCap = budget - fixed;
  const requested = [...new Set(request.sweepClients)].sort((a, b) => a - b);
  const capped = requested.filter((n) => n > sweepCap);
  const fitting = requested.filter((n) => n <= sweepCap);
  if (capped.length && sweepCap >= 1 && !fitting.includes(sweepCap)) fitting.push(sweepCap);
  if (fitting.length === 0) throw new Error("npm run bench: no room for a single SQL client");
  const sweepClients = fitting.sort((a, b) => a - b);
  const atConnections = Math.min(request.connections, sweepCap);
  if (capped.length) {
    notes.push(
      `SQL sweep capped at ${sweepCap} clients (asked for ${capped.join(", ")}); ` +
        `"SQL@${request.connections}" is measured at ${atConnections}`,
    );
  }
  return {
    limits,
    maxConnectionsOverride: override,
    budget,
    headroom,
    sweepClients,
    atConnections,
    capped,
    pools: {
      dbPoolSize,
      workerConcurrency,
      apiConnections: apiConnectionsOf(dbPoolSize, workerConcurrency),
      handwrittenConnections: dbPoolSize + 5,
    },
    instances,
    notes,
  };
}

/**
 * Waits until the bench database's backends of earlier phases have exited
 * (a pool's end() returns before the server has freed their slots).
 */
export async function waitForIdleSlots(
  pool: pg.Pool,
  benchDatabase: string,
  atMost: number,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      "select count(*) as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'",
      [benchDatabase],
    );
    if (Number(rows[0].n) <= atMost || performance.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
