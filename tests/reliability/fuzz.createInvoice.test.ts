/**
 * Hostile input on createInvoice: fast-check generates at least 2,000
 * requests that are each invalid by construction — every case carries one to
 * three defects, each of which alone must be refused — wrapped in hostile
 * noise (unicode, NUL, control characters, injections, 1 MB strings, 10,000
 * line items, wrong types, huge and negative numbers). Each answer must be a
 * clear refusal (see fuzz.ts) and the database must be exactly as before the
 * request (row counts of every table and of the job queue, checksum of every
 * money and status column), checked after every single request.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  changeDetector,
  hostileText,
  notInt32,
  quiet,
  RUNS,
  SEED,
  tooLong,
  unclearRefusal,
  wrongType,
} from "./fuzz.ts";
import { http, type LoggedApp, snapshot, startLoggedApp, trackedTables } from "./helpers.ts";

const CREATE = `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id total } } }`;

type Input = Record<string, unknown>;
/** A defect that alone makes an input invalid; it only touches the fields it sets. */
type Defect = { label: string; apply: (input: Input) => Input };
const defect = <T>(label: string, value: fc.Arbitrary<T>, apply: (input: Input, v: T) => Input) =>
  value.map((v): Defect => ({ label, apply: (input) => apply(input, v) }));

const CURRENCIES = ["IDR", "MYR", "USD"];
const bigText = (min: bigint, max: bigint) => fc.bigInt({ min, max }).map(String);

const validLine = fc.record({
  description: fc.oneof(hostileText, fc.constant("Kopi")),
  quantity: fc.integer({ min: 1, max: 1000 }),
  unitPrice: bigText(0n, 10n ** 9n),
  taxRate: fc.constantFrom("0", "11", "12.5", "100"),
});
const lines = fc.array(validLine, { minLength: 1, maxLength: 4 });

/** A plausible request with hostile but (alone) acceptable-looking values. */
const baseInput: fc.Arbitrary<Input> = fc.record(
  {
    currency: fc.constantFrom(...CURRENCIES),
    gateway: fc.constant("xendit"),
    customerName: fc.oneof(hostileText, fc.constant("Budi")),
    customerEmail: fc.constantFrom("budi@example.com", "zoë@exämple.co.id", "a+b@c.io"),
    lineItems: lines,
    description: fc.option(hostileText, { nil: undefined }),
    externalRef: fc.option(hostileText, { nil: undefined }),
  },
  { requiredKeys: ["currency", "gateway", "customerName", "customerEmail", "lineItems"] },
);

const withLine = (input: Input, change: (line: Input) => Input): Input => {
  const items = [...(input.lineItems as Input[])];
  items[items.length - 1] = change({ ...items[items.length - 1] });
  return { ...input, lineItems: items };
};

