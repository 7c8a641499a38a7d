/**
 * pain.001 CustomerCreditTransferInitiation: the invoice as the credit transfer
 * the customer (debtor) would send to the tenant (creditor), one transaction
 * per installment, grouped into one PmtInf per distinct due date (each with
 * its own ReqdExctnDt, NbOfTxs and CtrlSum; GrpHdr totals over all of them),
 * in pain.001.001.09 (default) or the legacy pain.001.001.03.
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
import { renderDocument, withAttributes, type XmlElement } from "./xml.ts";

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
  const creditorName = tenantName(data);

  const transaction = (installment: Installment & { minor: bigint }): XmlElement => {
    const endToEndId = installmentEndToEndId(data, installment.number);
    return {
      PmtId: { InstrId: endToEndId, EndToEndId: endToEndId },
      Amt: {
        InstdAmt: withAttributes(decimalAmount(installment.minor, checked.exponent, "amount"), {
          Ccy: currency,
        }),
      },
      CdtrAgt: agent(data.tenant.bankBic, legacy),
      Cdtr: party(creditorName),
      CdtrAcct: account(data.tenant.accountIban, data.tenant.accountNumber),
      RmtInf: { Ustrd: remittanceText(data, installment) },
    };
  };

  // One PmtInf per distinct due date: ReqdExctnDt is a PmtInf's, not a transaction's.
  const paymentInformation = checked.groups.map((group): XmlElement => {
    const executionDate = isoDate(group.dueDate, "execution date");
    return {
      PmtInfId: paymentInformationId(data, group.number),
      PmtMtd: "TRF",
      NbOfTxs: String(group.installments.length),
      CtrlSum: decimalAmount(group.sum, checked.exponent, "control sum"),
      ReqdExctnDt: legacy ? executionDate : { Dt: executionDate },
      Dbtr: party(data.invoice.customerName),
      // The customer's bank details are never known to PayTrust (gateways hide them).
      DbtrAcct: { Id: { Othr: { Id: PLACEHOLDER } } },
      DbtrAgt: { FinInstnId: { Othr: { Id: PLACEHOLDER } } },
      CdtTrfTxInf: group.installments.map(transaction),
    };
  });

  return renderDocument(PAIN001_NAMESPACES[version], "CstmrCdtTrfInitn", {
    GrpHdr: {
      MsgId: messageId,
      CreDtTm: createdAt,
      // Totals over every PmtInf.
      NbOfTxs: String(checked.installments.length),
      CtrlSum: decimalAmount(checked.sum, checked.exponent, "control sum"),
      InitgPty: party(creditorName),
    },
    PmtInf: paymentInformation,
  });
}
