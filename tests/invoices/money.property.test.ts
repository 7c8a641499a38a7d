/**
 * Property tests of the money rules (docs: DESIGN.md "Money rules") against
 * the real SQL: paytrust_public.create_invoice, round_minor and
 * split_installments, compared with an independent BigInt oracle written here.
 *
 * Speed: one connection, one transaction that is never committed; each case
 * runs inside a SAVEPOINT and is rolled back to it (fee configuration
 * changes included), so thousands of invoices cost a few seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import type pg from "pg";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const RUNS_PER_CURRENCY = 1000;
const MAX_AMOUNT = 999_999_999_999_999n;
const INTEGER = /^\d+$/;

// ---------------------------------------------------------------------------
// The oracle: exact integer arithmetic, rates and percents scaled by 100.
// ---------------------------------------------------------------------------

/** round half up of n / d for n >= 0, d > 0. */
function divHalfUp(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}

/** A rate of `bp` hundredths of a percent as the decimal string SQL receives (1155 → "11.55"). */
function rateString(bp: number): string {
  return `${Math.floor(bp / 100)}.${String(bp % 100).padStart(2, "0")}`;
}

interface OracleLine {
  quantity: number;
  unitPrice: bigint;
  rateBp: number;
}

function lineAmount(line: OracleLine): bigint {
  return BigInt(line.quantity) * line.unitPrice;
}

/** line tax = round half up (amount × rate / 100), rate = rateBp / 100. */
function lineTax(amount: bigint, rateBp: number): bigint {
  return divHalfUp(amount * BigInt(rateBp), 10_000n);
}

/** fee = round half up ((subtotal + tax) × percent / 100) + fixed, percent = pctBp / 100. */
function serviceFee(subtotal: bigint, tax: bigint, pctBp: number, fixed: bigint): bigint {
  return divHalfUp((subtotal + tax) * BigInt(pctBp), 10_000n) + fixed;
}

/** Truncated proportional shares; the last one absorbs the remainder. */
function split(amount: bigint, weights: bigint[]): bigint[] {
  const sum = weights.reduce((a, b) => a + b, 0n);
  const shares: bigint[] = [];
  let left = amount;
  weights.forEach((w, i) => {
    const share = i < weights.length - 1 ? (amount * w) / sum : left;
    shares.push(share);
    left -= share;
  });
  return shares;
}

interface Expected {
  lines: { amount: bigint; tax: bigint }[];
  subtotal: bigint;
  taxTotal: bigint;
  serviceFee: bigint;
  total: bigint;
  plan: { principal: bigint; tax: bigint; fee: bigint; total: bigint }[];
}

function oracle(lines: OracleLine[], pctBp: number, fixed: bigint, weights: bigint[]): Expected {
  const computed = lines.map((l) => {
    const amount = lineAmount(l);
    return { amount, tax: lineTax(amount, l.rateBp) };
  });
  const subtotal = computed.reduce((a, l) => a + l.amount, 0n);
  const taxTotal = computed.reduce((a, l) => a + l.tax, 0n);
  const fee = serviceFee(subtotal, taxTotal, pctBp, fixed);
  const principals = split(subtotal, weights);
  const taxes = split(taxTotal, weights);
  const fees = split(fee, weights);
  return {
    lines: computed,
    subtotal,
    taxTotal,
    serviceFee: fee,
    total: subtotal + taxTotal + fee,
    plan: weights.map((_, i) => ({
      principal: principals[i]!,
      tax: taxes[i]!,
      fee: fees[i]!,
      total: principals[i]! + taxes[i]! + fees[i]!,
    })),
  };
}

function sum(values: string[]): bigint {
  return values.reduce((a, v) => a + BigInt(v), 0n);
}

// ---------------------------------------------------------------------------
// Sanity of the oracle itself (hand-checked values).
// ---------------------------------------------------------------------------

