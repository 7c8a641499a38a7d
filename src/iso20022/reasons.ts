/**
 * pain.002 status reasons. The base schemas type Rsn/Cd as any 1-4 character
 * string (ExternalStatusReason1Code lives in ISO's external code list, not in
 * the XSD), so a schema check cannot tell a real code from a typo: we only put
 * codes from that list in Cd and send anything else as Prtry (proprietary).
 */
import { cleanText, codePointLength, cutToCodePoints, MAX35, MAX105 } from "./text.ts";
import type { Iso20022Invoice } from "./types.ts";
import type { XmlElement } from "./xml.ts";

/** Subset of ISO's ExternalStatusReason1Code list that payment gateways can plausibly report. */
export const KNOWN_STATUS_REASON_CODES: ReadonlySet<string> = new Set([
  "AB05", // TimeoutCreditorAgent
  "AB06", // TimeoutInstructedAgent
  "AC01", // IncorrectAccountNumber
  "AC04", // ClosedAccountNumber
  "AC06", // BlockedAccount
  "AG01", // TransactionForbidden
  "AG02", // InvalidBankOperationCode
  "AM01", // ZeroAmount
  "AM02", // NotAllowedAmount
  "AM03", // NotAllowedCurrency
  "AM04", // InsufficientFunds
  "AM05", // Duplication
  "AM09", // WrongAmount
  "AM10", // InvalidControlSum
  "BE05", // UnrecognisedInitiatingParty
  "CUST", // RequestedByCustomer (customer cancelled)
  "DS24", // WaitingTimeExpired (invoice / checkout expired)
  "DT01", // InvalidDate
  "DUPL", // DuplicatePayment
  "FF01", // InvalidFileFormat
  "FR01", // Fraud
  "MS02", // NotSpecifiedReasonCustomerGenerated
  "MS03", // NotSpecifiedReasonAgentGenerated
  "NARR", // Narrative: the reason is in AddtlInf
  "RC01", // BankIdentifierIncorrect
  "RR04", // RegulatoryReason
  "TM01", // InvalidCutOffTime
]);

type Transaction = Iso20022Invoice["transactions"][number];

function narrative(tx: Transaction): string {
  return cutToCodePoints(`Gateway status: ${cleanText(tx.status) || "unknown"}`, MAX105);
}

/**
 * StsRsnInf for a rejected transaction (same shape in pain.002 v10 and v03):
 * - a known code → Rsn/Cd;
 * - NARR or no code at all → Rsn/Cd NARR with the gateway status as AddtlInf
 *   (NARR promises a narrative, so one is always given);
 * - any other text → Rsn/Prtry (cut to 35), the full text in AddtlInf when cut.
 * Non-rejected transactions carry no reason.
 */
export function statusReason(tx: Transaction): XmlElement | undefined {
  if (tx.iso20022Status !== "RJCT") return undefined;
  const reason = cleanText(tx.iso20022Reason);
  const code = reason.toUpperCase();
  if (reason === "" || code === "NARR") {
    return { Rsn: { Cd: "NARR" }, AddtlInf: narrative(tx) };
  }
  if (KNOWN_STATUS_REASON_CODES.has(code)) return { Rsn: { Cd: code } };
  const cut = codePointLength(reason) > MAX35;
  return {
    Rsn: { Prtry: cutToCodePoints(reason, MAX35) },
    AddtlInf: cut ? cutToCodePoints(reason, MAX105) : undefined,
  };
}
