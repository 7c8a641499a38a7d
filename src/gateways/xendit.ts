/**
 * Xendit Invoices (v2). Idempotency rests on external_id, which is unique per
 * payment attempt: createPayment first asks Xendit for an invoice with that
 * external_id and reuses it, so a retry after a lost response or a timeout
 * never creates a second invoice (and never a second charge).
 */
import { minorToDecimal } from "../money.ts";
import { basicAuth, gatewayMessage, redact, requestJson } from "./http.ts";
import { jsonNumber } from "./json.ts";
import { assertValidRequest } from "./request.ts";
import {
  type CancelPaymentResult,
  type CreatePaymentRequest,
  type CreatePaymentResult,
  type GatewayAdapter,
  GatewayError,
  type GatewayStatusReport,
} from "./types.ts";

export interface XenditAdapterOptions {
  /** https://api.xendit.co, or the sandbox's …/sandbox/xendit. */
  baseUrl: string;
  secretKey: string;
  timeoutMs: number;
  /**
   * Real Xendit takes invoice callback URLs from the dashboard only; this is sent
   * as the `x-sandbox-callback-url` header, which the sandbox honours and Xendit ignores.
   */
  callbackUrl?: string;
}

/** Fields of an invoice that Xendit also puts in its invoice callback. */
const CALLBACK_FIELDS = [
  "id",
  "external_id",
  "user_id",
  "is_high",
  "status",
  "merchant_name",
  "amount",
  "paid_amount",
  "adjusted_received_amount",
  "fees_paid_amount",
  "payer_email",
  "description",
  "currency",
  "paid_at",
  "payment_method",
  "payment_channel",
  "payment_destination",
  "payment_id",
  "bank_code",
  "ewallet_type",
  "success_redirect_url",
  "failure_redirect_url",
  "items",
  "created",
  "updated",
] as const;

/** Xendit's statuses, most advanced last: the one to report when several invoices share an external_id. */
const STATUS_RANK: Record<string, number> = { PENDING: 1, EXPIRED: 2, PAID: 3, SETTLED: 4 };

type Invoice = Record<string, unknown>;

/** The create-invoice JSON, amounts written as exact decimals in major units (IDR whole). */
export function xenditInvoiceBody(request: CreatePaymentRequest): string {
  assertValidRequest("Xendit", request);
  const major = (minor: string) => jsonNumber(minorToDecimal(minor, request.exponent));
  const body: Record<string, unknown> = {
    external_id: request.externalId,
    amount: major(request.amountMinor),
    currency: request.currency,
    description: request.description,
    payer_email: request.customer.email,
    customer: { given_names: request.customer.name, email: request.customer.email },
    items: request.items.map((item) => ({
      name: item.name,
      quantity: item.quantity,
      price: major(item.priceMinor),
    })),
  };
  if (request.redirectUrl) body.success_redirect_url = request.redirectUrl;
  if (request.expirySeconds !== undefined) body.invoice_duration = request.expirySeconds;
  return JSON.stringify(body);
}

/** The x-idempotency-key of an attempt's create call: one attempt, one invoice. */
export function xenditIdempotencyKey(request: Pick<CreatePaymentRequest, "externalId">): string {
  return `paytrust-invoice-${request.externalId}`;
}

/** An invoice in the shape of Xendit's invoice callback, so reconciliation takes the webhook path. */
export function invoiceAsCallback(invoice: Invoice): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const field of CALLBACK_FIELDS)
    if (invoice[field] !== undefined) payload[field] = invoice[field];
  return payload;
}

/** Which of several invoices for one external_id to report: the given reference, else the furthest along. */
export function pickInvoice(invoices: Invoice[], gatewayReference: string | null): Invoice | null {
  if (invoices.length === 0) return null;
  const byReference = gatewayReference
    ? invoices.find((i) => i.id === gatewayReference)
    : undefined;
  if (byReference) return byReference;
  const rank = (i: Invoice) => STATUS_RANK[String(i.status)] ?? 0;
  return invoices.reduce((best, i) => (rank(i) > rank(best) ? i : best));
}

function isInvoice(value: unknown): value is Invoice {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Invoice;
  return typeof v.id === "string" && typeof v.invoice_url === "string";
}

