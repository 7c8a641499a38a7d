/**
 * Refunds at the gateways. Idempotency rests on the refund's external id,
 * unique per PayTrust refund: Xendit gets it as `reference_id` and as the
 * `Idempotency-key` header, Midtrans as `refund_key`; both gateways answer a
 * repeated request with the refund they already made, so a retry after a lost
 * response never refunds twice. Amounts leave as exact major-unit JSON numbers
 * (src/money.ts), never through a float.
 *
 * - Xendit: `POST {XENDIT_BASE_URL}/refunds` {invoice_id, reference_id, amount,
 *   currency, reason, metadata} → a refund {id, status: PENDING | SUCCEEDED |
 *   FAILED}; a pending one is confirmed with `GET /refunds/{id}`.
 * - Midtrans: `POST {MIDTRANS_API_URL}/v2/{order_id}/refund` {refund_key,
 *   amount, reason} → `status_code "200"` with transaction_status refund /
 *   partial_refund when approved; any other 4xx status_code is a refusal.
 */
import type { Currency } from "../money.ts";
import { minorToDecimal } from "../money.ts";
import { basicAuth, gatewayMessage, redact, requestJson } from "./http.ts";
import type { GatewaysConfig } from "./index.ts";
import { jsonNumber } from "./json.ts";
import { GatewayError, type GatewayName } from "./types.ts";

export interface RefundRequest {
  refundId: string;
  /** Unique per refund: Xendit reference_id + Idempotency-key, Midtrans refund_key. */
  externalId: string;
  /** The gateway's refund id once known (Xendit), for status checks. */
  gatewayReference: string | null;
  /** The payment's external id (Midtrans order_id). */
  paymentExternalId: string;
  /** The payment's gateway id (Xendit invoice id). */
  paymentGatewayReference: string | null;
  currency: Currency;
  exponent: number;
  amountMinor: string;
  reason: string;
}

export type RefundStatus = "pending" | "succeeded" | "failed";

export interface RefundResult {
  status: RefundStatus;
  gatewayReference: string | null;
  gatewayStatus: string;
  failureReason: string | null;
}

export interface RefundAdapter {
  name: GatewayName;
  /** Creates the refund, or reports the one this externalId already made. */
  refund(request: RefundRequest): Promise<RefundResult>;
}

/** Xendit's refund reasons; anything else is sent as OTHERS (the text goes in metadata). */
export const XENDIT_REFUND_REASONS = [
  "FRAUDULENT",
  "DUPLICATE",
  "REQUESTED_BY_CUSTOMER",
  "CANCELLATION",
  "OTHERS",
] as const;

const MINOR_UNITS = /^[1-9]\d*$/;

function assertValidRefund(gateway: string, request: RefundRequest): void {
  const fail = (why: string) => {
    throw new GatewayError(`${gateway} refund: ${why}`, { transient: false });
  };
  if (request.externalId.trim() === "") fail("externalId is empty");
  if (!MINOR_UNITS.test(request.amountMinor))
    fail(`amountMinor "${request.amountMinor}" is not a positive whole number of minor units`);
}

export function xenditReasonCode(reason: string): string {
  const code = reason.trim().toUpperCase();
  return (XENDIT_REFUND_REASONS as readonly string[]).includes(code) ? code : "OTHERS";
}

export function xenditRefundBody(request: RefundRequest): string {
  assertValidRefund("Xendit", request);
  if (!request.paymentGatewayReference)
    throw new GatewayError("Xendit refund: the payment has no Xendit invoice id", {
      transient: false,
    });
  return JSON.stringify({
    invoice_id: request.paymentGatewayReference,
    reference_id: request.externalId,
    amount: jsonNumber(minorToDecimal(request.amountMinor, request.exponent)),
    currency: request.currency,
    reason: xenditReasonCode(request.reason),
    metadata: { paytrust_refund_id: request.refundId, reason: request.reason.slice(0, 500) },
  });
}

export function midtransRefundBody(request: RefundRequest): string {
  assertValidRefund("Midtrans", request);
  if (request.currency !== "IDR")
    throw new GatewayError(`Midtrans refunds IDR only, not ${request.currency}`, {
      transient: false,
    });
  return JSON.stringify({
    refund_key: request.externalId,
    amount: jsonNumber(minorToDecimal(request.amountMinor, 0)),
    reason: request.reason.slice(0, 255),
  });
}

