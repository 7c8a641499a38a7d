/**
 * Pieces shared by pain.001 and pain.002: input checks, amounts, dates, and the
 * party / account / agent blocks with their documented placeholders.
 */
import { CURRENCY_EXPONENTS, isCurrency, minorToDecimal } from "../money.ts";
import { boundedText, cleanText, codePointLength, MAX35, MAX140, PLACEHOLDER } from "./text.ts";
import type { Iso20022Invoice } from "./types.ts";
import type { XmlElement } from "./xml.ts";

/** Error code on every input error thrown here, so an HTTP edge can answer 422 not 500. */
export const INVALID_INPUT = "ISO20022_INVALID_INPUT";

export function invalidInput(message: string): never {
  throw Object.assign(new RangeError(`ISO 20022: ${message}`), { code: INVALID_INPUT });
}

// ActiveOrHistoricCurrencyAndAmount and DecimalNumber both allow 18 digits in total.
const MAX_MINOR_EXCLUSIVE = 10n ** 18n;

/** Parses a minor-unit string; refuses negatives, decimals and anything over 18 digits. */
export function minorUnits(value: string, what: string): bigint {
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    invalidInput(`${what} must be a non-negative integer string of minor units, got ${value}`);
  }
  const minor = BigInt(value);
  if (minor >= MAX_MINOR_EXCLUSIVE) invalidInput(`${what} exceeds 18 digits: ${value}`);
  return minor;
}

/** Minor units → the decimal string XML carries ("12345", 2 → "123.45"). */
export function decimalAmount(minor: bigint, exponent: number, what: string): string {
  if (minor >= MAX_MINOR_EXCLUSIVE) invalidInput(`${what} exceeds 18 digits: ${minor}`);
  return minorToDecimal(minor, exponent);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A YYYY-MM-DD that is a real calendar day (xs:date rejects 2025-02-30). */
export function isoDate(value: string, what: string): string {
  const match = DATE.exec(value);
  if (match) {
    const [, y, m, d] = match.map(Number);
    const date = new Date(Date.UTC(y!, m! - 1, d!));
    if (date.getUTCFullYear() === y && date.getUTCMonth() === m! - 1 && date.getUTCDate() === d) {
      return value;
    }
  }
  return invalidInput(`${what} is not a YYYY-MM-DD date: ${value}`);
}

/** Any parseable timestamp → xs:dateTime in UTC to the second ("2025-01-02T03:04:05Z"). */
export function isoDateTime(value: string | Date, what: string): string {
  const date = value instanceof Date ? value : new Date(value);
  const text = Number.isNaN(date.getTime()) ? "" : date.toISOString();
  if (!/^\d{4}-/.test(text)) invalidInput(`${what} is not a timestamp: ${String(value)}`);
  return text.replace(/\.\d{3}Z$/, "Z");
}

/** Epoch milliseconds of a timestamp, for picking the latest one. */
export function timestampMs(value: string, what: string): number {
  const ms = new Date(value).getTime();
  if (Number.isNaN(ms)) invalidInput(`${what} is not a timestamp: ${value}`);
  return ms;
}

/** A caller-supplied MsgId: cleaned, and refused rather than cut (a cut id could collide). */
export function explicitMessageId(value: string, what: string): string {
  const id = cleanText(value);
  if (id === "" || codePointLength(id) > MAX35) invalidInput(`${what} must be 1-35 characters`);
  return id;
}

type CheckedInstallment = Iso20022Invoice["installments"][number] & { minor: bigint };

/** The installments due on one date: one PmtInf in pain.001, one OrgnlPmtInfAndSts in pain.002. */
export interface PaymentGroup {
  /** 1-based position in due-date order; part of PmtInfId. */
  readonly number: number;
  /** YYYY-MM-DD: the PmtInf's ReqdExctnDt. */
  readonly dueDate: string;
  /** Sorted by number. */
  readonly installments: readonly CheckedInstallment[];
  /** Σ of these installments: the PmtInf's CtrlSum. */
  readonly sum: bigint;
}

export interface CheckedInvoice {
  readonly exponent: number;
  /** Installments sorted by number, amounts parsed. */
  readonly installments: readonly CheckedInstallment[];
  /** Σ installment totals, which is what GrpHdr/CtrlSum must equal. */
  readonly sum: bigint;
  /** One group per distinct due date, earliest first. */
  readonly groups: readonly PaymentGroup[];
}

/**
 * Checks what the renderers rely on and fails loudly instead of emitting a
 * document a bank would reject (or worse, accept with wrong amounts). SQL
 * already guarantees all of it; this guards against a drifted JSON shape.
 */
export function checkInvoice(data: Iso20022Invoice): CheckedInvoice {
  const { currency, exponent } = data.invoice;
  if (!isCurrency(currency)) invalidInput(`unsupported currency ${String(currency)}`);
  if (exponent !== CURRENCY_EXPONENTS[currency]) {
    invalidInput(
      `exponent ${exponent} does not match ${currency} (${CURRENCY_EXPONENTS[currency]})`,
    );
  }
  if (data.installments.length === 0) invalidInput("the invoice has no installments");
  const seen = new Set<number>();
  const installments = [...data.installments]
    .sort((a, b) => a.number - b.number)
    .map((installment) => {
      const what = `installment ${installment.number}`;
      if (
        !Number.isInteger(installment.number) ||
        installment.number < 1 ||
        installment.number > 99
      ) {
        invalidInput(`${what}: number must be an integer in 1..99`);
      }
      if (seen.has(installment.number)) invalidInput(`${what} appears twice`);
      seen.add(installment.number);
      isoDate(installment.dueDate, `${what} dueDate`);
      return { ...installment, minor: minorUnits(installment.total, `${what} total`) };
    });
  const sum = installments.reduce((acc, installment) => acc + installment.minor, 0n);
  if (sum >= MAX_MINOR_EXCLUSIVE) invalidInput(`the installments' sum exceeds 18 digits: ${sum}`);
  return { exponent, installments, sum, groups: groupByDueDate(installments) };
}

/**
 * A PmtInf carries one ReqdExctnDt, so installments due on different dates
 * cannot share one (a bank would execute the whole plan on the first date).
 */
function groupByDueDate(installments: readonly CheckedInstallment[]): PaymentGroup[] {
  const byDate = new Map<string, CheckedInstallment[]>();
  for (const installment of installments) {
    const list = byDate.get(installment.dueDate);
    if (list) list.push(installment);
    else byDate.set(installment.dueDate, [installment]);
  }
  // ISO dates sort as strings.
  return [...byDate.keys()].toSorted().map((dueDate, index) => {
    const members = byDate.get(dueDate)!;
    return {
      number: index + 1,
      dueDate,
      installments: members,
      sum: members.reduce((acc, installment) => acc + installment.minor, 0n),
    };
  });
}

/** The tenant as a party: its legal name when known, else its display name. */
export function tenantName(data: Iso20022Invoice): string {
  return cleanText(data.tenant.legalName) || data.tenant.name;
}

/** PartyIdentification135 / 32 (Dbtr, Cdtr, InitgPty): a name, which both versions cap at 140. */
export function party(name: string | null): XmlElement {
  return { Nm: boundedText(name, MAX140) };
}

const IBAN = /^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}$/;

