/**
 * The sandbox's in-memory payments and the validation of create requests,
 * mirroring what the real gateways accept and refuse. Pure functions over plain
 * data: the router (../sandbox.ts) owns the store and the HTTP side.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { CURRENCY_EXPONENTS, type Currency, decimalToMinor, isCurrency } from "../../money.ts";
import { numberSource } from "../json.ts";
import type { GatewayName } from "../types.ts";

export type SandboxAction = "pay" | "fail" | "expire";

/** Gateway-native statuses: Xendit PENDING/PAID/SETTLED/EXPIRED, Midtrans pending/settlement/deny/expire. */
export interface SandboxPayment {
  gateway: GatewayName;
  /** Xendit invoice id; Midtrans transaction_id. */
  id: string;
  /** Xendit external_id; Midtrans order_id. */
  externalId: string;
  /** Midtrans Snap token (the checkout page key); null for Xendit. */
  token: string | null;
  currency: Currency;
  amountMinor: string;
  /** What the customer paid (differs from amountMinor in overpayment tests). */
  paidMinor: string | null;
  description: string;
  customer: { name: string | null; email: string | null };
  items: { name: string; quantity: number; priceMinor: string }[];
  status: string;
  redirectUrl: string | null;
  /** Xendit only: the x-sandbox-callback-url the invoice was created with. */
  callbackUrl: string | null;
  expirySeconds: number;
  createdAt: string;
  updatedAt: string;
  paidAt: string | null;
  /**
   * Midtrans: the customer chose a payment method on the checkout page. Until
   * then the status API answers 404 "Transaction doesn't exist", as Midtrans does.
   */
  methodChosen?: boolean;
}

/** A refusal in the gateway's own error format. */
export interface ApiError {
  status: number;
  body: Record<string, unknown>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ApiError };

const DEFAULT_EXPIRY_SECONDS = 86_400;

export const PENDING_STATUS: Record<GatewayName, string> = {
  xendit: "PENDING",
  midtrans: "pending",
};

/** What each checkout button does to a pending payment. Xendit invoices have no failed state: fail expires them. */
export const ACTION_STATUS: Record<GatewayName, Record<SandboxAction, string>> = {
  xendit: { pay: "PAID", fail: "EXPIRED", expire: "EXPIRED" },
  midtrans: { pay: "settlement", fail: "deny", expire: "expire" },
};

export function xenditError(status: number, code: string, message: string): ApiError {
  return { status, body: { error_code: code, message } };
}

export function midtransSnapError(status: number, ...messages: string[]): ApiError {
  return { status, body: { error_messages: messages } };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : undefined;
}

/** A positive whole JSON number (quantity, durations); null otherwise. */
function wholeNumber(value: unknown): number | null {
  const source = numberSource(value);
  if (source === null || !/^[1-9]\d{0,8}$/.test(source)) return null;
  return Number(source);
}

/** A JSON number as minor units, exact; null when not a number or too precise for the exponent. */
function minorOf(value: unknown, exponent: number): bigint | null {
  const source = numberSource(value);
  if (source === null) return null;
  try {
    return decimalToMinor(source, exponent);
  } catch {
    return null;
  }
}

export function newXenditId(): string {
  // Xendit invoice ids are 24 hex characters.
  return randomBytes(12).toString("hex");
}

