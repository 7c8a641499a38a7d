/**
 * Text safety for ISO 20022 fields: everything user- or tenant-supplied goes
 * through here before it reaches the XML, so that no input can break the
 * document (markup, control characters, lone surrogates) or the schema
 * (length limits are counted in Unicode code points, as XSD maxLength is).
 */

export const MAX35 = 35;
export const MAX105 = 105;
export const MAX140 = 140;

/** Used wherever the schema needs 1+ characters and we have none (EPC convention). */
export const PLACEHOLDER = "NOTPROVIDED";

/** XML 1.0 `Char`: anything else (most C0 controls, lone surrogates, U+FFFE/U+FFFF) is illegal. */
function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Kept in text: XML characters minus C0/C1 controls (tab, CR, LF pass on as whitespace). */
function isTextChar(cp: number): boolean {
  const whitespaceControl = cp === 0x9 || cp === 0xa || cp === 0xd;
  const control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
  return isXmlChar(cp) && (whitespaceControl || !control);
}

/** Keeps the code points `keep` accepts; iterating a string yields lone surrogates singly. */
function filterCodePoints(value: string, keep: (cp: number) => boolean): string {
  let out = "";
  for (const ch of value) if (keep(ch.codePointAt(0)!)) out += ch;
  return out;
}

/** One-line, NFC-normalised text with no control characters and nothing XML 1.0 rejects. */
export function cleanText(value: string | null | undefined): string {
  if (value == null) return "";
  // Whitespace runs (tab, newline, NBSP, U+2028…) become one space: these are single-line fields.
  return filterCodePoints(String(value), isTextChar).normalize("NFC").replace(/\s+/gu, " ").trim();
}

/** Cuts to at most `max` code points, so a surrogate pair (emoji, rare CJK) is never split. */
export function cutToCodePoints(value: string, max: number): string {
  const codePoints = Array.from(value);
  return codePoints.length <= max ? value : codePoints.slice(0, max).join("").trimEnd();
}

/** Number of code points, the unit XSD length facets count. */
export function codePointLength(value: string): number {
  return Array.from(value).length;
}

/** Cleaned and cut text that is never empty: falls back to `placeholder`. */
export function boundedText(
  value: string | null | undefined,
  max: number,
  placeholder: string = PLACEHOLDER,
): string {
  return cutToCodePoints(cleanText(value), max) || placeholder;
}

/**
 * Drops what XML 1.0 cannot carry (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
 * The XML writer applies it to every text and attribute value, as a last line of
 * defence for values that did not come through cleanText (identifiers, overrides);
 * markup characters are escaped by the writer itself (src/iso20022/xml.ts).
 */
export function xmlChars(value: string): string {
  return filterCodePoints(value, isXmlChar);
}
