/**
 * JSON with exact decimal numbers. Gateways take amounts as JSON numbers in
 * major units ("123.45"); going through a JS number could round, so numbers are
 * written from their decimal text (JSON.rawJSON, Node >= 21) and, where exactness
 * matters (the sandbox reading requests), read back as their source text.
 */

// TypeScript's lib does not describe JSON.rawJSON and the reviver's context yet.
const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;
type Reviver = (key: string, value: unknown, context?: { source?: string }) => unknown;

const JSON_NUMBER_TEXT = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

/** A JSON number written exactly as `decimal` ("123.45" stays 123.45, "145000" stays 145000). */
export function jsonNumber(decimal: string): unknown {
  if (!JSON_NUMBER_TEXT.test(decimal)) throw new RangeError(`Not a plain decimal: "${decimal}"`);
  return rawJSON(decimal);
}

/** Marks numbers parsed by parseJsonExact; their value is the number's source text. */
export const NUMBER_SOURCE: unique symbol = Symbol("json-number-source");
export interface JsonNumber {
  readonly [NUMBER_SOURCE]: string;
}

/**
 * JSON.parse, except every number becomes a JsonNumber holding its exact source
 * text, so a value like 12345678901234567.89 is never squeezed through a float.
 */
export function parseJsonExact(text: string): unknown {
  const reviver: Reviver = (_key, value, context) =>
    typeof value === "number" ? { [NUMBER_SOURCE]: context?.source ?? String(value) } : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** The source text of a number from parseJsonExact, or null for anything else. */
export function numberSource(value: unknown): string | null {
  if (typeof value !== "object" || value === null || !(NUMBER_SOURCE in value)) return null;
  return (value as JsonNumber)[NUMBER_SOURCE];
}