/** A Xendit refund object → PayTrust's view of it. */
export function xenditRefundResult(body: unknown): RefundResult {
  const refund = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof refund.id !== "string" || typeof refund.status !== "string") {
    throw new GatewayError("Xendit refund: response without id or status", { transient: true });
  }
  const gatewayStatus = refund.status.toUpperCase();
  const status: RefundStatus =
    gatewayStatus === "SUCCEEDED" ? "succeeded" : gatewayStatus === "FAILED" ? "failed" : "pending";
  return {
    status,
    gatewayReference: refund.id,
    gatewayStatus,
    failureReason:
      status === "failed" ? String(refund.failure_code ?? "refund failed at Xendit") : null,
  };
}

/** A Midtrans refund answer → PayTrust's view of it (throws on a transient status_code). */
export function midtransRefundResult(body: unknown, httpStatus: number): RefundResult {
  const answer = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const code = String(answer.status_code ?? httpStatus);
  if (code === "200") {
    const reference = answer.refund_chargeback_id ?? answer.refund_key ?? null;
    return {
      status: "succeeded",
      gatewayReference: reference === null ? null : String(reference),
      gatewayStatus: String(answer.transaction_status ?? "refund"),
      failureReason: null,
    };
  }
  const said = gatewayMessage(answer) ?? "no status message";
  if (code.startsWith("5") || code === "429") {
    throw new GatewayError(`Midtrans POST /v2/…/refund: status_code ${code}: ${said}`, {
      transient: true,
      status: httpStatus,
    });
  }
  return {
    status: "failed",
    gatewayReference: null,
    gatewayStatus: code,
    failureReason: `Midtrans refused the refund: status_code ${code}: ${said}`,
  };
}

export function makeXenditRefundAdapter(options: {
  baseUrl: string;
  secretKey: string;
  timeoutMs: number;
}): RefundAdapter {
  const base = options.baseUrl.replace(/\/+$/, "");
  const common = {
    gateway: "Xendit",
    authorization: basicAuth(options.secretKey, ""),
    timeoutMs: options.timeoutMs,
    secrets: [options.secretKey],
  };
  return {
    name: "xendit",
    async refund(request) {
      if (request.gatewayReference) {
        const url = `${base}/refunds/${encodeURIComponent(request.gatewayReference)}`;
        const response = await requestJson({ ...common, method: "GET", url });
        return xenditRefundResult(response.body);
      }
      const body = xenditRefundBody(request);
      const response = await requestJson({
        ...common,
        method: "POST",
        url: `${base}/refunds`,
        body,
        headers: { "idempotency-key": request.externalId },
        allowStatuses: [400, 403, 404, 409],
      });
      if (response.status >= 400) {
        const said = gatewayMessage(response.body) ?? "no error message";
        return {
          status: "failed",
          gatewayReference: null,
          gatewayStatus: String(response.status),
          failureReason: redact(`Xendit refused the refund: HTTP ${response.status}: ${said}`, [
            options.secretKey,
          ]),
        };
      }
      return xenditRefundResult(response.body);
    },
  };
}

export function makeMidtransRefundAdapter(options: {
  apiUrl: string;
  serverKey: string;
  timeoutMs: number;
}): RefundAdapter {
  const api = options.apiUrl.replace(/\/+$/, "");
  const common = {
    gateway: "Midtrans",
    authorization: basicAuth(options.serverKey, ""),
    timeoutMs: options.timeoutMs,
    secrets: [options.serverKey],
  };
  return {
    name: "midtrans",
    async refund(request) {
      const body = midtransRefundBody(request);
      const response = await requestJson({
        ...common,
        method: "POST",
        url: `${api}/v2/${encodeURIComponent(request.paymentExternalId)}/refund`,
        body,
        allowStatuses: [400, 401, 403, 404, 406, 409, 412],
      });
      const result = midtransRefundResult(response.body, response.status);
      if (result.failureReason)
        result.failureReason = redact(result.failureReason, [options.serverKey]);
      return result;
    },
  };
}

export function makeRefundAdapters(
  config: Omit<GatewaysConfig, "midtransSnapUrl" | "xenditCallbackUrl">,
): Record<GatewayName, RefundAdapter> {
  return {
    xendit: makeXenditRefundAdapter({
      baseUrl: config.xenditBaseUrl,
      secretKey: config.xenditSecretKey,
      timeoutMs: config.timeoutMs,
    }),
    midtrans: makeMidtransRefundAdapter({
      apiUrl: config.midtransApiUrl,
      serverKey: config.midtransServerKey,
      timeoutMs: config.timeoutMs,
    }),
  };
}
