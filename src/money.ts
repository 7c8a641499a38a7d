/**
 * The one place where integer minor units become the decimal strings gateways
 * and ISO 20022 need, and back. String and BigInt arithmetic only: never a
 * float. Currency exponents come from SQL (paytrust_public.currencies); the
 * constant below mirrors them for code paths that have no row at hand, and a
 * test checks the two agree.
 */
export type Currency = "IDR" | "MYR" | "USD";

export const CURRENCY_EXPONENTS: Readonly<Record<Currency, number>> = Object.freeze({
  IDR: 0,
  MYR: 2,
  USD: 2,
});

export function isCurrency(value: unknown): value is Currency {
  return typeof value === "string" && Object.hasOwn(CURRENCY_EXPONENTS, value);
}

/** "12345", 2 → "123.45"; "-5", 2 → "-0.05"; "145000", 0 → "145000". */
export function minorToDecimal(minor: string | bigint, exponent: number): string {
  const value = BigInt(minor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, "0");
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  const fraction = exponent === 0 ? "" : `.${digits.slice(-exponent)}`;
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/**
 * "123.45", 2 → 12345n. Refuses more fraction digits than the exponent allows
 * unless they are zeros ("145000.00", 0 → 145000n), and anything not a plain decimal.
 */
export function decimalToMinor(decimal: string, exponent: number): bigint {
  const match = /^(-)?(\d+)(?:\.(\d+))?$/.exec(decimal.trim());
  if (!match) throw new RangeError(`Not a decimal amount: "${decimal}"`);
  const [, sign, whole, rawFraction = ""] = match;
  const fraction = rawFraction.replace(/0+$/, "");
  if (fraction.length > exponent)
    throw new RangeError(`Too many decimals for exponent ${exponent}: "${decimal}"`);
  const minor = BigInt(whole + fraction.padEnd(exponent, "0"));
  return sign ? -minor : minor;
}
