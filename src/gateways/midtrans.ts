/**
 * Midtrans Snap (create) and Core status API (reconcile). IDR only (Bank
 * Indonesia rule). Idempotency rests on order_id, unique per payment attempt:
 * Midtrans itself never charges one order_id twice, and createPayment first asks
 * the status API whether the order exists so a retry does not even try.
 *
 * Limitation: a Snap token cannot be fetched again. When the order already
 * exists, the real API gives back no token or redirect_url, so the result carries
 * the transaction_id and an empty checkoutUrl (the customer is already past the
 * checkout by then: Midtrans lists an order only once a payment method was
 * chosen). The sandbox adds `snap_token` and `snap_redirect_url` to its status
 * response, and those are reused when present.
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

export interface MidtransAdapterOptions {
  /** https://app.midtrans.com, or the sandbox's …/sandbox/midtrans. */
  snapUrl: string;
  /** https://api.midtrans.com, or the sandbox's …/sandbox/midtrans. */
  apiUrl: string;
  serverKey: string;
  timeoutMs: number;
}

/** Sandbox-only additions to the status response (see the module comment). */
export const SANDBOX_STATUS_EXTENSIONS = ["snap_token", "snap_redirect_url"] as const;

/** Midtrans caps item names at 50 characters. */
const ITEM_NAME_MAX = 50;

function permanent(message: string, status: number | null = null): GatewayError {
  return new GatewayError(message, { transient: false, status });
}

/**
 * The Snap request JSON. Refuses what Midtrans would refuse, before any network
 * call: a currency other than IDR, and item_details not summing to gross_amount.
 */
export function midtransSnapBody(request: CreatePaymentRequest): string {
  if (request.currency !== "IDR")
    throw permanent(`Midtrans accepts IDR only, not ${request.currency}`);
  assertValidRequest("Midtrans", request);
  const gross = BigInt(request.amountMinor);
  const sum = request.items.reduce(
    (acc, item) => acc + BigInt(item.quantity) * BigInt(item.priceMinor),
    0n,
  );
  if (sum !== gross) {
    throw permanent(
      `Midtrans: item_details sum to ${sum}, gross_amount is ${gross}; they must be equal`,
    );
  }
  const idr = (minor: string) => jsonNumber(minorToDecimal(minor, 0));
  const body: Record<string, unknown> = {
    transaction_details: { order_id: request.externalId, gross_amount: idr(request.amountMinor) },
    item_details: request.items.map((item, index) => ({
      id: `item-${index + 1}`,
      name: item.name.slice(0, ITEM_NAME_MAX),
      price: idr(item.priceMinor),
      quantity: item.quantity,
    })),
    customer_details: { first_name: request.customer.name, email: request.customer.email },
  };
  if (request.redirectUrl) body.callbacks = { finish: request.redirectUrl };
  if (request.expiry) {
    body.expiry = {
      start_time: midtransStartTime(request.expiry.startTime),
      unit: "minute",
      duration: Math.max(1, Math.floor(request.expiry.minutes)),
    };
  } else if (request.expirySeconds !== undefined) {
    body.expiry = { unit: "minute", duration: Math.max(1, Math.ceil(request.expirySeconds / 60)) };
  }
  return JSON.stringify(body);
}

/** Snap's expiry.start_time: "yyyy-MM-dd HH:mm:ss Z" in Jakarta time, e.g. "2026-12-03 13:05:00 +0700". */
export function midtransStartTime(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw permanent(`Midtrans: expiry start time "${iso}" is not a time`);
  const jakarta = new Date(Math.floor(ms / 1000) * 1000 + 7 * 3600_000);
  return `${jakarta.toISOString().slice(0, 19).replace("T", " ")} +0700`;
}

/** Snap's answer to a reused order_id: "transaction_details.order_id sudah digunakan" / "has already been taken". */
export function isDuplicateOrderError(body: unknown): boolean {
  const said = gatewayMessage(body) ?? "";
  return /order_id/i.test(said) && /(sudah digunakan|already|taken|duplicate)/i.test(said);
}

/** A status response as a notification-shaped payload (sandbox extensions removed). */
export function statusAsNotification(status: Record<string, unknown>): Record<string, unknown> {
  const payload = { ...status };
  for (const key of SANDBOX_STATUS_EXTENSIONS) delete payload[key];
  return payload;
}

