import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "@jest/globals";
import {
  midtransSignature,
  safeEqual,
  verifyMidtransSignature,
  verifyXenditCallbackToken,
} from "../../src/gateways/signatures.ts";

describe("webhook signatures (pure)", () => {
  it("verifies the Xendit callback token and rejects forged, shorter, longer and missing ones", () => {
    const token = "xnd-callback-token-1234567890";
    assert.equal(verifyXenditCallbackToken(token, token), true);
    assert.equal(verifyXenditCallbackToken("xnd-callback-token-1234567891", token), false);
    assert.equal(verifyXenditCallbackToken("xnd", token), false);
    assert.equal(verifyXenditCallbackToken(`${token}-and-more`, token), false);
    assert.equal(verifyXenditCallbackToken(undefined, token), false);
    assert.equal(verifyXenditCallbackToken("", token), false);
    // An unconfigured token must not accept an empty header.
    assert.equal(verifyXenditCallbackToken("", ""), false);
    assert.equal(verifyXenditCallbackToken("anything", ""), false);
  });

  it("compares any two strings without throwing", () => {
    assert.equal(safeEqual("a", "a"), true);
    assert.equal(safeEqual("a", "ab"), false);
    assert.equal(safeEqual("", "x".repeat(10_000)), false);
    assert.equal(safeEqual("é", "é"), true);
  });

  it("computes the Midtrans signature as SHA-512 hex of the concatenation", () => {
    const expected = createHash("sha512")
      .update("order-1200145000.00SB-Mid-server-key")
      .digest("hex");
    assert.equal(midtransSignature("order-1", "200", "145000.00", "SB-Mid-server-key"), expected);
    assert.match(expected, /^[0-9a-f]{128}$/);
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
    assert.equal(verifyMidtransSignature(note, key), true);
    assert.equal(
      verifyMidtransSignature({ ...note, signature_key: note.signature_key.toUpperCase() }, key),
      true,
    );
    assert.equal(verifyMidtransSignature(note, "SB-Mid-server-other"), false);
    assert.equal(verifyMidtransSignature({ ...note, status_code: "201" }, key), false);
    assert.equal(verifyMidtransSignature({ ...note, gross_amount: "145000" }, key), false);
    assert.equal(verifyMidtransSignature({ ...note, order_id: "order-2" }, key), false);
    assert.equal(verifyMidtransSignature({ ...note, signature_key: "abc" }, key), false);
    assert.equal(
      verifyMidtransSignature({ ...note, signature_key: `${note.signature_key}00` }, key),
      false,
    );
    assert.equal(verifyMidtransSignature({ ...note, signature_key: undefined }, key), false);
    assert.equal(verifyMidtransSignature({ ...note, gross_amount: 145000 }, key), false);
    assert.equal(verifyMidtransSignature(null, key), false);
    assert.equal(verifyMidtransSignature("not an object", key), false);
    assert.equal(verifyMidtransSignature(note, ""), false);
  });
});