/** POST /v2/invoices body → a payment, or Xendit's 400. */
export function parseXenditCreate(body: unknown, now: Date): Parsed<SandboxPayment> {
  const invalid = (message: string): Parsed<SandboxPayment> => ({
    ok: false,
    error: xenditError(400, "API_VALIDATION_ERROR", message),
  });
  if (!isObject(body)) return invalid("request body must be a JSON object");
  if (
    typeof body.external_id !== "string" ||
    body.external_id.trim() === "" ||
    body.external_id.length > 255
  ) {
    return invalid('"external_id" is required and must be a string of 1 to 255 characters');
  }
  const currency = body.currency ?? "IDR";
  if (!isCurrency(currency)) {
    return {
      ok: false,
      error: xenditError(
        400,
        "UNSUPPORTED_CURRENCY",
        `Currency ${String(currency)} is not supported`,
      ),
    };
  }
  const exponent = CURRENCY_EXPONENTS[currency];
  const amount = minorOf(body.amount, exponent);
  if (amount === null || amount <= 0n) {
    return invalid(
      `"amount" must be a positive number with at most ${exponent} decimals for ${currency}`,
    );
  }
  const description = optionalString(body.description);
  const email = optionalString(body.payer_email);
  const redirectUrl = optionalString(body.success_redirect_url);
  if (description === undefined || email === undefined || redirectUrl === undefined) {
    return invalid('"description", "payer_email" and "success_redirect_url" must be strings');
  }
  const customer = isObject(body.customer) ? body.customer : {};
  const items: SandboxPayment["items"] = [];
  if (body.items !== undefined) {
    if (!Array.isArray(body.items)) return invalid('"items" must be an array');
    for (const item of body.items) {
      const quantity = isObject(item) ? wholeNumber(item.quantity) : null;
      const price = isObject(item) ? minorOf(item.price, exponent) : null;
      if (
        !isObject(item) ||
        typeof item.name !== "string" ||
        quantity === null ||
        price === null ||
        price < 0n
      ) {
        return invalid(
          '"items" need a string "name", a positive whole "quantity" and a non-negative "price"',
        );
      }
      items.push({ name: item.name, quantity, priceMinor: price.toString() });
    }
  }
  let expirySeconds = DEFAULT_EXPIRY_SECONDS;
  if (body.invoice_duration !== undefined) {
    const duration = wholeNumber(body.invoice_duration);
    if (duration === null)
      return invalid('"invoice_duration" must be a positive whole number of seconds');
    expirySeconds = duration;
  }
  const at = now.toISOString();
  return {
    ok: true,
    value: {
      gateway: "xendit",
      id: newXenditId(),
      externalId: body.external_id,
      token: null,
      currency,
      amountMinor: amount.toString(),
      paidMinor: null,
      description: description ?? "",
      customer: {
        name: typeof customer.given_names === "string" ? customer.given_names : null,
        email: email ?? (typeof customer.email === "string" ? customer.email : null),
      },
      items,
      status: PENDING_STATUS.xendit,
      redirectUrl,
      callbackUrl: null,
      expirySeconds,
      createdAt: at,
      updatedAt: at,
      paidAt: null,
    },
  };
}

/** Midtrans order ids: up to 50 of letters, digits, "-", "_", "~" and ".". */
const ORDER_ID = /^[A-Za-z0-9\-_.~]{1,50}$/;

