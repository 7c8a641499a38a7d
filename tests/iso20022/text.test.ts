import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import fc from "fast-check";
import {
  boundedText,
  cleanText,
  codePointLength,
  cutToCodePoints,
  escapeXml,
  MAX35,
  MAX140,
  PLACEHOLDER,
} from "../../src/iso20022/text.ts";
import { nastyText } from "./arbitraries.ts";
import { readXml } from "./helpers.ts";

/** Anything XML 1.0 cannot carry: lone surrogates, U+FFFE/U+FFFF, C0 controls but tab/LF/CR. */
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
    assert.equal(
      escapeXml(`Tom & Jerry <b>"x"</b> 'y'`),
      "Tom &amp; Jerry &lt;b&gt;&quot;x&quot;&lt;/b&gt; &apos;y&apos;",
    );
    assert.equal(escapeXml("]]>"), "]]&gt;");
  });

  it("removes control characters and makes one line", () => {
    assert.equal(cleanText("  a\u0000b\u0007c\u009F d\t\te\r\nf\u2028g  "), "abc d e f g");
    assert.equal(cleanText(null), "");
    assert.equal(cleanText(undefined), "");
  });

  it("drops lone surrogates and non-characters but keeps non-Latin text and emoji", () => {
    assert.equal(cleanText("Toko Budi 日本 ✓"), "Toko Budi 日本 ✓");
    assert.equal(cleanText("a\uD800b\uDFFFc\uFFFEd"), "abcd");
    assert.equal(cleanText("🙂 مرحبا Ñandú"), "🙂 مرحبا Ñandú");
  });

  it("normalises to NFC so limits count composed characters", () => {
    assert.equal(cleanText("e\u0301"), "é");
  });

  it("cuts by code points, never splitting a surrogate pair", () => {
    const emoji = "😀".repeat(300);
    const cut = cutToCodePoints(emoji, MAX140);
    assert.equal(codePointLength(cut), 140);
    assert.equal(cut.length, 280);
    assert.ok(!hasNonXmlChar(cut));
    assert.equal(cutToCodePoints("short", MAX35), "short");
    assert.equal(cutToCodePoints(`${"a".repeat(34)} b`, MAX35), "a".repeat(34));
  });

  it("never leaves an empty required text: placeholder instead", () => {
    assert.equal(boundedText("", MAX35), PLACEHOLDER);
    assert.equal(boundedText(" \t\n\u0000 ", MAX35), PLACEHOLDER);
    assert.equal(boundedText(null, MAX140, "fallback"), "fallback");
  });

  it("any string becomes 1..max code points of XML-safe text that round-trips", () => {
    fc.assert(
      fc.property(
        fc.oneof(nastyText, fc.string({ unit: "binary", maxLength: 400 })),
        fc.constantFrom(MAX35, 70, MAX140),
        (input, max) => {
          const text = boundedText(input, max);
          const length = codePointLength(text);
          assert.ok(length >= 1 && length <= max, `length ${length}`);
          assert.ok(!hasNonXmlChar(text), JSON.stringify(text));
          assert.equal(text, text.trim());
          const parsed = readXml(`<a>${escapeXml(text)}</a>`);
          assert.equal(parsed.a, text);
        },
      ),
      { numRuns: 500 },
    );
  });
});
