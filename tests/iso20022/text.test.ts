import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  boundedText,
  cleanText,
  codePointLength,
  cutToCodePoints,
  MAX35,
  MAX140,
  PLACEHOLDER,
  xmlChars,
} from "../../src/iso20022/text.ts";
import { buildXml, withAttributes } from "../../src/iso20022/xml.ts";
import { nastyText } from "./arbitraries.ts";
import { readXml } from "./helpers.ts";

/** Anything XML 1.0 cannot carry: lone surrogates, U+FFFE/U+FFFF, C0 controls but tab/LF/CR. */
/** The writer's output for one element `<a>` holding `text`: what every leaf goes through. */
function leafXml(text: string): string {
  return buildXml({ a: text });
}

/** The escaped text between `<a>` and `</a>`. */
function escapedText(text: string): string {
  return /^<a>(.*)<\/a>\n$/s.exec(leafXml(text))?.[1] ?? "";
}

function hasNonXmlChar(value: string): boolean {
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    const allowedControl = cp === 0x9 || cp === 0xa || cp === 0xd;
    const surrogate = cp >= 0xd800 && cp <= 0xdfff;
    if ((cp < 0x20 && !allowedControl) || surrogate || cp === 0xfffe || cp === 0xffff) return true;
  }
  return false;
}

describe("ISO 20022 text safety", () => {
  it("escapes the five markup characters", () => {
    expect(escapedText(`Tom & Jerry <b>"x"</b> 'y'`)).toBe(
      "Tom &amp; Jerry &lt;b&gt;&quot;x&quot;&lt;/b&gt; &apos;y&apos;",
    );
    expect(escapedText("]]>")).toBe("]]&gt;");
    // Attribute values too, and a quote cannot end the attribute early.
    expect(buildXml({ a: withAttributes("1", { Ccy: `U"S&D<'` }) })).toBe(
      '<a Ccy="U&quot;S&amp;D&lt;&apos;">1</a>\n',
    );
  });

  it("drops characters XML cannot carry at the writer, as a last line of defence", () => {
    expect(xmlChars("a\u0000b\uD800c\uFFFEd\te")).toBe("abcd\te");
    expect(escapedText("a\u0000b\u0007<c\uDFFF")).toBe("ab&lt;c");
    expect(buildXml({ a: withAttributes("x", { id: "1\u00002" }) })).toBe('<a id="12">x</a>\n');
    // Non-Latin text and emoji are written as they are (UTF-8), not as references.
    expect(escapedText("Toko Budi 日本 ✓ 🙂 مرحبا")).toBe("Toko Budi 日本 ✓ 🙂 مرحبا");
  });

  it("removes control characters and makes one line", () => {
    expect(cleanText("  a\u0000b\u0007c\u009F d\t\te\r\nf\u2028g  ")).toBe("abc d e f g");
    expect(cleanText(null)).toBe("");
    expect(cleanText(undefined)).toBe("");
  });

  it("drops lone surrogates and non-characters but keeps non-Latin text and emoji", () => {
    expect(cleanText("Toko Budi 日本 ✓")).toBe("Toko Budi 日本 ✓");
    expect(cleanText("a\uD800b\uDFFFc\uFFFEd")).toBe("abcd");
    expect(cleanText("🙂 مرحبا Ñandú")).toBe("🙂 مرحبا Ñandú");
  });

  it("normalises to NFC so limits count composed characters", () => {
    expect(cleanText("e\u0301")).toBe("é");
  });

  it("cuts by code points, never splitting a surrogate pair", () => {
    const emoji = "😀".repeat(300);
    const cut = cutToCodePoints(emoji, MAX140);
    expect(codePointLength(cut)).toBe(140);
    expect(cut).toHaveLength(280);
    expect(hasNonXmlChar(cut)).toBe(false);
    expect(cutToCodePoints("short", MAX35)).toBe("short");
    expect(cutToCodePoints(`${"a".repeat(34)} b`, MAX35)).toBe("a".repeat(34));
  });

  it("never leaves an empty required text: placeholder instead", () => {
    expect(boundedText("", MAX35)).toBe(PLACEHOLDER);
    expect(boundedText(" \t\n\u0000 ", MAX35)).toBe(PLACEHOLDER);
    expect(boundedText(null, MAX140, "fallback")).toBe("fallback");
  });

  it("any string becomes 1..max code points of XML-safe text that round-trips", () => {
    fc.assert(
      fc.property(
        fc.oneof(nastyText, fc.string({ unit: "binary", maxLength: 400 })),
        fc.constantFrom(MAX35, 70, MAX140),
        (input, max) => {
          const text = boundedText(input, max);
          const length = codePointLength(text);
          expect(length).toBeGreaterThanOrEqual(1);
          expect(length).toBeLessThanOrEqual(max);
          expect(hasNonXmlChar(text)).toBe(false);
          expect(text).toBe(text.trim());
          expect(readXml(leafXml(text)).a).toBe(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("the writer round-trips any string (once stripped of what XML cannot carry)", () => {
    fc.assert(
      fc.property(fc.oneof(nastyText, fc.string({ unit: "binary", maxLength: 400 })), (input) => {
        // Leaves are trimmed on reading (indentation), so compare trimmed text.
        const parsed = readXml(buildXml({ a: { b: input } })).a.b ?? "";
        expect(parsed).toBe(xmlChars(input).replace(/\r\n?/g, "\n").trim());
      }),
      { numRuns: 300 },
    );
  });
});
