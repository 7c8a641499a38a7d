import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { CURRENCY_EXPONENTS, decimalToMinor, minorToDecimal } from "../../src/money.ts";

describe("money conversions (pure)", () => {
  it("renders minor units by exponent", () => {
    expect(minorToDecimal("145000", 0)).toBe("145000");
    expect(minorToDecimal("12345", 2)).toBe("123.45");
    expect(minorToDecimal("5", 2)).toBe("0.05");
    expect(minorToDecimal(0n, 2)).toBe("0.00");
    expect(minorToDecimal("-5", 2)).toBe("-0.05");
    expect(minorToDecimal("999999999999999999", 2)).toBe("9999999999999999.99");
  });

  it("parses decimals back without floats", () => {
    expect(decimalToMinor("145000.00", 0)).toBe(145000n);
    expect(decimalToMinor("12.3", 2)).toBe(1230n);
    expect(() => decimalToMinor("1.005", 2)).toThrow(RangeError);
    expect(() => decimalToMinor("1e5", 2)).toThrow(RangeError);
    expect(() => decimalToMinor("abc", 0)).toThrow(RangeError);
  });

  for (const [currency, exponent] of Object.entries(CURRENCY_EXPONENTS)) {
    it(`round-trips any amount in ${currency}`, () => {
      fc.assert(
        fc.property(fc.bigInt({ min: 0n, max: 10n ** 18n }), (minor) => {
          expect(decimalToMinor(minorToDecimal(minor, exponent), exponent)).toBe(minor);
        }),
        { numRuns: 1000 },
      );
    });
  }
});
