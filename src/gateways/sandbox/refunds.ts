/**
 * The sandbox's refund endpoints, mirroring the real APIs the refund adapters
 * call (../refunds.ts):
 *
 * - `POST /xendit/refunds` {invoice_id, reference_id, amount, currency, reason}
 *   with an `Idempotency-key` header → a refund object (status SUCCEEDED by
 *   default); the same key again → the same refund; `GET /xendit/refunds/:id`.
 * - `POST /midtrans/v2/:orderId/refund` {refund_key, amount, reason} → status_code
 *   "200", transaction_status refund / partial_refund; the same refund_key again
 *   → the same answer.
 *
 * Both refuse a payment that is not paid, and an amount above what the
 * payment can still give back. `GET /refunds` lists every refund (HTML).
 * Refunds do not change the sandbox payment's own status, and send no
 * notification (PayTrust confirms refunds through the refund APIs).
 */
import { randomUUID } from "node:crypto";
import express, { type Request, type Router } from "express";
import { CURRENCY_EXPONENTS, type Currency, decimalToMinor, minorToDecimal } from "../../money.ts";
import { jsonNumber, numberSource, parseJsonExact } from "../json.ts";
import type { GatewayName } from "../types.ts";
import { escapeHtml, groupDigits } from "./pages.ts";
import type { SandboxPayment } from "./state.ts";

export interface SandboxRefund {
  gateway: GatewayName;
  /** Xendit refund id ("rfd-…"); Midtrans refund_chargeback_id. */
  id: string;
  /** Idempotency-key (Xendit) / refund_key (Midtrans). */
  key: string;
  /** The payment's Xendit invoice id / Midtrans transaction_id. */
  paymentId: string;
  /** The payment's external_id / order_id. */
  paymentExternalId: string;
  currency: Currency;
  amountMinor: string;
  reason: string;
  /** Xendit SUCCEEDED / PENDING / FAILED; Midtrans refund / partial_refund. */
  status: string;
  /** The request body's canonical text: a reused key with other input is refused. */
  fingerprint: string;
  createdAt: string;
}

/** Xendit refund outcomes a test can ask for (default SUCCEEDED). */
export type XenditRefundOutcome = "SUCCEEDED" | "PENDING" | "FAILED";

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

type Api = (gateway: GatewayName, handler: (req: Request) => Reply) => express.RequestHandler;

export interface SandboxRefunds {
  list(gateway?: GatewayName): SandboxRefund[];
  /** The next `count` Xendit refunds get this status; PENDING ones can be settled with completeXendit. */
  nextXenditOutcome(outcome: XenditRefundOutcome, count?: number): void;
  /** Moves a pending Xendit refund to SUCCEEDED or FAILED (as Xendit does later). */
  completeXendit(id: string, outcome: "SUCCEEDED" | "FAILED"): void;
  reset(): void;
}

