/**
 * What the worker asks of a gateway, independent of Xendit or Midtrans.
 * Amounts arrive as integer minor units (strings) with the currency exponent
 * from SQL; adapters convert through src/money.ts only.
 */
import type { Currency } from "../money.ts";

export type GatewayName = "xendit" | "midtrans";

export interface PaymentItem {
  name: string;
  quantity: number;
  /** Price of one unit, minor units. */
  priceMinor: string;
}

export interface CreatePaymentRequest {
  /** Unique per attempt: Xendit external_id, Midtrans order_id. */
  externalId: string;
  currency: Currency;
  exponent: number;
  amountMinor: string;
  description: string;
  customer: { name: string; email: string };
  /** Σ quantity × priceMinor === amountMinor (SQL guarantees it). */
  items: PaymentItem[];
  /** Where the gateway sends the customer after paying. */
  redirectUrl?: string;
  /** Seconds until the checkout expires (Xendit invoice_duration, counted from the create call). */
  expirySeconds?: number;
  /**
   * The attempt's lifetime as PayTrust set it (created_at → expires_at): Midtrans
   * `expiry {start_time, unit: "minute", duration}`. Takes precedence over expirySeconds there.
   */
  expiry?: { startTime: string; minutes: number };
}

/** What cancelling a gateway payment did. */
export interface CancelPaymentResult {
  /** Gateway payments ended now (Xendit invoices expired, the Midtrans order cancelled). */
  cancelled: number;
  /** The gateway refused to end one (already paid, settled or otherwise final), with what it said. */
  refused: string[];
}

export interface CreatePaymentResult {
  gatewayReference: string;
  checkoutUrl: string;
  /** True when an earlier attempt had already created it (no second charge). */
  reused: boolean;
}

/** A gateway's current view of a payment (status APIs, reconciliation). */
export interface GatewayStatusReport {
  /** The raw payload, applied through the same SQL path as a webhook. */
  payload: Record<string, unknown>;
  /** A stable id for deduplication of this observation. */
  eventId: string;
}

export interface GatewayAdapter {
  name: GatewayName;
  createPayment(request: CreatePaymentRequest): Promise<CreatePaymentResult>;
  getStatus(
    externalId: string,
    gatewayReference: string | null,
  ): Promise<GatewayStatusReport | null>;
  /**
   * The status API's record of one gateway payment, to confirm a notification:
   * Xendit `GET /v2/invoices/{id}` (the invoice object), Midtrans
   * `GET /v2/{order_id}/status` (the status response). null: the gateway knows
   * no such payment (never charged).
   */
  confirmStatus(
    externalId: string,
    gatewayChargeId: string | null,
  ): Promise<Record<string, unknown> | null>;
  /**
   * Ends the attempt's pending gateway payments (cancelPayment): Xendit
   * `POST /invoices/{id}/expire!` for each PENDING invoice of the external_id,
   * Midtrans `POST /v2/{order_id}/cancel`. Nothing open at the gateway: 0, no error.
   */
  cancelPayment(externalId: string, gatewayReference: string | null): Promise<CancelPaymentResult>;
}

/** transient: network error, timeout, 5xx, 429 → retry with backoff. Otherwise permanent. */
export class GatewayError extends Error {
  readonly transient: boolean;
  readonly status: number | null;
  readonly retryAfterMs: number | null;
  constructor(
    message: string,
    options: { transient: boolean; status?: number | null; retryAfterMs?: number | null },
  ) {
    super(message);
    this.name = "GatewayError";
    this.transient = options.transient;
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}