/** POST /snap/v1/transactions body → a payment, or Snap's 400. */
export function parseMidtransCreate(body: unknown, now: Date): Parsed<SandboxPayment> {
  const invalid = (...messages: string[]): Parsed<SandboxPayment> => ({
    ok: false,
    error: midtransSnapError(400, ...messages),
  });
  if (!isObject(body) || !isObject(body.transaction_details))
    return invalid("transaction_details is required");
  const details = body.transaction_details;
  if (typeof details.order_id !== "string" || !ORDER_ID.test(details.order_id)) {
    return invalid(
      "transaction_details.order_id is required, at most 50 characters of [A-Za-z0-9-_.~]",
    );
  }
  if (details.currency !== undefined && details.currency !== "IDR") {
    return invalid("transaction_details.currency only IDR is supported");
  }
  const gross = minorOf(details.gross_amount, 0);
  if (gross === null || gross <= 0n)
    return invalid("transaction_details.gross_amount must be a positive integer");

  const items: SandboxPayment["items"] = [];
  if (body.item_details !== undefined) {
    if (!Array.isArray(body.item_details)) return invalid("item_details must be an array");
    for (const item of body.item_details) {
      const quantity = isObject(item) ? wholeNumber(item.quantity) : null;
      // Negative prices are allowed: Midtrans takes discounts as items.
      const price = isObject(item) ? minorOf(item.price, 0) : null;
      if (!isObject(item) || typeof item.name !== "string" || quantity === null || price === null) {
        return invalid(
          "item_details need a string name, an integer price and a positive integer quantity",
        );
      }
      if (item.name.length > 50) return invalid("item_details.name must be at most 50 characters");
      items.push({ name: item.name, quantity, priceMinor: price.toString() });
    }
    const sum = items.reduce((acc, i) => acc + BigInt(i.quantity) * BigInt(i.priceMinor), 0n);
    if (sum !== gross)
      return invalid("transaction_details.gross_amount is not equal to the sum of item_details");
  }
  const customer = isObject(body.customer_details) ? body.customer_details : {};
  const callbacks = isObject(body.callbacks) ? body.callbacks : {};
  let expirySeconds = DEFAULT_EXPIRY_SECONDS;
  if (isObject(body.expiry)) {
    const duration = wholeNumber(body.expiry.duration);
    const unit = { second: 1, minute: 60, hour: 3600, day: 86_400 }[
      String(body.expiry.unit).replace(/s$/, "")
    ];
    if (duration === null || unit === undefined)
      return invalid("expiry needs a positive duration and a valid unit");
    expirySeconds = duration * unit;
    if (body.expiry.start_time !== undefined) {
      // The lifetime counts from start_time: what is left of it from now.
      const start = parseMidtransStartTime(body.expiry.start_time);
      if (start === null) return invalid("expiry.start_time must be yyyy-MM-dd HH:mm:ss Z");
      expirySeconds = Math.max(
        0,
        Math.floor((start + duration * unit * 1000 - now.getTime()) / 1000),
      );
    }
  }
  const at = now.toISOString();
  return {
    ok: true,
    value: {
      gateway: "midtrans",
      id: randomUUID(),
      externalId: details.order_id,
      token: randomUUID(),
      currency: "IDR",
      amountMinor: gross.toString(),
      paidMinor: null,
      description: items.map((i) => i.name).join(", ") || `Order ${details.order_id}`,
      customer: {
        name: typeof customer.first_name === "string" ? customer.first_name : null,
        email: typeof customer.email === "string" ? customer.email : null,
      },
      items,
      status: PENDING_STATUS.midtrans,
      redirectUrl: typeof callbacks.finish === "string" ? callbacks.finish : null,
      callbackUrl: null,
      expirySeconds,
      createdAt: at,
      updatedAt: at,
      paidAt: null,
    },
  };
}

/** The payment after a checkout action; amountMinor overrides what was paid (overpayment tests). */
export function applyAction(
  payment: SandboxPayment,
  action: SandboxAction,
  now: Date,
  paidMinor?: string,
): SandboxPayment {
  const status = ACTION_STATUS[payment.gateway][action];
  const paid = action === "pay";
  return {
    ...payment,
    methodChosen: true,
    status,
    paidMinor: paid ? (paidMinor ?? payment.amountMinor) : payment.paidMinor,
    paidAt: paid ? now.toISOString() : payment.paidAt,
    updatedAt: now.toISOString(),
  };
}

/** A pending payment whose checkout lifetime has passed, as the gateway then shows it: expired. */
export function expireIfOverdue(payment: SandboxPayment, now: Date): SandboxPayment {
  if (payment.status !== PENDING_STATUS[payment.gateway]) return payment;
  const expiresAt = Date.parse(payment.createdAt) + payment.expirySeconds * 1000;
  if (now.getTime() < expiresAt) return payment;
  return {
    ...payment,
    status: ACTION_STATUS[payment.gateway].expire,
    updatedAt: new Date(expiresAt).toISOString(),
  };
}

/** Midtrans expiry.start_time "yyyy-MM-dd HH:mm:ss Z" (Z: +0700), as epoch ms; null when malformed. */
export function parseMidtransStartTime(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-])(\d{2})(\d{2})$/.exec(value);
  if (!m) return null;
  const utc = Date.parse(`${m[1]}T${m[2]}Z`);
  if (!Number.isFinite(utc)) return null;
  const offset = (Number(m[4]) * 60 + Number(m[5])) * 60_000 * (m[3] === "+" ? 1 : -1);
  return utc - offset;
}
