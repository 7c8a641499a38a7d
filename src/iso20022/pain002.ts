/**
 * pain.002 CustomerPaymentStatusReport: the status of each payment attempt of
 * the invoice, reported against the invoice's pain.001 (same MsgId, PmtInfId
 * and EndToEndIds), in pain.002.001.10 (default) or the legacy pain.002.001.03.
 */
import {
  checkInvoice,
  decimalAmount,
  explicitMessageId,
  invalidInput,
  isoDateTime,
  party,
  tenantName,
  timestampMs,
} from "./common.ts";
import {
  installmentEndToEndId,
  pain001MessageId,
  pain002MessageId,
  paymentInformationId,
  statusId,
} from "./ids.ts";
import { pain001MessageName } from "./pain001.ts";
import { statusReason } from "./reasons.ts";
import { cleanText, codePointLength, MAX35 } from "./text.ts";
import type { Iso20022Invoice, Iso20022TxStatus, Pain002Options, Pain002Version } from "./types.ts";
import { el, leaf, renderDocument, type XmlElement } from "./xml.ts";

export const PAIN002_NAMESPACES: Readonly<Record<Pain002Version, string>> = {
  "10": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10",
  "03": "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03",
};

// All four are in both pain.002.001.10's external list and pain.002.001.03's enumeration.
const TX_STATUSES: ReadonlySet<string> = new Set<Iso20022TxStatus>([
  "PDNG",
  "ACSP",
  "ACSC",
  "RJCT",
]);

type Transaction = Iso20022Invoice["transactions"][number];

/**
 * AcctSvcrRef: the gateway's reference when it fits Max35Text. A uuid (e.g. a
 * Midtrans transaction_id, 36 chars) loses its hyphens, which is lossless;
 * anything else too long is left out rather than cut into a wrong reference.
 */
export function gatewayReferenceText(reference: string | null): string | undefined {
  const text = cleanText(reference);
  if (text === "") return undefined;
  if (codePointLength(text) <= MAX35) return text;
  const compact = text.replaceAll("-", "");
  return /^[0-9a-f]{32}$/i.test(compact) ? compact : undefined;
}

/** Latest event the report reflects, so the default CreDtTm is reproducible. */
function defaultCreatedAt(data: Iso20022Invoice): string {
  let latest = data.invoice.createdAt;
  let latestMs = timestampMs(latest, "invoice createdAt");
  for (const tx of data.transactions) {
    const ms = timestampMs(tx.updatedAt, `transaction ${tx.id} updatedAt`);
    if (ms > latestMs) [latest, latestMs] = [tx.updatedAt, ms];
  }
  return latest;
}

function sortedTransactions(data: Iso20022Invoice): Transaction[] {
  return [...data.transactions].sort(
    (a, b) =>
      a.installmentNumber - b.installmentNumber ||
      timestampMs(a.updatedAt, "updatedAt") - timestampMs(b.updatedAt, "updatedAt") ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

function transactionStatus(data: Iso20022Invoice, tx: Transaction, numbers: Set<number>) {
  if (!TX_STATUSES.has(tx.iso20022Status)) {
    invalidInput(`transaction ${tx.id} has unknown iso20022Status ${String(tx.iso20022Status)}`);
  }
  if (!numbers.has(tx.installmentNumber)) {
    invalidInput(`transaction ${tx.id} refers to missing installment ${tx.installmentNumber}`);
  }
  const endToEndId = installmentEndToEndId(data, tx.installmentNumber);
  const reference = gatewayReferenceText(tx.gatewayReference);
  return el(
    "TxInfAndSts",
    leaf("StsId", statusId(tx.id)),
    leaf("OrgnlInstrId", endToEndId),
    leaf("OrgnlEndToEndId", endToEndId),
    leaf("TxSts", tx.iso20022Status),
    statusReason(tx),
    reference && leaf("AcctSvcrRef", reference),
  );
}

export function renderPain002(data: Iso20022Invoice, options: Pain002Options = {}): string {
  const version = options.version ?? "10";
  if (version !== "10" && version !== "03") {
    throw new RangeError(`Unknown pain.002 version ${version}`);
  }
  const originalVersion = options.originalVersion ?? (version === "10" ? "09" : "03");
  const checked = checkInvoice(data);
  const messageId =
    options.messageId === undefined
      ? pain002MessageId(data, version)
      : explicitMessageId(options.messageId, "messageId");
  const originalMessageId =
    options.originalMessageId === undefined
      ? pain001MessageId(data)
      : explicitMessageId(options.originalMessageId, "originalMessageId");
  const createdAt = isoDateTime(options.createdAt ?? defaultCreatedAt(data), "createdAt");
  const count = String(checked.installments.length);
  const controlSum = decimalAmount(checked.sum, checked.exponent, "control sum");
  const numbers = new Set(checked.installments.map((i) => i.number));
  const statuses: XmlElement[] = sortedTransactions(data).map((tx) =>
    transactionStatus(data, tx, numbers),
  );
  // No payment attempted yet: the schema needs no TxInfAndSts, but a report
  // should still say something, so the group and the instruction are pending.
  const pending = statuses.length === 0;

  const body = el(
    "CstmrPmtStsRpt",
    el(
      "GrpHdr",
      leaf("MsgId", messageId),
      leaf("CreDtTm", createdAt),
      party("InitgPty", tenantName(data)),
    ),
    el(
      "OrgnlGrpInfAndSts",
      leaf("OrgnlMsgId", originalMessageId),
      leaf("OrgnlMsgNmId", pain001MessageName(originalVersion)),
      leaf("OrgnlNbOfTxs", count),
      leaf("OrgnlCtrlSum", controlSum),
      pending && leaf("GrpSts", "PDNG"),
    ),
    el(
      "OrgnlPmtInfAndSts",
      leaf("OrgnlPmtInfId", paymentInformationId(data)),
      leaf("OrgnlNbOfTxs", count),
      leaf("OrgnlCtrlSum", controlSum),
      pending && leaf("PmtInfSts", "PDNG"),
      ...statuses,
    ),
  );
  return renderDocument(PAIN002_NAMESPACES[version], body);
}
