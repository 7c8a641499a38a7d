/**
 * pain.001 CustomerCreditTransferInitiation: the invoice as the credit transfer
 * the customer (debtor) would send to the tenant (creditor), one transaction
 * per installment, in pain.001.001.09 (default) or the legacy pain.001.001.03.
 */
import {
  account,
  agent,
  checkInvoice,
  decimalAmount,
  explicitMessageId,
  isoDate,
  isoDateTime,
  party,
  tenantName,
} from "./common.ts";
import { installmentEndToEndId, pain001MessageId, paymentInformationId } from "./ids.ts";
import { boundedText, cleanText, MAX35, MAX140, PLACEHOLDER } from "./text.ts";
import type { Iso20022Invoice, Pain001Options, Pain001Version } from "./types.ts";
import { el, leaf, renderDocument, type XmlElement } from "./xml.ts";

export const PAIN001_NAMESPACES: Readonly<Record<Pain001Version, string>> = {
  "09": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09",
  "03": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
};

/** OrgnlMsgNmId a pain.002 uses to name this message. */
export function pain001MessageName(version: Pain001Version): string {
  return `pain.001.001.${version}`;
}

type Installment = Iso20022Invoice["installments"][number];

/**
 * RmtInf/Ustrd: what the creditor sees on its statement. Invoice reference
 * first (that is what reconciliation matches on), then which installment and
 * when due, then the description; cut to Max140Text.
 */
export function remittanceText(data: Iso20022Invoice, installment: Installment): string {
  const count = data.installments.length;
  const reference = boundedText(data.invoice.reference, MAX35, data.invoice.id);
  const part = count > 1 ? ` installment ${installment.number}/${count}` : "";
  const description = cleanText(data.invoice.description);
  const text = `Invoice ${reference}${part} due ${installment.dueDate}${description ? ` ${description}` : ""}`;
  return boundedText(text, MAX140);
}

/** ReqdExctnDt: one date per PmtInf, so the earliest installment due date (when paying starts). */
function requestedExecutionDate(installments: readonly Installment[]): string {
  // ISO dates sort as strings.
  return installments.map((i) => i.dueDate).toSorted()[0]!;
}

export function renderPain001(data: Iso20022Invoice, options: Pain001Options = {}): string {
  const version = options.version ?? "09";
  if (version !== "09" && version !== "03") {
    throw new RangeError(`Unknown pain.001 version ${version}`);
  }
  const legacy = version === "03";
  const checked = checkInvoice(data);
  const { currency } = data.invoice;
  const messageId =
    options.messageId === undefined
      ? pain001MessageId(data)
      : explicitMessageId(options.messageId, "messageId");
  const createdAt = isoDateTime(options.createdAt ?? data.invoice.createdAt, "createdAt");
  const count = String(checked.installments.length);
  const controlSum = decimalAmount(checked.sum, checked.exponent, "control sum");
  const executionDate = isoDate(requestedExecutionDate(checked.installments), "execution date");
  const creditorName = tenantName(data);

  const transactions: XmlElement[] = checked.installments.map((installment) => {
    const endToEndId = installmentEndToEndId(data, installment.number);
    return el(
      "CdtTrfTxInf",
      el("PmtId", leaf("InstrId", endToEndId), leaf("EndToEndId", endToEndId)),
      el(
        "Amt",
        leaf("InstdAmt", decimalAmount(installment.minor, checked.exponent, "amount"), {
          Ccy: currency,
        }),
      ),
      agent("CdtrAgt", data.tenant.bankBic, legacy),
      party("Cdtr", creditorName),
      account("CdtrAcct", data.tenant.accountIban, data.tenant.accountNumber),
      el("RmtInf", leaf("Ustrd", remittanceText(data, installment))),
    );
  });

  const body = el(
    "CstmrCdtTrfInitn",
    el(
      "GrpHdr",
      leaf("MsgId", messageId),
      leaf("CreDtTm", createdAt),
      leaf("NbOfTxs", count),
      leaf("CtrlSum", controlSum),
      party("InitgPty", creditorName),
    ),
    el(
      "PmtInf",
      leaf("PmtInfId", paymentInformationId(data)),
      leaf("PmtMtd", "TRF"),
      leaf("NbOfTxs", count),
      leaf("CtrlSum", controlSum),
      legacy ? leaf("ReqdExctnDt", executionDate) : el("ReqdExctnDt", leaf("Dt", executionDate)),
      party("Dbtr", data.invoice.customerName),
      // The customer's bank details are never known to PayTrust (gateways hide them).
      el("DbtrAcct", el("Id", el("Othr", leaf("Id", PLACEHOLDER)))),
      el("DbtrAgt", el("FinInstnId", el("Othr", leaf("Id", PLACEHOLDER)))),
      ...transactions,
    ),
  );
  return renderDocument(PAIN001_NAMESPACES[version], body);
}
