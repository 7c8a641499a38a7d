/**
 * Deterministic identifiers. The same invoice always yields the same MsgId,
 * PmtInfIds and EndToEndIds, so a pain.002 can point at the pain.001 it reports
 * on without storing anything, and re-rendering a document is reproducible.
 * All identifiers stay within [A-Za-z0-9-] and Max35Text, which every bank
 * character set (SWIFT "x" set, EPC) accepts.
 */
import { createHash } from "node:crypto";
import type { Iso20022Invoice, Pain002Version } from "./types.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHORT_ALPHANUMERIC = /^[A-Za-z0-9]{1,32}$/;

function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/**
 * At most 32 characters identifying `id`: a uuid loses its hyphens (lossless),
 * a short alphanumeric id is kept, anything else is hashed (stable, and no two
 * ids that differ only in punctuation can collide).
 */
export function compactKey(id: string): string {
  if (UUID.test(id)) return id.replaceAll("-", "").toLowerCase();
  if (SHORT_ALPHANUMERIC.test(id)) return id;
  return sha256Hex(id).slice(0, 32);
}

/** GrpHdr/MsgId of the invoice's pain.001 (either version): "PT" + invoice key, ≤ 34 chars. */
export function pain001MessageId(data: Iso20022Invoice): string {
  return `PT${compactKey(data.invoice.id)}`;
}

/**
 * PmtInf/PmtInfId of the invoice's `group`-th payment information block (one
 * per distinct installment due date, counted from 1 in date order): "P" +
 * invoice key + two-digit group number, ≤ 35 chars. A pain.002 recomputes the
 * groups from the same invoice data, so it needs nothing stored.
 */
export function paymentInformationId(data: Iso20022Invoice, group: number): string {
  return `P${compactKey(data.invoice.id)}${twoDigits(group, "Payment information group")}`;
}

function twoDigits(value: number, what: string): string {
  if (!Number.isInteger(value) || value < 1 || value > 99) {
    throw new RangeError(`${what} must be an integer in 1..99: ${value}`);
  }
  return String(value).padStart(2, "0");
}

/**
 * PmtId/EndToEndId (and InstrId) of installment `number`: invoice key + "-" +
 * two-digit number, ≤ 35 chars. Derived from the number, not the installment
 * row, so a pain.002 transaction needs only its installmentNumber.
 */
export function installmentEndToEndId(data: Iso20022Invoice, installmentNumber: number): string {
  return `${compactKey(data.invoice.id)}-${twoDigits(installmentNumber, "Installment number")}`;
}

/**
 * GrpHdr/MsgId of a pain.002: "PS" + a hash of the invoice, the version and
 * every transaction's state. A report about the same state gets the same id;
 * any status change yields a new one, as banks expect a new MsgId per message.
 */
export function pain002MessageId(data: Iso20022Invoice, version: Pain002Version = "10"): string {
  const state = data.transactions
    .map((tx) => [tx.id, tx.iso20022Status, tx.iso20022Reason ?? "", tx.updatedAt].join("\u0001"))
    .sort();
  const digest = sha256Hex(JSON.stringify([data.invoice.id, version, state]));
  return `PS${digest.slice(0, 33)}`;
}

/** TxInfAndSts/StsId: the payment transaction's own key. */
export function statusId(transactionId: string): string {
  return compactKey(transactionId);
}
