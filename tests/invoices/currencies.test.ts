/**
 * paytrust_public.currencies is the one source of exponents; src/money.ts
 * mirrors them for code paths with no row at hand (the sandbox, adapters).
 * This keeps the mirror honest.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CURRENCY_EXPONENTS } from "../../src/money.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

describe("currency exponents", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("src/money.ts agrees with the currencies table", async () => {
    const { rows } = await db.pool.query<{ code: string; exponent: number }>(
      "select code, exponent from paytrust_public.currencies order by code",
    );
    expect(Object.fromEntries(rows.map((r) => [r.code, r.exponent]))).toEqual({
      ...CURRENCY_EXPONENTS,
    });
  });
});
