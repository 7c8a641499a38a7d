/**
 * pain.002 CustomerPaymentStatusReport: the status of each payment attempt of
 * the invoice, reported against the invoice's pain.001 (same MsgId, PmtInfIds
 * and EndToEndIds; one OrgnlPmtInfAndSts per PmtInf), in pain.002.001.10
 * (default) or the legacy pain.002.001.03.
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
import { renderDocument, type XmlElement } from "./xml.ts";

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

function transactionStatus(data: Iso20022Invoice, tx: Transaction): XmlElement {
  if (!TX_STATUSES.has(tx.iso20022Status)) {
    invalidInput(`transaction ${tx.id} has unknown iso20022Status ${String(tx.iso20022Status)}`);
  }
  const endToEndId = installmentEndToEndId(data, tx.installmentNumber);
  return {
    StsId: statusId(tx.id),
    OrgnlInstrId: endToEndId,
    OrgnlEndToEndId: endToEndId,
    TxSts: tx.iso20022Status,
    StsRsnInf: statusReason(tx),
    AcctSvcrRef: gatewayReferenceText(tx.gatewayReference),
  };
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

  // Each transaction is reported under the PmtInf (due date) its installment sits in.
  const groupOf = new Map<number, number>();
  for (const group of checked.groups) {
    for (const installment of group.installments) groupOf.set(installment.number, group.number);
  }
  const statusesByGroup = new Map<number, XmlElement[]>();
  for (const tx of sortedTransactions(data)) {
    const group = groupOf.get(tx.installmentNumber);
    if (group === undefined) {
      invalidInput(`transaction ${tx.id} refers to missing installment ${tx.installmentNumber}`);
    }
    const status = transactionStatus(data, tx);
    const list = statusesByGroup.get(group);
    if (list) list.push(status);
    else statusesByGroup.set(group, [status]);
  }
  // No payment attempted yet: the schema needs no TxInfAndSts, but a report
  // should still say something, so the group is pending, and so is every
  // payment information block nothing was attempted for yet.
  const pending = statusesByGroup.size === 0;

  return renderDocument(PAIN002_NAMESPACES[version], "CstmrPmtStsRpt", {
    GrpHdr: { MsgId: messageId, CreDtTm: createdAt, InitgPty: party(tenantName(data)) },
    OrgnlGrpInfAndSts: {
      OrgnlMsgId: originalMessageId,
      OrgnlMsgNmId: pain001MessageName(originalVersion),
      OrgnlNbOfTxs: String(checked.installments.length),
      OrgnlCtrlSum: decimalAmount(checked.sum, checked.exponent, "control sum"),
      GrpSts: pending ? "PDNG" : undefined,
    },
    // One per PmtInf of the pain.001, in the same order.
    OrgnlPmtInfAndSts: checked.groups.map((group): XmlElement => {
      const statuses = statusesByGroup.get(group.number);
      return {
        OrgnlPmtInfId: paymentInformationId(data, group.number),
        OrgnlNbOfTxs: String(group.installments.length),
        OrgnlCtrlSum: decimalAmount(group.sum, checked.exponent, "control sum"),
        PmtInfSts: statuses ? undefined : "PDNG",
        TxInfAndSts: statuses,
      };
    }),
  });
}
