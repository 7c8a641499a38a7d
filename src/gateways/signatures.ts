/**
 * Webhook authenticity checks. Comparisons are constant-time over SHA-256
 * digests: equal-length buffers for timingSafeEqual whatever the inputs, so
 * neither the content nor the length of the expected value leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";

function sha256(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Constant-time string equality; never throws on different lengths. */
export function safeEqual(actual: string, expected: string): boolean {
  return timingSafeEqual(sha256(actual), sha256(expected));
}

/** Xendit sends the account's callback verification token in `x-callback-token`. */
export function verifyXenditCallbackToken(header: string | undefined, expected: string): boolean {
  // An unset token must never make an empty header pass.
  if (typeof header !== "string" || header === "" || expected === "") return false;
  return safeEqual(header, expected);
}

/** SHA512(order_id + status_code + gross_amount + server_key), lowercase hex; gross_amount as sent ("145000.00"). */
export function midtransSignature(
  orderId: string,
  statusCode: string,
  grossAmount: string,
  serverKey: string,
): string {
  return createHash("sha512")
    .update(`${orderId}${statusCode}${grossAmount}${serverKey}`, "utf8")
    .digest("hex");
}

/** Checks a Midtrans notification (or status response) `signature_key`. */
export function verifyMidtransSignature(payload: unknown, serverKey: string): boolean {
  if (typeof payload !== "object" || payload === null || serverKey === "") return false;
  const p = payload as Record<string, unknown>;
  const fields = [p.order_id, p.status_code, p.gross_amount, p.signature_key];
  // Strings only: gross_amount must be the exact text Midtrans signed, not a re-rendered number.
  if (!fields.every((f): f is string => typeof f === "string")) return false;
  const [orderId, statusCode, grossAmount, signature] = fields as string[];
  return safeEqual(
    signature.toLowerCase(),
    midtransSignature(orderId, statusCode, grossAmount, serverKey),
  );
}
