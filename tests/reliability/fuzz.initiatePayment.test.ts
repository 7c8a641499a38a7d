/**
 * Hostile input on initiatePayment: at least 2,000 generated attempts that
 * must all be refused — another tenant's invoice, a paid or cancelled one, an
 * installment with a live attempt or out of sequence, unknown and malformed
 * ids, installment numbers of every size and type — each with a clear error
 * and, checked after every request, the database exactly as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import {
  createInvoice,
  eventually,
  getInvoice,
  initiatePayment,
  startPayment,
} from "../helpers/payments.ts";
import {
  changeDetector,
  hostileText,
  notInt32,
  quiet,
  RUNS,
  SEED,
  unclearRefusal,
  wrongType,
} from "./fuzz.ts";
import { http, type LoggedApp, snapshot, startLoggedApp, trackedTables } from "./helpers.ts";

const INITIATE = `mutation($id: UUID!, $n: Int) {
  initiatePayment(input: {invoiceId: $id, installmentNumber: $n}) { paymentTransaction { id } } }`;

describe("fuzzing initiatePayment", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let a: string;
  let b: string;
  /** A's invoices in states where initiatePayment must be refused, and B's open invoice. */
  const ids = { live: "", paid: "", cancelled: "", otherTenant: "" };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db, { worker: true });
    a = (await createTenant(db.pool, "Fuzz A")).apiKey;
    b = (await createTenant(db.pool, "Fuzz B")).apiKey;

    const live = await createInvoice(app, a, {
      currency: "IDR",
      gateway: "xendit",
      installmentCount: 3,
    });
    await startPayment(app, a, live.id, 1); // installment 1 has a live attempt
    const paid = await createInvoice(app, a, { currency: "IDR", gateway: "midtrans" });
    const paidTx = await startPayment(app, a, paid.id);
    await app.runtime.sandbox!.pay("midtrans", paidTx.externalId);
    await eventually(async () => (await getInvoice(app, a, paid.id)).status === "paid");
    const cancelled = await createInvoice(app, a, { currency: "MYR", gateway: "xendit" });
    const cancel = await app.gql(
      "mutation($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { status } } }",
      { id: cancelled.id },
      a,
    );
    // JSON.stringify(cancel.body)
    expect(cancel.body.data?.cancelInvoice?.invoice?.status).toBe("cancelled");
    const other = await createInvoice(app, b, { currency: "IDR", gateway: "xendit" });
    Object.assign(ids, {
      live: live.id,
      paid: paid.id,
      cancelled: cancelled.id,
      otherTenant: other.id,
    });
    await quiet(db.pool);
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it(`${RUNS} attempts that must be refused: each refused clearly, the database unchanged`, async () => {
    const tables = await trackedTables(db.pool);
    const change = changeDetector(db.pool, tables, await snapshot(db.pool, tables));
    // Every combination here must be refused: B never sees A's invoices, A's are paid,
    // cancelled or have a live attempt on installment 1 (2 and 3 are out of sequence).
    const target = fc.oneof(
      fc.record({
        key: fc.constantFrom("a", "b"),
        id: fc.constantFrom(ids.live, ids.paid, ids.cancelled),
      }),
      fc.record({ key: fc.constant("a"), id: fc.constant(ids.otherTenant) }),
      fc.record({ key: fc.constantFrom("a", "b"), id: fc.uuid() }),
      fc.record({ key: fc.constantFrom("a", "b"), id: fc.oneof(hostileText, wrongType) }),
    );
    const installment = fc.oneof(
      fc.constant(null),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      fc.integer({ min: 1, max: 4 }),
      notInt32,
    );
    await fc.assert(
      fc.asyncProperty(target, installment, async ({ key, id }, n) => {
        const answer = await http(`${app.url}/graphql`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${key === "a" ? a : b}`,
          },
          body: JSON.stringify({ query: INITIATE, variables: { id, n } }),
        });
        const changed = await change(); // always, so the next case is judged on its own
        const problem = unclearRefusal(answer, "initiatePayment") ?? changed;
        // `${key} → ${JSON.stringify(id)} #${n}: ${problem}`
        expect(problem).toBe(null);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it("the refusals are the specific ones, not just any error", async () => {
    const codeOf = async (key: string, id: string, n?: number) =>
      (await initiatePayment(app, key, id, n)).errors?.[0]?.extensions?.code;
    expect(await codeOf(a, ids.live)).toBe("PTLIV");
    expect(await codeOf(a, ids.live, 2)).toBe("PTSEQ");
    expect(await codeOf(a, ids.live, 13)).toBe("PTNFD");
    expect(await codeOf(a, ids.paid)).toBe("PTSTS");
    expect(await codeOf(a, ids.cancelled)).toBe("PTSTS");
    expect(await codeOf(b, ids.live)).toBe("PTNFD");
    expect(await codeOf(a, ids.otherTenant)).toBe("PTNFD");
  });
});