const json = (status: number, body: unknown): Reply => ({ status, body: JSON.stringify(body) });
const PAID_STATUS: Record<GatewayName, string[]> = {
  xendit: ["PAID", "SETTLED"],
  midtrans: ["settlement", "capture"],
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bodyOf(req: Request): Record<string, unknown> | null {
  const raw: unknown = req.body;
  const text = typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? raw.toString("utf8") : null;
  try {
    const value = text !== null ? parseJsonExact(text) : null;
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

function minorOf(value: unknown, exponent: number): bigint | null {
  const source = numberSource(value) ?? (typeof value === "string" ? value : null);
  if (source === null) return null;
  try {
    return decimalToMinor(source, exponent);
  } catch {
    return null;
  }
}

export function registerSandboxRefunds(
  router: Router,
  deps: { api: Api; find: (gateway: GatewayName, key: string) => SandboxPayment | null },
): SandboxRefunds {
  let refunds: SandboxRefund[] = [];
  let outcomes: XenditRefundOutcome[] = [];
  const text = express.text({ type: () => true, limit: "64kb" });

  const major = (r: SandboxRefund) =>
    jsonNumber(minorToDecimal(r.amountMinor, CURRENCY_EXPONENTS[r.currency]));
  /** What the payment can still give back: paid − Σ refunds that did not fail. */
  const remaining = (payment: SandboxPayment) =>
    BigInt(payment.paidMinor ?? "0") -
    refunds
      .filter(
        (r) => r.gateway === payment.gateway && r.paymentId === payment.id && r.status !== "FAILED",
      )
      .reduce((sum, r) => sum + BigInt(r.amountMinor), 0n);

  function xenditRefund(r: SandboxRefund): Record<string, unknown> {
    return {
      id: r.id,
      payment_id: `pay-${r.paymentId}`,
      invoice_id: r.paymentId,
      amount: major(r),
      payment_method_type: "BANK_TRANSFER",
      channel_code: "BCA",
      currency: r.currency,
      status: r.status,
      reason: r.reason,
      reference_id: r.key,
      failure_code: r.status === "FAILED" ? "INSUFFICIENT_BALANCE" : null,
      refund_fee_amount: null,
      created: r.createdAt,
      updated: r.createdAt,
      metadata: null,
    };
  }

  function xenditCreate(req: Request): Reply {
    const body = bodyOf(req);
    const invalid = (message: string, code = "API_VALIDATION_ERROR", status = 400) =>
      json(status, { error_code: code, message });
    if (!body) return invalid("Request body is not valid JSON");
    const key = req.get("idempotency-key") ?? randomUUID();
    const fingerprint = JSON.stringify([
      body.invoice_id,
      numberSource(body.amount),
      body.currency,
      body.reason,
    ]);
    const earlier = refunds.find((r) => r.gateway === "xendit" && r.key === key);
    if (earlier) {
      return earlier.fingerprint === fingerprint
        ? json(200, xenditRefund(earlier))
        : invalid(
            "Idempotency-key was already used with another request",
            "IDEMPOTENCY_ERROR",
            409,
          );
    }
    if (typeof body.invoice_id !== "string")
      return invalid('"invoice_id" (or payment_request_id) is required');
    const payment = deps.find("xendit", body.invoice_id);
    if (!payment || payment.id !== body.invoice_id)
      return invalid("Invoice not found", "DATA_NOT_FOUND", 404);
    if (!PAID_STATUS.xendit.includes(payment.status))
      return invalid(`Invoice is ${payment.status}; only paid invoices refund`, "INVALID_STATUS");
    if (body.currency !== undefined && body.currency !== payment.currency)
      return invalid(`currency must be ${payment.currency}`);
    const amount = minorOf(body.amount, CURRENCY_EXPONENTS[payment.currency]);
    if (amount === null || amount <= 0n) return invalid('"amount" must be a positive amount');
    if (amount > remaining(payment))
      return invalid("Refund amount exceeds the refundable amount", "REFUND_AMOUNT_EXCEEDED");
    const refund: SandboxRefund = {
      gateway: "xendit",
      id: `rfd-${randomUUID()}`,
      key,
      paymentId: payment.id,
      paymentExternalId: payment.externalId,
      currency: payment.currency,
      amountMinor: amount.toString(),
      reason: typeof body.reason === "string" ? body.reason : "OTHERS",
      status: outcomes.shift() ?? "SUCCEEDED",
      fingerprint,
      createdAt: new Date().toISOString(),
    };
    refunds.push(refund);
    return json(200, xenditRefund(refund));
  }

  function xenditGet(req: Request): Reply {
    const refund = refunds.find((r) => r.gateway === "xendit" && r.id === req.params.id);
    return refund
      ? json(200, xenditRefund(refund))
      : json(404, { error_code: "DATA_NOT_FOUND", message: "Refund not found" });
  }

  function midtransRefund(req: Request): Reply {
    const refused = (code: string, message: string) =>
      json(Number(code), { status_code: code, status_message: message, id: randomUUID() });
    const body = bodyOf(req);
    if (!body) return refused("400", "Request body is not valid JSON");
    const orderId = String(req.params.orderId);
    const payment = deps.find("midtrans", orderId);
    if (!payment || payment.externalId !== orderId)
      return refused("404", "Transaction doesn't exist.");
    const key = typeof body.refund_key === "string" ? body.refund_key : randomUUID();
    if (!/^[A-Za-z0-9_-]{1,100}$/.test(key)) return refused("400", "refund_key is invalid");
    const fingerprint = JSON.stringify([orderId, numberSource(body.amount) ?? body.amount]);
    const answer = (r: SandboxRefund) => {
      const paid = BigInt(payment.paidMinor ?? payment.amountMinor);
      return json(200, {
        status_code: "200",
        status_message: "Success, refund request is approved",
        transaction_id: payment.id,
        order_id: payment.externalId,
        gross_amount: `${minorToDecimal(paid, 0)}.00`,
        currency: "IDR",
        payment_type: "bank_transfer",
        transaction_time: payment.createdAt,
        transaction_status: r.status,
        refund_chargeback_id: r.id,
        refund_amount: `${minorToDecimal(r.amountMinor, 0)}.00`,
        refund_key: r.key,
      });
    };
    const earlier = refunds.find((r) => r.gateway === "midtrans" && r.key === key);
    if (earlier) {
      return earlier.fingerprint === fingerprint
        ? answer(earlier)
        : refused("406", "refund_key was already used with another request");
    }
    if (!PAID_STATUS.midtrans.includes(payment.status))
      return refused("412", "Merchant cannot modify the status of the transaction");
    const left = remaining(payment);
    const amount = body.amount === undefined ? left : minorOf(body.amount, 0);
    if (amount === null || amount <= 0n) return refused("400", "amount must be a positive integer");
    if (amount > left) return refused("412", "Refund amount is more than the refundable amount");
    const refund: SandboxRefund = {
      gateway: "midtrans",
      id: String(Math.floor(Math.random() * 1e9)),
      key,
      paymentId: payment.id,
      paymentExternalId: payment.externalId,
      currency: "IDR",
      amountMinor: amount.toString(),
      reason: typeof body.reason === "string" ? body.reason : "",
      status: amount === left ? "refund" : "partial_refund",
      fingerprint,
      createdAt: new Date().toISOString(),
    };
    refunds.push(refund);
    return answer(refund);
  }

  router.post("/xendit/refunds", text, deps.api("xendit", xenditCreate));
  router.get("/xendit/refunds/:id", deps.api("xendit", xenditGet));
  router.post("/midtrans/v2/:orderId/refund", text, deps.api("midtrans", midtransRefund));
  router.get("/refunds", (req, res) => {
    res.type("html").send(refundsPage([...refunds].reverse(), req.baseUrl));
  });

  return {
    list: (gateway) =>
      refunds.filter((r) => !gateway || r.gateway === gateway).map((r) => ({ ...r })),
    nextXenditOutcome(outcome, count = 1) {
      for (let i = 0; i < count; i++) outcomes.push(outcome);
    },
    completeXendit(id, outcome) {
      const refund = refunds.find((r) => r.gateway === "xendit" && r.id === id);
      if (refund?.status !== "PENDING") throw new Error(`No pending Xendit sandbox refund "${id}"`);
      refund.status = outcome;
    },
    reset() {
      refunds = [];
      outcomes = [];
    },
  };
}

export function refundsPage(refunds: SandboxRefund[], basePath: string): string {
  const rows = refunds
    .map(
      (r) =>
        `<tr><td>${escapeHtml(r.gateway)}</td><td>${escapeHtml(r.paymentExternalId)}</td><td>${escapeHtml(r.id)}</td>` +
        `<td class="amount" data-amount-minor="${escapeHtml(r.amountMinor)}">${escapeHtml(r.currency)} ${escapeHtml(groupDigits(minorToDecimal(r.amountMinor, CURRENCY_EXPONENTS[r.currency])))}</td>` +
        `<td>${escapeHtml(r.reason)}</td><td class="status">${escapeHtml(r.status)}</td><td>${escapeHtml(r.createdAt)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PayTrust sandbox refunds</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body>
<h1>Sandbox refunds</h1>
<p><a href="${escapeHtml(`${basePath}/`)}">All sandbox payments</a></p>
<table id="refunds"><thead><tr><th>Gateway</th><th>Order</th><th>Refund</th><th>Amount</th><th>Reason</th><th>Status</th><th>Created</th></tr></thead>
<tbody>${rows || '<tr><td colspan="7">No refunds yet.</td></tr>'}</tbody></table>
</body></html>
`;
}