export function makeMidtransAdapter(options: MidtransAdapterOptions): GatewayAdapter {
  const snap = options.snapUrl.replace(/\/+$/, "");
  const api = options.apiUrl.replace(/\/+$/, "");
  const common = {
    gateway: "Midtrans",
    authorization: basicAuth(options.serverKey, ""),
    timeoutMs: options.timeoutMs,
    secrets: [options.serverKey],
  };

  /**
   * The status API's record of an order, or null when Midtrans does not know it
   * (the real API lists an order only once a payment method was chosen).
   * forReuse: the sandbox's 404 for an order whose Snap checkout exists carries
   * snap_token/snap_redirect_url; createPayment reuses those (never a status).
   */
  async function fetchStatus(
    orderId: string,
    forReuse = false,
  ): Promise<Record<string, unknown> | null> {
    const url = `${api}/v2/${encodeURIComponent(orderId)}/status`;
    const response = await requestJson({ ...common, method: "GET", url, allowStatuses: [404] });
    const body = (
      typeof response.body === "object" && response.body !== null ? response.body : {}
    ) as Record<string, unknown>;
    if (typeof body.transaction_status === "string") return body;
    // "Transaction doesn't exist": HTTP 404, or HTTP 200 with status_code "404" in older API versions.
    const code = String(body.status_code ?? response.status);
    if (response.status === 404 || code === "404") {
      return forReuse && typeof body.snap_token === "string" ? body : null;
    }
    const said = redact(gatewayMessage(body) ?? "no status message", [options.serverKey]);
    throw new GatewayError(`Midtrans GET /v2/…/status: status_code ${code}: ${said}`, {
      transient: code.startsWith("5") || code === "429",
      status: response.status,
    });
  }

  function reuse(status: Record<string, unknown>, orderId: string): CreatePaymentResult {
    const token = status.snap_token ?? status.transaction_id ?? orderId;
    const redirect = status.snap_redirect_url ?? "";
    return { gatewayReference: String(token), checkoutUrl: String(redirect), reused: true };
  }

  async function createPayment(request: CreatePaymentRequest): Promise<CreatePaymentResult> {
    const body = midtransSnapBody(request);
    const existing = await fetchStatus(request.externalId, true);
    if (existing) return reuse(existing, request.externalId);

    const response = await requestJson({
      ...common,
      method: "POST",
      url: `${snap}/snap/v1/transactions`,
      body,
      allowStatuses: [400, 406, 409],
    });
    if (response.status >= 400) {
      if (isDuplicateOrderError(response.body)) {
        // Created by an attempt whose answer we lost: reuse it if the status API shows it.
        const raced = await fetchStatus(request.externalId, true);
        if (raced) return reuse(raced, request.externalId);
      }
      const said = redact(gatewayMessage(response.body) ?? "no error message", [options.serverKey]);
      throw permanent(
        `Midtrans POST /snap/v1/transactions: HTTP ${response.status}: ${said}`,
        response.status,
      );
    }
    const created = response.body as Record<string, unknown> | null;
    if (typeof created?.token !== "string" || typeof created.redirect_url !== "string") {
      throw new GatewayError(
        "Midtrans POST /snap/v1/transactions: response without token or redirect_url",
        {
          transient: true,
          status: response.status,
        },
      );
    }
    return { gatewayReference: created.token, checkoutUrl: created.redirect_url, reused: false };
  }

  async function getStatus(orderId: string): Promise<GatewayStatusReport | null> {
    const status = await fetchStatus(orderId);
    if (!status) return null;
    return {
      eventId: `${status.transaction_id}:${status.transaction_status}:reconcile`,
      payload: statusAsNotification(status),
    };
  }

  async function confirmStatus(orderId: string): Promise<Record<string, unknown> | null> {
    const status = await fetchStatus(orderId);
    return status ? statusAsNotification(status) : null;
  }

  async function cancelPayment(orderId: string): Promise<CancelPaymentResult> {
    const url = `${api}/v2/${encodeURIComponent(orderId)}/cancel`;
    const response = await requestJson({
      ...common,
      method: "POST",
      url,
      allowStatuses: [404, 412],
    });
    const body = (
      typeof response.body === "object" && response.body !== null ? response.body : {}
    ) as Record<string, unknown>;
    // Midtrans puts the outcome in status_code (HTTP 200 with "404"/"412" in older API versions).
    const code = String(body.status_code ?? response.status);
    if (code === "200" && body.transaction_status === "cancel")
      return { cancelled: 1, refused: [] };
    // 404: no such order (the customer never chose a method); 412: final already (paid, expired…).
    if (code === "404" || code === "412" || response.status === 404 || response.status === 412) {
      const said = redact(gatewayMessage(body) ?? "", [options.serverKey]);
      return { cancelled: 0, refused: code === "404" ? [] : [`status_code ${code}: ${said}`] };
    }
    const said = redact(gatewayMessage(body) ?? "no status message", [options.serverKey]);
    throw new GatewayError(`Midtrans POST /v2/…/cancel: status_code ${code}: ${said}`, {
      transient: code.startsWith("5") || code === "429",
      status: response.status,
    });
  }

  return { name: "midtrans", createPayment, getStatus, confirmStatus, cancelPayment };
}
