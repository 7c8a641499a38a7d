import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import fc from "fast-check";
import { CURRENCY_EXPONENTS, decimalToMinor, minorToDecimal } from "../../src/money.ts";

describe("money conversions (pure)", () => {
  it("renders minor units by exponent", () => {
    assert.equal(minorToDecimal("145000", 0), "145000");
    assert.equal(minorToDecimal("12345", 2), "123.45");
    assert.equal(minorToDecimal("5", 2), "0.05");
    assert.equal(minorToDecimal(0n, 2), "0.00");
    assert.equal(minorToDecimal("-5", 2), "-0.05");
    assert.equal(minorToDecimal("999999999999999999", 2), "9999999999999999.99");
  });

  it("parses decimals back without floats", () => {
    assert.equal(decimalToMinor("145000.00", 0), 145000n);
    assert.equal(decimalToMinor("12.3", 2), 1230n);
    assert.throws(() => decimalToMinor("1.005", 2), RangeError);
    assert.throws(() => decimalToMinor("1e5", 2), RangeError);
    assert.throws(() => decimalToMinor("abc", 0), RangeError);
  });

  for (const [currency, exponent] of Object.entries(CURRENCY_EXPONENTS)) {
    it(`round-trips any amount in ${currency}`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (minor) => {
          assert.equal(decimalToMinor(minorToDecimal(minor, exponent), exponent), minor);
        }),
        { numRuns: 1000 },
      );
    });
  }
});
