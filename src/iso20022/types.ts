/**
 * Input and option shapes for the ISO 20022 renderers. The input is produced as
 * JSON by a SQL function, so the field names are that JSON's (camelCase) and
 * every amount is a string of integer minor units (BIGINT does not fit a JS
 * number; strings keep it exact).
 */
import type { Currency } from "../money.ts";

/** pain.002 TxSts values PayTrust emits (mapped from gateway statuses in SQL). */
export type Iso20022TxStatus = "PDNG" | "ACSP" | "ACSC" | "RJCT";

export interface Iso20022Invoice {
  invoice: {
    id: string;
    /** Stable short invoice reference, e.g. first 8 of the uuid or a number. */
    reference: string;
    currency: Currency;
    exponent: number;
    /** Integer minor units. */
    total: string;
    /** ISO timestamp. */
    createdAt: string;
    /** YYYY-MM-DD. */
    dueDate: string | null;
    description: string | null;
    customerName: string;
    customerEmail: string;
    externalRef: string | null;
  };
  tenant: {
    id: string;
    name: string;
    legalName: string | null;
    accountIban: string | null;
    accountNumber: string | null;
    bankBic: string | null;
  };
  installments: Array<{
    id: string;
    number: number;
    /** YYYY-MM-DD. */
    dueDate: string;
    /** Integer minor units. */
    total: string;
    status: string;
  }>;
  transactions: Array<{
    id: string;
    installmentNumber: number;
    /** Gateway-level status (pending, paid, settled, failed, expired, cancelled, …). */
    status: string;
    /** Integer minor units. */
    amount: string;
    gatewayReference: string | null;
    iso20022Status: Iso20022TxStatus;
    /** e.g. DS24, MS02, CUST, AM04, NARR; only rendered when iso20022Status is RJCT. */
    iso20022Reason: string | null;
    /** ISO timestamp. */
    updatedAt: string;
  }>;
}

export type Pain001Version = "09" | "03";
export type Pain002Version = "10" | "03";

export interface Pain001Options {
  /** "09" (default) renders pain.001.001.09; "03" the legacy pain.001.001.03. */
  version?: Pain001Version;
  /** Overrides the deterministic MsgId (1-35 characters, else a RangeError). */
  messageId?: string;
  /** Overrides CreDtTm; defaults to the invoice's createdAt so output is reproducible. */
  createdAt?: string | Date;
}

export interface Pain002Options {
  /** "10" (default) renders pain.002.001.10; "03" the legacy pain.002.001.03. */
  version?: Pain002Version;
  /** Overrides the deterministic MsgId (1-35 characters, else a RangeError). */
  messageId?: string;
  /** Overrides CreDtTm; defaults to the latest transaction update (or invoice creation). */
  createdAt?: string | Date;
  /** MsgId of the pain.001 being reported on; defaults to pain001MessageId(data). */
  originalMessageId?: string;
  /** Version of that pain.001; defaults to "09" for pain.002 v10 and "03" for v03. */
  originalVersion?: Pain001Version;
}