describe("the BigInt oracle", () => {
  it("rounds half up and splits with the last installment absorbing the remainder", () => {
    expect(divHalfUp(5n, 10n)).toBe(1n); // 0.5 → 1
    expect(divHalfUp(4n, 10n)).toBe(0n); // 0.4 → 0
    expect(divHalfUp(15n, 10n)).toBe(2n); // 1.5 → 2
    expect(lineTax(61_750n, 1100)).toBe(6793n); // 6792.5 → 6793
    expect(lineTax(425n, 600)).toBe(26n); // 25.5 → 26
    expect(serviceFee(6752n, 406n, 290, 30n)).toBe(238n); // 207.582 → 208, + 30
    expect(split(100n, [1n, 1n, 1n])).toEqual([33n, 33n, 34n]);
    expect(split(1_000_003n, [1n, 2n, 3n, 4n])).toEqual([100_000n, 200_000n, 300_000n, 400_003n]);
    expect(rateString(1155)).toBe("11.55");
    expect(rateString(5)).toBe("0.05");
    expect(rateString(10_000)).toBe("100.00");
  });
});

// ---------------------------------------------------------------------------
// Against the database
// ---------------------------------------------------------------------------

describe("money rules in SQL (property-based)", () => {
  let db: TestDatabase;
  let client: pg.PoolClient;
  let tenantId: string;

  beforeAll(async () => {
    db = await freshDatabase();
    ({ tenantId } = await createTenant(db.pool, "Property tenant"));
    client = await db.pool.connect();
    // One transaction for the whole file; never committed.
    await client.query("begin");
    await client.query(
      `select set_config('paytrust.tenant_id', $1, true), set_config('paytrust.role', 'tenant', true)`,
      [tenantId],
    );
  });
  afterAll(async () => {
    await client.query("rollback").catch(() => {});
    client.release();
    await db.drop();
  });

  /** Runs fn inside a savepoint that is always rolled back. */
  async function inSavepoint<T>(fn: () => Promise<T>): Promise<T> {
    await client.query("savepoint prop_case");
    try {
      return await fn();
    } finally {
      await client.query("rollback to savepoint prop_case");
    }
  }

  /** Runs a query inside a savepoint; returns its rows or the SQLSTATE it failed with. */
  async function tryQuery(
    sql: string,
    params: unknown[] = [],
  ): Promise<{ rows: any[] } | { code: string }> {
    await client.query("savepoint try_query");
    try {
      const { rows } = await client.query(sql, params);
      await client.query("release savepoint try_query");
      return { rows };
    } catch (error: any) {
      await client.query("rollback to savepoint try_query");
      return { code: error.code ?? "UNKNOWN" };
    }
  }

  // -------------------------------------------------------------------------
  // round_minor
  // -------------------------------------------------------------------------

  describe("round_minor(numeric, mode)", () => {
    /** A decimal value m / 10^scale rendered as a plain string. */
    function decimal(m: bigint, scale: number): string {
      const neg = m < 0n;
      const digits = (neg ? -m : m).toString().padStart(scale + 1, "0");
      const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
      return neg ? `-${text}` : text;
    }

    function expectRound(m: bigint, scale: number, mode: "half_up" | "down"): bigint {
      const d = 10n ** BigInt(scale);
      const neg = m < 0n;
      const abs = neg ? -m : m;
      const r = mode === "half_up" ? divHalfUp(abs, d) : abs / d;
      return neg ? -r : r;
    }

    const valueArb = fc.oneof(
      // anything, in and beyond the allowed range
      fc.record({
        m: fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }),
        scale: fc.integer({ min: 0, max: 8 }),
      }),
      // exactly on and around the .5 boundary
      fc
        .record({
          int: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
          frac: fc.constantFrom("5", "49", "4999999999", "50", "5000000001", "0", "9", "99999"),
        })
        .map(({ int, frac }) => {
          const scale = frac.length;
          const abs = (int < 0n ? -int : int) * 10n ** BigInt(scale) + BigInt(frac);
          return { m: int < 0n ? -abs : abs, scale };
        }),
    );

    for (const mode of ["half_up", "down"] as const) {
      it(`rounds ${mode} exactly and refuses results beyond max_amount() (PTCAP)`, async () => {
        await fc.assert(
          fc.asyncProperty(valueArb, async ({ m, scale }) => {
            const value = decimal(m, scale);
            const expected = expectRound(m, scale, mode);
            const res = await tryQuery(
              "select paytrust_public.round_minor($1::numeric, $2)::text as r",
              [value, mode],
            );
            if (expected > MAX_AMOUNT || expected < -MAX_AMOUNT) {
              // `${value} ${mode}`
              expect(res).toEqual({ code: "PTCAP" });
            } else {
              // `${value} ${mode} failed with ${JSON.stringify(res)}`
              expect("rows" in res).toBeTruthy();
              const { rows } = res as { rows: any[] };
              expect(rows[0].r).toMatch(/^-?\d+$/);
              // `${value} ${mode}`
              expect(BigInt(rows[0].r)).toBe(expected);
            }
          }),
          { numRuns: 1000 },
        );
      });
    }

    it("defaults to half_up, is strict on null and refuses an unknown mode (PTVAL)", async () => {
      const { rows } = await client.query(
        `select paytrust_public.round_minor(2.5)::text as a, paytrust_public.round_minor(-2.5)::text as b,
                paytrust_public.round_minor(2.4999)::text as c, paytrust_public.round_minor(-2.5, 'down')::text as d,
                paytrust_public.round_minor(null, 'down') as e, paytrust_public.max_amount()::text as max`,
      );
      expect(rows[0]).toEqual({
        a: "3",
        b: "-3",
        c: "2",
        d: "-2",
        e: null,
        max: MAX_AMOUNT.toString(),
      });
      expect(await tryQuery("select paytrust_public.round_minor(1.5, 'bankers')")).toEqual({
        code: "PTVAL",
      });
    });
  });

  // -------------------------------------------------------------------------
  // split_installments
  // -------------------------------------------------------------------------

  describe("split_installments(subtotal, tax, fee, weights)", () => {
    async function callSplit(subtotal: bigint, tax: bigint, fee: bigint, weights: bigint[]) {
      const { rows } = await client.query(
        `select number, principal::text, tax_amount::text, fee_amount::text, total::text
           from paytrust_public.split_installments($1::bigint, $2::bigint, $3::bigint, $4::numeric[])
          order by number`,
        [subtotal.toString(), tax.toString(), fee.toString(), weights.map(String)],
      );
      return rows;
    }

    it("splits exactly: truncated proportional shares, last absorbs, sums equal, nothing negative", async () => {
      const amount = fc.oneof(
        fc.bigInt({ min: 0n, max: MAX_AMOUNT }),
        fc.bigInt({ min: 0n, max: 1000n }),
      );
      await fc.assert(
        fc.asyncProperty(
          amount,
          amount,
          amount,
          fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 1, maxLength: 12 }),
          async (subtotal, tax, fee, weights) => {
            const principals = split(subtotal, weights);
            const taxes = split(tax, weights);
            const fees = split(fee, weights);
            // An installment of total 0 could never be paid: refused (issue 14).
            if (principals.some((p, i) => p + taxes[i]! + fees[i]! === 0n)) {
              const refused = await tryQuery(
                "select * from paytrust_public.split_installments($1::bigint, $2::bigint, $3::bigint, $4::numeric[])",
                [subtotal.toString(), tax.toString(), fee.toString(), weights.map(String)],
              );
              expect(refused).toEqual({ code: "PTWGT" });
              return;
            }
            const rows = await callSplit(subtotal, tax, fee, weights);
            expect(rows.length).toBe(weights.length);
            rows.forEach((r, i) => {
              expect(r.number).toBe(i + 1);
              for (const k of ["principal", "tax_amount", "fee_amount", "total"]) {
                // `${k} of #${i + 1} is a non-negative integer`
                expect(r[k]).toMatch(INTEGER);
              }
              expect(BigInt(r.principal)).toBe(principals[i]);
              expect(BigInt(r.tax_amount)).toBe(taxes[i]);
              expect(BigInt(r.fee_amount)).toBe(fees[i]);
              expect(BigInt(r.total)).toBe(principals[i]! + taxes[i]! + fees[i]!);
            });
            expect(sum(rows.map((r) => r.principal))).toBe(subtotal);
            expect(sum(rows.map((r) => r.tax_amount))).toBe(tax);
            expect(sum(rows.map((r) => r.fee_amount))).toBe(fee);
            expect(sum(rows.map((r) => r.total))).toBe(subtotal + tax + fee);
          },
        ),
        { numRuns: 1000 },
      );
    });

    it("truncates exactly even when the weights sum to 20,000 or more (large amounts)", async () => {
      // Regression for numeric division precision: PostgreSQL computes
      // subtotal * w / Σw with only 4 decimals when the quotient is >= 10^12,
      // rounding (not truncating) the 4th decimal; a fractional part >= 0.99995
      // then becomes 1 and round_minor(…, 'down') returns one unit too much.
      // Hand-checked instance: 10000500000001 × 20000 / 20001
      //   = 10000000000000.99995000249… → truncated share 10000000000000, last 500000001.
      expect(
        (await callSplit(10_000_500_000_001n, 0n, 0n, [20_000n, 1n])).map((r) => r.principal),
      ).toEqual(["10000000000000", "500000001"]);
      // The same rule for any Σw >= 20001: with weights [Σw − 1, 1] and
      // subtotal ≡ 1 (mod Σw), the first share's fraction is (Σw − 1)/Σw.
      await fc.assert(
        fc.asyncProperty(
          fc.bigInt({ min: 20_001n, max: 1_000_000n }),
          fc.bigInt({ min: 10n ** 12n, max: 9n * 10n ** 14n }),
          async (weightSum, around) => {
            const subtotal = (around / weightSum) * weightSum + 1n;
            const weights = [weightSum - 1n, 1n];
            const rows = await callSplit(subtotal, 0n, 0n, weights);
            // `subtotal ${subtotal}, weights ${weights.join(",")}`
            expect(rows.map((r) => BigInt(r.principal))).toEqual(split(subtotal, weights));
          },
        ),
        { numRuns: 50 },
      );
    });

    it("refuses 0 or 13 installments (PTINS) and non-positive weights (PTWGT)", async () => {
      const cases: [string, string][] = [
        ["array[]::numeric[]", "PTINS"],
        ["array_fill(1::numeric, array[13])", "PTINS"],
        ["array[1, 0]::numeric[]", "PTWGT"],
        ["array[1, -2]::numeric[]", "PTWGT"],
        ["array[1, null]::numeric[]", "PTWGT"],
      ];
      for (const [weights, code] of cases) {
        const res = await tryQuery(
          `select * from paytrust_public.split_installments(100, 10, 5, ${weights})`,
        );
        expect(res).toEqual({ code });
      }
    });
  });

  // -------------------------------------------------------------------------
  // create_invoice, per currency
  // -------------------------------------------------------------------------

  const rateBpArb = fc.oneof(
    { weight: 1, arbitrary: fc.constantFrom(0, 600, 800, 1000, 1100, 1200, 1250, 10_000) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 10_000 }) },
  );
  const unitPriceArb = fc.oneof(
    { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 1_000_000_000n }) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 1000n }) },
  );
  const lineArb = fc.record({
    quantity: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 5 })),
    unitPrice: unitPriceArb,
    rateBp: rateBpArb,
  });
  const caseArb = (gateways: string[]) =>
    fc.record({
      gateway: fc.constantFrom(...gateways),
      lines: fc.array(lineArb, { minLength: 1, maxLength: 20 }),
      feePercentBp: fc.oneof(
        fc.constantFrom(0, 200, 290, 10_000),
        fc.integer({ min: 0, max: 10_000 }),
      ),
      feeFixed: fc.oneof(
        fc.constantFrom(0n, 30n, 100n, 2000n, 4000n),
        fc.bigInt({ min: 0n, max: 1_000_000n }),
      ),
      count: fc.integer({ min: 1, max: 12 }),
      weighted: fc.boolean(),
      weightPool: fc.array(fc.bigInt({ min: 1n, max: 1000n }), { minLength: 12, maxLength: 12 }),
    });

  const currencies: [string, string[]][] = [
    ["IDR", ["xendit", "midtrans"]],
    ["MYR", ["xendit"]],
    ["USD", ["xendit"]],
  ];

  for (const [currency, gateways] of currencies) {
    it(`create_invoice in ${currency}: amounts equal the oracle, installments sum exactly (${RUNS_PER_CURRENCY} cases)`, async () => {
      let checked = 0;
      await fc.assert(
        fc.asyncProperty(caseArb(gateways), async (c) => {
          const weights = c.weighted ? c.weightPool.slice(0, c.count) : Array(c.count).fill(1n);
          const expected = oracle(c.lines, c.feePercentBp, c.feeFixed, weights);
          await inSavepoint(async () => {
            // As owner: this case's fee configuration; then act as the tenant role.
            await client.query(
              `update paytrust_public.gateway_configurations
                  set fee_percent = ${rateString(c.feePercentBp)}, fee_fixed = ${c.feeFixed}
                where gateway = '${c.gateway}' and currency = '${currency}';
               set local role paytrust_tenant`,
            );
            const create = {
              text: `select i.id, i.currency, i.gateway, i.subtotal::text, i.tax_total::text,
                      i.service_fee::text, i.total::text, i.fee_percent::text, i.fee_fixed::text,
                      i.installment_count, i.tenant_id
                 from paytrust_public.create_invoice(
                        currency => $1, gateway => $2, customer_name => 'Property Customer',
                        customer_email => 'property@example.com',
                        line_items => array(select jsonb_populate_recordset(null::paytrust_public.invoice_line, $3::jsonb)),
                        installment_count => $4,
                        installment_weights => $5::numeric[]) i`,
              values: [
                currency,
                c.gateway,
                JSON.stringify(
                  c.lines.map((l, i) => ({
                    description: `Line ${i + 1}`,
                    quantity: l.quantity,
                    unit_price: l.unitPrice.toString(),
                    tax_rate: rateString(l.rateBp),
                  })),
                ),
                c.count,
                c.weighted ? weights.map(String) : null,
              ],
            };
            // An installment of total 0 could never be paid: refused (issue 14).
            if (expected.plan.some((p) => p.total === 0n)) {
              expect(await tryQuery(create.text, create.values)).toEqual({ code: "PTWGT" });
              return;
            }
            const { rows } = await client.query(create);
            const inv = rows[0];
            const { rows: children } = await client.query(
              `select
                 (select json_agg(json_build_object('amount', line_amount::text, 'tax', tax_amount::text)
                                  order by position)
                    from paytrust_public.line_items where invoice_id = $1) as lines,
                 (select json_agg(json_build_object('number', number, 'principal', principal::text,
                                    'tax', tax_amount::text, 'fee', fee_amount::text, 'total', total::text)
                                  order by number)
                    from paytrust_public.installments where invoice_id = $1) as plan`,
              [inv.id],
            );
            // The deferred consistency check (PTSUM) must accept what create_invoice wrote.
            await client.query("set constraints all immediate");

            expect(inv.tenant_id).toBe(tenantId);
            expect(inv.currency).toBe(currency);
            expect(inv.installment_count).toBe(c.count);
            expect(inv.fee_fixed).toBe(c.feeFixed.toString());
            for (const k of ["subtotal", "tax_total", "service_fee", "total"]) {
              // `${k} is an integer string`
              expect(inv[k]).toMatch(INTEGER);
            }
            // `subtotal`
            expect(BigInt(inv.subtotal)).toBe(expected.subtotal);
            // `taxTotal`
            expect(BigInt(inv.tax_total)).toBe(expected.taxTotal);
            // `serviceFee`
            expect(BigInt(inv.service_fee)).toBe(expected.serviceFee);
            // `total`
            expect(BigInt(inv.total)).toBe(expected.total);
            expect(BigInt(inv.total)).toBe(
              BigInt(inv.subtotal) + BigInt(inv.tax_total) + BigInt(inv.service_fee),
            );

            const lines = children[0].lines as { amount: string; tax: string }[];
            expect(lines.length).toBe(c.lines.length);
            lines.forEach((l, i) => {
              expect(l.amount).toMatch(INTEGER);
              expect(l.tax).toMatch(INTEGER);
              // `line ${i + 1}`
              expect(BigInt(l.amount)).toBe(expected.lines[i]!.amount);
              // `line ${i + 1} tax`
              expect(BigInt(l.tax)).toBe(expected.lines[i]!.tax);
            });

            const plan = children[0].plan as {
              number: number;
              principal: string;
              tax: string;
              fee: string;
              total: string;
            }[];
            expect(plan.length).toBe(c.count);
            plan.forEach((p, i) => {
              expect(p.number).toBe(i + 1);
              for (const k of ["principal", "tax", "fee", "total"] as const) {
                // `installment ${i + 1} ${k} non-negative integer`
                expect(p[k]).toMatch(INTEGER);
              }
              const e = expected.plan[i]!;
              // `installment ${i + 1} principal`
              expect(BigInt(p.principal)).toBe(e.principal);
              // `installment ${i + 1} tax`
              expect(BigInt(p.tax)).toBe(e.tax);
              // `installment ${i + 1} fee`
              expect(BigInt(p.fee)).toBe(e.fee);
              // `installment ${i + 1} total`
              expect(BigInt(p.total)).toBe(e.total);
            });
            expect(sum(plan.map((p) => p.principal))).toBe(BigInt(inv.subtotal));
            expect(sum(plan.map((p) => p.tax))).toBe(BigInt(inv.tax_total));
            expect(sum(plan.map((p) => p.fee))).toBe(BigInt(inv.service_fee));
            expect(sum(plan.map((p) => p.total))).toBe(BigInt(inv.total));
          });
          checked++;
        }),
        { numRuns: RUNS_PER_CURRENCY },
      );
      // `${checked} cases checked`
      expect(checked >= RUNS_PER_CURRENCY).toBeTruthy();
    });
  }

  it("create_invoice applies the same exact split for large weights (Σw >= 20,000)", async () => {
    // Reachable through the API: Rp 10,000,500,000,001 in 2 installments weighted [20000, 1].
    // Truncated share of #1 = floor(10000500000001 × 20000 / 20001) = 10000000000000, #2 = 500000001.
    await inSavepoint(async () => {
      await client.query("set local role paytrust_tenant");
      const { rows } = await client.query(
        `select id from paytrust_public.create_invoice(
                  currency => 'IDR', gateway => 'xendit', customer_name => 'Big Buyer',
                  customer_email => 'big@example.co.id',
                  line_items => array[row('Land', 1, 10000500000001, 0)::paytrust_public.invoice_line],
                  installment_count => 2, installment_weights => array[20000, 1]::numeric[])`,
      );
      const { rows: plan } = await client.query(
        "select principal::text from paytrust_public.installments where invoice_id = $1 order by number",
        [rows[0].id],
      );
      expect(rows.length).toBe(1);
      expect(plan.map((r) => r.principal)).toEqual(["10000000000000", "500000001"]);
    });
  });
});
