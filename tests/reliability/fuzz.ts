/**
 * What the fuzz tests share: the run count and seed, hostile text, and the
 * rule every answer must follow — a clear refusal, never an internal error.
 */
import fc from "fast-check";
import type pg from "pg";
import { type DbSnapshot, snapshot } from "./helpers.ts";

/** At least 2,000 generated inputs per endpoint; PAYTRUST_FUZZ_RUNS may ask for more. */
export const RUNS = Math.max(2000, Number(process.env.PAYTRUST_FUZZ_RUNS ?? 0) || 0);
/** A fixed seed keeps CI deterministic; PAYTRUST_FUZZ_SEED explores other inputs (a failure prints its seed). */
export const SEED = Number(process.env.PAYTRUST_FUZZ_SEED ?? 20_250_901);

/** Strings attackers and unlucky users send: unicode, control characters, injections, NUL. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.constantFrom(
    "Budi Santoso 🎉",
    "Zoë Ünïcödé",
    "שלום עליכם",
    "\u202Eevil\u202C",
    "\uFEFFbom",
    "a\u0000b",
    "'; drop table paytrust_public.invoices; --",
    "<script>alert(1)</script>",
    "$\u007Bjndi:ldap://x/a}", // a Log4Shell probe
    "%s%s%n",
    "\\u0000",
    "\ud800",
  ),
);

/**
 * A string of exactly `length` characters as PostgreSQL counts them (code
 * points, not UTF-16 units: "🎉" is one), cheap to build even at 1 MB.
 */
export function longText(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min, max }), fc.constantFrom("x", "é", "🎉", " a", "\u0000"))
    .map(([length, unit]) => {
      const points = Array.from(unit);
      const whole = unit.repeat(Math.floor(length / points.length));
      return whole + points.slice(0, length % points.length).join("");
    });
}

/** Sizes for "too long" fields: mostly just over the limit, sometimes 1 MB. */
export function tooLong(limit: number): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: longText(limit + 1, limit + 50), weight: 8 },
    { arbitrary: longText(limit + 51, 20_000), weight: 3 },
    { arbitrary: longText(1_000_000, 1_100_000), weight: 1 },
  );
}

export interface Answer {
  status: number;
  json: any;
  text: string;
}

/**
 * Why an answer is not a clear refusal, or null when it is one: a 4xx with a
 * JSON error list, or a GraphQL error list whose every entry carries a
 * project code (extensions.code) — never a 5xx, never a masked internal error.
 */
export function unclearRefusal(answer: Answer, mutationField?: string): string | null {
  if (answer.status >= 500) return `HTTP ${answer.status}: ${answer.text.slice(0, 300)}`;
  const errors = answer.json?.errors;
  if (!Array.isArray(errors) || errors.length === 0) {
    return `no error list (HTTP ${answer.status}): ${answer.text.slice(0, 300)}`;
  }
  for (const error of errors) {
    const message = String(error?.message ?? "");
    if (/An error occurred/i.test(message) || error?.extensions?.errorId)
      return `masked error: ${message}`;
    if (answer.status === 200 && !/^PT[A-Z0-9]{3,}$/.test(String(error?.extensions?.code ?? ""))) {
      return `GraphQL error without a project code: ${JSON.stringify(error).slice(0, 300)}`;
    }
    if (message.trim() === "") return "empty error message";
  }
  if (answer.status === 200 && mutationField && answer.json?.data?.[mutationField] != null) {
    return `the mutation succeeded: ${JSON.stringify(answer.json.data).slice(0, 300)}`;
  }
  if (answer.status !== 200 && (answer.status < 400 || answer.status > 499))
    return `HTTP ${answer.status}`;
  return null;
}

/** Any JSON value of the wrong type for a field. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

/** Numbers GraphQL's Int must refuse: fractions, beyond 32 bits, strings. */
export const notInt32: fc.Arbitrary<unknown> = fc.oneof(
  fc.double({ noInteger: true }),
  fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -(2 ** 31) - 1 }),
  fc.string({ maxLength: 10 }),
);

/**
 * "The database is unchanged", one request at a time: each call compares with
 * the state just before the request (not the first baseline), so when a case
 * does change something, fast-check's shrinking judges every smaller
 * candidate on its own instead of blaming all of them.
 */
export function changeDetector(pool: pg.Pool, tables: string[], start: DbSnapshot) {
  let last = start;
  return async (): Promise<string | null> => {
    const now = await snapshot(pool, tables);
    const before = last;
    last = now;
    const counts = Object.keys(now.counts).filter((t) => now.counts[t] !== before.counts[t]);
    if (counts.length) return `the database changed: rows of ${counts.join(", ")}`;
    return now.money === before.money ? null : "the database changed: money or status columns";
  };
}

/** Waits until no request-made job is left, so only the fuzzed requests can change the database. */
export async function quiet(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rows } = await pool.query(
      "select count(*)::int as n from graphile_worker.jobs where task_identifier in ('gateway__create_payment', 'webhook__process')",
    );
    if (rows[0].n === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("jobs still pending after 30 s");
}