/** IBAN in electronic format (no spaces, upper case), or undefined if it does not fit the XSD. */
export function normalisedIban(value: string | null): string | undefined {
  const iban = cleanText(value).replace(/\s/g, "").toUpperCase();
  return IBAN.test(iban) ? iban : undefined;
}

/**
 * CashAccount38 / 16: IBAN when known, else the local account number (Othr/Id,
 * Max34Text), else the placeholder. An over-long account number is replaced,
 * never cut: a truncated account number would route money elsewhere.
 */
export function account(iban: string | null, accountNumber: string | null): XmlElement {
  const validIban = normalisedIban(iban);
  if (validIban) return { Id: { IBAN: validIban } };
  const number = cleanText(accountNumber);
  const id = number !== "" && codePointLength(number) <= 34 ? number : PLACEHOLDER;
  return { Id: { Othr: { Id: id } } };
}

// BICFIDec2014Identifier (v09) and BICIdentifier (v03) differ; each is checked as its schema does.
const BIC_2014 = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;
const BIC_LEGACY = /^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$/;

/**
 * BranchAndFinancialInstitutionIdentification6 / 4: the BIC when known and
 * valid for the version (element BICFI in 2019 messages, BIC in 2009 ones),
 * else FinInstnId/Othr/Id NOTPROVIDED (EPC convention for an unknown agent).
 */
export function agent(bic: string | null, legacy: boolean): XmlElement {
  const code = cleanText(bic).replace(/\s/g, "").toUpperCase();
  const valid = legacy ? BIC_LEGACY.test(code) : BIC_2014.test(code);
  const identification: XmlElement = valid
    ? { [legacy ? "BIC" : "BICFI"]: code }
    : { Othr: { Id: PLACEHOLDER } };
  return { FinInstnId: identification };
}