export function makeXenditAdapter(options: XenditAdapterOptions): GatewayAdapter {
  const base = options.baseUrl.replace(/\/+$/, "");
  const authorization = basicAuth(options.secretKey, "");
  const common = {
    gateway: "Xendit",
    authorization,
    timeoutMs: options.timeoutMs,
    secrets: [options.secretKey],
  };

  async function findInvoices(externalId: string): Promise<Invoice[]> {
    const url = `${base}/v2/invoices?external_id=${encodeURIComponent(externalId)}`;
    // Xendit answers 404 INVOICE_NOT_FOUND_ERROR rather than [] for an unknown external_id.
    const response = await requestJson({ ...common, method: "GET", url, allowStatuses: [404] });
    if (response.status === 404) return [];
    if (!Array.isArray(response.body) || !response.body.every(isInvoice)) {
      throw new GatewayError("Xendit GET /v2/invoices: unexpected response shape", {
        transient: true,
        status: response.status,
      });
    }
    return response.body;
  }

  function reuse(invoice: Invoice): CreatePaymentResult {
    return {
      gatewayReference: String(invoice.id),
      checkoutUrl: String(invoice.invoice_url),
      reused: true,
    };
  }

  async function createPayment(request: CreatePaymentRequest): Promise<CreatePaymentResult> {
    const body = xenditInvoiceBody(request);
    const existing = pickInvoice(await findInvoices(request.externalId), null);
    if (existing) return reuse(existing);

    // Derived from the attempt: Xendit answers a repeated key with the invoice it made.
    const headers: Record<string, string> = { "x-idempotency-key": xenditIdempotencyKey(request) };
    if (options.callbackUrl) headers["x-sandbox-callback-url"] = options.callbackUrl;
    const response = await requestJson({
      ...common,
      method: "POST",
      url: `${base}/v2/invoices`,
      body,
      headers,
      allowStatuses: [400],
    });
    if (response.status === 400) {
      // A concurrent attempt created it between our lookup and our POST: that one is ours.
      if ((response.body as Invoice | null)?.error_code === "DUPLICATE_ERROR") {
        const raced = pickInvoice(await findInvoices(request.externalId), null);
        if (raced) return reuse(raced);
      }
      const said = gatewayMessage(response.body) ?? "no error message";
      throw new GatewayError(
        redact(`Xendit POST /v2/invoices: HTTP 400: ${said}`, [options.secretKey]),
        {
          transient: false,
          status: 400,
        },
      );
    }
    if (!isInvoice(response.body)) {
      // Created or not, the lookup on retry tells: safe to treat as transient.
      throw new GatewayError("Xendit POST /v2/invoices: response without id or invoice_url", {
        transient: true,
        status: response.status,
      });
    }
    return {
      gatewayReference: response.body.id as string,
      checkoutUrl: response.body.invoice_url as string,
      reused: false,
    };
  }

  async function getStatus(
    externalId: string,
    gatewayReference: string | null,
  ): Promise<GatewayStatusReport | null> {
    const invoice = pickInvoice(await findInvoices(externalId), gatewayReference);
    if (!invoice) return null;
    return {
      eventId: `${invoice.id}:${invoice.status}:reconcile`,
      payload: invoiceAsCallback(invoice),
    };
  }

  async function confirmStatus(
    externalId: string,
    invoiceId: string | null,
  ): Promise<Record<string, unknown> | null> {
    if (!invoiceId) return pickInvoice(await findInvoices(externalId), null);
    const url = `${base}/v2/invoices/${encodeURIComponent(invoiceId)}`;
    const response = await requestJson({ ...common, method: "GET", url, allowStatuses: [404] });
    if (response.status === 404) return null;
    if (!isInvoice(response.body)) {
      throw new GatewayError("Xendit GET /v2/invoices/{id}: unexpected response shape", {
        transient: true,
        status: response.status,
      });
    }
    return response.body;
  }

  async function cancelPayment(externalId: string): Promise<CancelPaymentResult> {
    const result: CancelPaymentResult = { cancelled: 0, refused: [] };
    for (const invoice of await findInvoices(externalId)) {
      if (invoice.status !== "PENDING") continue;
      const url = `${base}/invoices/${encodeURIComponent(String(invoice.id))}/expire!`;
      // 404: gone, or no longer expirable (paid meanwhile); 400: refused (e.g. already paid).
      const response = await requestJson({
        ...common,
        method: "POST",
        url,
        allowStatuses: [400, 404],
      });
      if (response.status === 200) result.cancelled++;
      else
        result.refused.push(
          redact(
            `invoice ${invoice.id}: HTTP ${response.status}: ${gatewayMessage(response.body) ?? ""}`,
            [options.secretKey],
          ),
        );
    }
    return result;
  }

  return { name: "xendit", createPayment, getStatus, confirmStatus, cancelPayment };
}