const createDefects: fc.Arbitrary<Defect> = fc.oneof(
  defect(
    "unknown currency",
    fc.string({ maxLength: 8 }).filter((s) => !CURRENCIES.includes(s)),
    (i, v) => ({
      ...i,
      currency: v,
    }),
  ),
  defect("currency of the wrong type", wrongType, (i, v) => ({ ...i, currency: v })),
  defect(
    "unknown gateway",
    fc.string({ maxLength: 10 }).filter((s) => s !== "xendit" && s !== "midtrans"),
    (i, v) => ({
      ...i,
      gateway: v,
    }),
  ),
  defect("midtrans without IDR", fc.constantFrom("MYR", "USD"), (i, v) => ({
    ...i,
    gateway: "midtrans",
    currency: v,
  })),
  defect("blank customer name", fc.constantFrom("", " ", "    "), (i, v) => ({
    ...i,
    customerName: v,
  })),
  defect("customer name too long", tooLong(200), (i, v) => ({ ...i, customerName: v })),
  defect(
    "customer email without @",
    hostileText.filter((s) => !s.includes("@")),
    (i, v) => ({ ...i, customerEmail: v }),
  ),
  defect(
    "customer email too long",
    tooLong(254).map((s) => `${s}@example.com`),
    (i, v) => ({ ...i, customerEmail: v }),
  ),
  defect("description too long", tooLong(1000), (i, v) => ({ ...i, description: v })),
  defect("external ref empty or too long", fc.oneof(fc.constant(""), tooLong(200)), (i, v) => ({
    ...i,
    externalRef: v,
  })),
  defect("no line items", fc.constant([]), (i, v) => ({ ...i, lineItems: v })),
  defect(
    "more than 1,000 line items",
    fc.oneof(fc.integer({ min: 1001, max: 1500 }), fc.constant(10_000)),
    (i, n) => ({ ...i, lineItems: Array.from({ length: n }, () => (i.lineItems as Input[])[0]) }),
  ),
  defect("quantity below 1", fc.integer({ min: -(2 ** 31), max: 0 }), (i, v) =>
    withLine(i, (l) => ({ ...l, quantity: v })),
  ),
  defect("quantity not an Int", notInt32, (i, v) => withLine(i, (l) => ({ ...l, quantity: v }))),
  defect("negative unit price", bigText(-(10n ** 30n), -1n), (i, v) =>
    withLine(i, (l) => ({ ...l, unitPrice: v })),
  ),
  defect("unit price beyond the maximum", bigText(10n ** 16n, 10n ** 40n), (i, v) =>
    withLine(i, (l) => ({ ...l, unitPrice: v })),
  ),
  defect(
    "unit price not a whole number",
    fc.constantFrom("1.5", "abc", "", "1e3", "NaN", "Infinity", "١٢", "12abc", "--1"),
    (i, v) => withLine(i, (l) => ({ ...l, unitPrice: v })),
  ),
  defect(
    "tax rate out of range or too precise",
    fc.oneof(
      fc.double({ min: 100.01, max: 1e300, noNaN: true }).map(String),
      fc.double({ min: -1e300, max: -0.01, noNaN: true }).map(String),
      fc.constantFrom("11.005", "0.001", "NaN", "Infinity", "-Infinity", "abc"),
    ),
    (i, v) => withLine(i, (l) => ({ ...l, taxRate: v })),
  ),
  defect(
    "line description blank or too long",
    fc.oneof(fc.constantFrom("", "   "), tooLong(500)),
    (i, v) => withLine(i, (l) => ({ ...l, description: v })),
  ),
  defect(
    "line field missing or null",
    fc.constantFrom("description", "quantity", "unitPrice", "taxRate"),
    (i, k) => withLine(i, (l) => ({ ...l, [k]: null })),
  ),
  defect(
    "installment count out of range",
    fc.oneof(
      fc.integer({ min: -1000, max: 0 }),
      fc.integer({ min: 13, max: 2 ** 31 - 1 }),
      notInt32,
    ),
    (i, v) => ({
      ...i,
      installmentCount: v,
    }),
  ),
  defect(
    "installment interval out of range",
    fc.oneof(fc.integer({ min: -1000, max: 0 }), fc.integer({ min: 367, max: 100_000 })),
    (i, v) => ({
      ...i,
      installmentIntervalDays: v,
    }),
  ),
  defect(
    "installment weights of the wrong length",
    fc
      .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 14 }))
      .filter(([count, length]) => count !== length),
    (i, [count, length]) => ({
      ...i,
      installmentCount: count,
      installmentWeights: Array(length).fill("1"),
    }),
  ),
  defect(
    "installment weight not positive or not a number",
    fc.tuple(
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom("0", "-1", "-0.5", "NaN", "Infinity", "-Infinity"),
    ),
    (i, [count, bad]) => ({
      ...i,
      installmentCount: count,
      installmentWeights: Array.from({ length: count }, (_, k) => (k === count - 1 ? bad : "1")),
    }),
  ),
  defect(
    "installment due dates of the wrong length",
    fc
      .tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 14 }))
      .filter(([c, l]) => c !== l),
    (i, [count, length]) => ({
      ...i,
      installmentCount: count,
      installmentDueDates: Array.from(
        { length },
        (_, k) => `2031-01-${String(k + 1).padStart(2, "0")}`,
      ),
    }),
  ),
  defect("idempotency key empty or too long", fc.oneof(fc.constant(""), tooLong(255)), (i, v) => ({
    ...i,
    idempotencyKey: v,
  })),
  defect(
    "invalid due date",
    fc.constantFrom("2024-02-30", "garbage", "", "2024-13-01", "0000-00-00", "2024-01-01T25:00"),
    (i, v) => ({
      ...i,
      dueDate: v,
    }),
  ),
  defect(
    "unknown input field",
    fc.constantFrom("tenantId", "total", "amountPaid", "status", "__proto__x"),
    (i, k) => ({
      ...i,
      [k]: "1",
    }),
  ),
);

/** A whole createInvoice variables object: an invalid input, or a wrong-typed one. */
const createVariables: fc.Arbitrary<{ label: string; input: unknown }> = fc.oneof(
  {
    weight: 19,
    arbitrary: fc
      .tuple(baseInput, fc.array(createDefects, { minLength: 1, maxLength: 3 }))
      .map(([base, defects]) => ({
        label: defects.map((d) => d.label).join(" + "),
        input: defects.reduce((input, d) => d.apply(input), base),
      })),
  },
  { weight: 1, arbitrary: wrongType.map((input) => ({ label: "input of the wrong type", input })) },
);

describe("fuzzing createInvoice", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let apiKey: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db);
    apiKey = (await createTenant(db.pool, "Fuzz shop")).apiKey;
    await quiet(db.pool);
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it(`${RUNS} invalid inputs: each refused clearly, the database unchanged`, async () => {
    const tables = await trackedTables(db.pool);
    const change = changeDetector(db.pool, tables, await snapshot(db.pool, tables));
    await fc.assert(
      fc.asyncProperty(createVariables, async ({ label, input }) => {
        const answer = await http(`${app.url}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({ query: CREATE, variables: { input } }),
        });
        const changed = await change(); // always, so the next case is judged on its own
        const problem = unclearRefusal(answer, "createInvoice") ?? changed;
        expect({ label, problem }).toEqual({ label, problem: null });
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });
});
