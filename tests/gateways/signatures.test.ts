import { createHash } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import {
  midtransSignature,
  safeEqual,
  verifyMidtransSignature,
  verifyXenditCallbackToken,
} from "../../src/gateways/signatures.ts";

describe("webhook signatures (pure)", () => {
  it("verifies the Xendit callback token and rejects forged, shorter, longer and missing ones", () => {
    const token = "xnd-callback-token-1234567890";
    expect(verifyXenditCallbackToken(token, token)).toBe(true);
    expect(verifyXenditCallbackToken("xnd-callback-token-1234567891", token)).toBe(false);
    expect(verifyXenditCallbackToken("xnd", token)).toBe(false);
    expect(verifyXenditCallbackToken(`${token}-and-more`, token)).toBe(false);
    expect(verifyXenditCallbackToken(undefined, token)).toBe(false);
    expect(verifyXenditCallbackToken("", token)).toBe(false);
    // An unconfigured token must not accept an empty header.
    expect(verifyXenditCallbackToken("", "")).toBe(false);
    expect(verifyXenditCallbackToken("anything", "")).toBe(false);
  });

  it("compares any two strings without throwing", () => {
    expect(safeEqual("a", "a")).toBe(true);
    expect(safeEqual("a", "ab")).toBe(false);
    expect(safeEqual("", "x".repeat(10_000))).toBe(false);
    expect(safeEqual("é", "é")).toBe(true);
  });

  it("computes the Midtrans signature as SHA-512 hex of the concatenation", () => {
    const expected = createHash("sha512")
      .update("order-1200145000.00SB-Mid-server-key")
      .digest("hex");
    expect(midtransSignature("order-1", "200", "145000.00", "SB-Mid-server-key")).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{128}$/);
  });

  it("verifies a Midtrans notification and rejects forgeries without throwing", () => {
    const key = "SB-Mid-server-key";
    const note = {
      order_id: "order-1",
      status_code: "200",
      gross_amount: "145000.00",
      transaction_status: "settlement",
      signature_key: midtransSignature("order-1", "200", "145000.00", key),
    };
    expect(verifyMidtransSignature(note, key)).toBe(true);
    expect(
      verifyMidtransSignature({ ...note, signature_key: note.signature_key.toUpperCase() }, key),
    ).toBe(true);
    expect(verifyMidtransSignature(note, "SB-Mid-server-other")).toBe(false);
    expect(verifyMidtransSignature({ ...note, status_code: "201" }, key)).toBe(false);
    expect(verifyMidtransSignature({ ...note, gross_amount: "145000" }, key)).toBe(false);
    expect(verifyMidtransSignature({ ...note, order_id: "order-2" }, key)).toBe(false);
    expect(verifyMidtransSignature({ ...note, signature_key: "abc" }, key)).toBe(false);
    expect(
      verifyMidtransSignature({ ...note, signature_key: `${note.signature_key}00` }, key),
    ).toBe(false);
    expect(verifyMidtransSignature({ ...note, signature_key: undefined }, key)).toBe(false);
    expect(verifyMidtransSignature({ ...note, gross_amount: 145000 }, key)).toBe(false);
    expect(verifyMidtransSignature(null, key)).toBe(false);
    expect(verifyMidtransSignature("not an object", key)).toBe(false);
    expect(verifyMidtransSignature(note, "")).toBe(false);
  });
});
