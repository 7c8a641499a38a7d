/**
 * What the sandbox says, in each gateway's own shapes: Xendit invoice objects
 * and invoice callbacks, Midtrans status responses and notifications. Amounts go
 * out as exact decimal JSON (see ../json.ts), the way the real gateways write them.
 */
import { randomUUID } from "node:crypto";
import { CURRENCY_EXPONENTS, minorToDecimal } from "../../money.ts";
import { jsonNumber } from "../json.ts";
import { midtransSignature } from "../signatures.ts";
import type { SandboxPayment } from "./state.ts";

export const SANDBOX_MERCHANT = "PayTrust Sandbox";
const SANDBOX_USER_ID = "5f0000000000000000000001";

/** A webhook ready to send: the body is final JSON text, signed where the gateway signs. */
export interface SandboxWebhook {
  url: string;
  headers: Record<string, string>;
  body: string;
}

function major(payment: SandboxPayment, minor: string): unknown {
  return jsonNumber(minorToDecimal(minor, CURRENCY_EXPONENTS[payment.currency]));
}

function isPaid(payment: SandboxPayment): boolean {
  return payment.paidAt !== null && payment.paidMinor !== null;
}

/** Fields Xendit adds once an invoice is paid (same in GET and in the callback). */
function xenditPaidFields(payment: SandboxPayment): Record<string, unknown> {
  if (!isPaid(payment)) return {};
  const paid = major(payment, payment.paidMinor!);
  return {
    paid_amount: paid,
    adjusted_received_amount: paid,
    fees_paid_amount: 0,
    paid_at: payment.paidAt,
    payment_method: "BANK_TRANSFER",
    payment_channel: "BCA",
    bank_code: "BCA",
    payment_destination: "8808999912345678",
    payment_id: `pay-${payment.id}`,
  };
}

function expiryDate(payment: SandboxPayment): string {
  return new Date(Date.parse(payment.createdAt) + payment.expirySeconds * 1000).toISOString();
}

/** The invoice object of POST/GET /v2/invoices. */
export function xenditInvoice(
  payment: SandboxPayment,
  checkoutUrl: string,
): Record<string, unknown> {
  const invoice: Record<string, unknown> = {
    id: payment.id,
    external_id: payment.externalId,
    user_id: SANDBOX_USER_ID,
    status: payment.status,
    merchant_name: SANDBOX_MERCHANT,
    amount: major(payment, payment.amountMinor),
    description: payment.description,
    expiry_date: expiryDate(payment),
    invoice_url: checkoutUrl,
    currency: payment.currency,
    items: payment.items.map((i) => ({
      name: i.name,
      quantity: i.quantity,
      price: major(payment, i.priceMinor),
    })),
    should_send_email: false,
    created: payment.createdAt,
    updated: payment.updatedAt,
    ...xenditPaidFields(payment),
  };
  if (payment.customer.email) invoice.payer_email = payment.customer.email;
  if (payment.customer.name || payment.customer.email) {
    invoice.customer = { given_names: payment.customer.name, email: payment.customer.email };
  }
  if (payment.redirectUrl) invoice.success_redirect_url = payment.redirectUrl;
  return invoice;
}

/** The invoice callback body Xendit POSTs on PAID / EXPIRED (and, in the sandbox, SETTLED). */
export function xenditCallbackBody(payment: SandboxPayment): string {
  const body: Record<string, unknown> = {
    id: payment.id,
    external_id: payment.externalId,
    user_id: SANDBOX_USER_ID,
    is_high: false,
    status: payment.status,
    merchant_name: SANDBOX_MERCHANT,
    amount: major(payment, payment.amountMinor),
    description: payment.description,
    currency: payment.currency,
    created: payment.createdAt,
    updated: payment.updatedAt,
    ...xenditPaidFields(payment),
  };
  if (payment.customer.email) body.payer_email = payment.customer.email;
  return JSON.stringify(body);
}

/** Midtrans writes gross_amount as a string with two decimals, also for IDR: "145000.00". */
export function midtransGrossAmount(minor: string): string {
  return `${minorToDecimal(minor, 0)}.00`;
}

/** Midtrans status_code per transaction_status. */
const MIDTRANS_STATUS_CODE: Record<string, string> = {
  pending: "201",
  settlement: "200",
  capture: "200",
  deny: "202",
  cancel: "200",
  expire: "407",
};

/** Midtrans times are "YYYY-MM-DD HH:mm:ss" in Jakarta time (UTC+7). */
export function midtransTime(iso: string): string {
  return new Date(Date.parse(iso) + 7 * 3600_000).toISOString().slice(0, 19).replace("T", " ");
}

/** The fields shared by the status API and the notification, signed with the server key. */
function midtransTransaction(payment: SandboxPayment, serverKey: string): Record<string, unknown> {
  const statusCode = MIDTRANS_STATUS_CODE[payment.status] ?? "200";
  const grossAmount = midtransGrossAmount(payment.paidMinor ?? payment.amountMinor);
  const transaction: Record<string, unknown> = {
    transaction_time: midtransTime(payment.createdAt),
    transaction_status: payment.status,
    transaction_id: payment.id,
    status_code: statusCode,
    signature_key: midtransSignature(payment.externalId, statusCode, grossAmount, serverKey),
    payment_type: "bank_transfer",
    va_numbers: [{ bank: "bca", va_number: "12345678901" }],
    order_id: payment.externalId,
    merchant_id: "G000000000",
    gross_amount: grossAmount,
    fraud_status: "accept",
    currency: "IDR",
    expiry_time: midtransTime(
      new Date(Date.parse(payment.createdAt) + payment.expirySeconds * 1000).toISOString(),
    ),
  };
  if (payment.paidAt) transaction.settlement_time = midtransTime(payment.paidAt);
  return transaction;
}

/** GET /v2/:orderId/status, plus the sandbox extensions snap_token and snap_redirect_url. */
export function midtransStatus(
  payment: SandboxPayment,
  serverKey: string,
  checkoutUrl: string,
): Record<string, unknown> {
  return {
    status_message: "Success, transaction is found",
    ...midtransTransaction(payment, serverKey),
    snap_token: payment.token,
    snap_redirect_url: checkoutUrl,
  };
}

/** The HTTP notification body Midtrans POSTs on every status change. */
export function midtransNotificationBody(payment: SandboxPayment, serverKey: string): string {
  return JSON.stringify({
    status_message: "midtrans payment notification",
    ...midtransTransaction(payment, serverKey),
  });
}

/** The signed webhook for a payment's current state. `eventId` is kept across duplicates and retries. */
export function webhookFor(
  payment: SandboxPayment,
  options: {
    webhookBaseUrl: string;
    xenditCallbackToken: string;
    midtransServerKey: string;
    eventId?: string;
  },
): SandboxWebhook {
  if (payment.gateway === "xendit") {
    return {
      url: payment.callbackUrl ?? `${options.webhookBaseUrl}/webhooks/xendit`,
      headers: {
        "content-type": "application/json",
        "x-callback-token": options.xenditCallbackToken,
        "webhook-id": options.eventId ?? randomUUID(),
      },
      body: xenditCallbackBody(payment),
    };
  }
  return {
    url: `${options.webhookBaseUrl}/webhooks/midtrans`,
    headers: { "content-type": "application/json" },
    body: midtransNotificationBody(payment, options.midtransServerKey),
  };
}
