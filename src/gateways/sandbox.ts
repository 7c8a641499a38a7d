/**
 * The sandbox gateways: an Express router that plays Xendit and Midtrans on
 * loopback, exactly at the endpoints the adapters call, with a checkout page per
 * payment (Pay / Fail / Expire) that sends correctly signed webhooks back to
 * PayTrust. Mounted at /sandbox; state is in memory. `control` lets tests inject
 * faults and drive payments without a browser.
 */
import { randomUUID } from "node:crypto";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { parseJsonExact } from "./json.ts";
import { DEFAULT_DELIVERY, type DeliveryResult, deliverWebhook } from "./sandbox/delivery.ts";
import { checkoutPage, checkoutPath, indexPage, messagePage, resultPage } from "./sandbox/pages.ts";
import {
  midtransStatus,
  type SandboxWebhook,
  webhookFor,
  xenditInvoice,
} from "./sandbox/payloads.ts";
import { registerSandboxRefunds, type SandboxRefunds } from "./sandbox/refunds.ts";
import {
  type ApiError,
  applyAction,
  expireIfOverdue,
  midtransSnapError,
  newXenditId,
  PENDING_STATUS,
  parseMidtransCreate,
  parseXenditCreate,
  type SandboxAction,
  type SandboxPayment,
  xenditError,
} from "./sandbox/state.ts";
import { safeEqual } from "./signatures.ts";
import type { GatewayName } from "./types.ts";

export type { DeliveryResult } from "./sandbox/delivery.ts";
export type { SandboxWebhook } from "./sandbox/payloads.ts";
export type { SandboxRefund } from "./sandbox/refunds.ts";
export type { SandboxAction, SandboxPayment } from "./sandbox/state.ts";

/** A URL, or a function giving it when a request needs it (handy when the port is known only after listen). */
export type UrlOption = string | (() => string);

export interface SandboxOptions {
  xenditSecretKey: string;
  xenditCallbackToken: string;
  midtransServerKey: string;
  /** PayTrust's base URL: webhooks go to {webhookBaseUrl}/webhooks/xendit and /webhooks/midtrans. */
  webhookBaseUrl: UrlOption;
  /** Where this router is reachable, e.g. http://127.0.0.1:5678/sandbox (checkout URLs). */
  publicUrl: UrlOption;
  /** Send every webhook this many extra times (duplicates happen with real gateways). */
  duplicateWebhooks?: number;
  /** Waits before each webhook retry; default [200, 500, 1000]. */
  webhookRetryDelaysMs?: number[];
  /** Per-attempt timeout for webhook delivery; default 5000. */
  webhookTimeoutMs?: number;
}

/** A fault for the next matching API calls (not checkout pages or webhooks). */
export interface SandboxFault {
  /** Answer with this HTTP status and a gateway-style error body. */
  status?: number;
  /** With status 429: the Retry-After header, in seconds. */
  retryAfterSeconds?: number;
  /** Answer 200 with a truncated JSON body. */
  malformedJson?: boolean;
  /** Wait this long before answering (with no status: then answer normally — a slow gateway). */
  delayMs?: number;
  /** Only calls with this method… */
  method?: "GET" | "POST";
  /** …and whose path under the router contains this, e.g. "/xendit/v2/invoices". */
  path?: string;
  /** Do the real work first, then answer with the fault: a create whose response is lost. */
  commit?: boolean;
}

export interface SandboxApiCall {
  method: string;
  path: string;
  status: number;
  faulted: boolean;
}

export interface SandboxActionOptions {
  /** Xendit paid_amount / Midtrans gross_amount actually paid (overpayment tests); minor units. */
  amountMinor?: string;
  /** Extra copies of the webhook; default the router's duplicateWebhooks. */
  duplicates?: number;
  /** Apply even when the payment is no longer pending (out-of-order tests). */
  force?: boolean;
  /** false: change the state but send no webhook, as if it were lost (reconciliation tests). */
  deliver?: boolean;
}

export interface SandboxActionResult {
  payment: SandboxPayment;
  deliveries: DeliveryResult[];
}

export interface SandboxDelivery extends DeliveryResult {
  gateway: GatewayName;
  paymentId: string;
  webhook: SandboxWebhook;
}

export interface SandboxControl {
  failNext(count: number, fault: SandboxFault): void;
  /** Copies of all payments, oldest first. */
  payments(gateway?: GatewayName): SandboxPayment[];
  /** By Xendit invoice id / external_id, or Midtrans transaction_id / order_id / Snap token. */
  find(gateway: GatewayName, key: string): SandboxPayment | null;
  pay(
    gateway: GatewayName,
    key: string,
    options?: SandboxActionOptions,
  ): Promise<SandboxActionResult>;
  fail(
    gateway: GatewayName,
    key: string,
    options?: SandboxActionOptions,
  ): Promise<SandboxActionResult>;
  expire(
    gateway: GatewayName,
    key: string,
    options?: SandboxActionOptions,
  ): Promise<SandboxActionResult>;
  /**
   * A second PENDING Xendit invoice for the same external_id and amount, as a
   * gateway that made two (a retry without idempotency key) would: returns it.
   */
  duplicateInvoice(key: string): SandboxPayment;
  /** Sets a gateway-native status (e.g. Midtrans "cancel") without a webhook: the status API then says it. */
  setStatus(gateway: GatewayName, key: string, status: string): SandboxPayment;
  /** Midtrans: the customer picks a payment method (the order stays pending; the status API now knows it). */
  chooseMethod(key: string): SandboxPayment;
  /** Xendit PAID → SETTLED, with a SETTLED callback (a sandbox extension: real Xendit only shows it in GET). */
  settle(key: string, options?: SandboxActionOptions): Promise<SandboxActionResult>;
  /** The signed webhook for the payment's current state, not sent: for replay and out-of-order tests. */
  webhookFor(gateway: GatewayName, key: string): SandboxWebhook;
  /** Webhooks sent so far, oldest first. */
  deliveries(): SandboxDelivery[];
  /** API calls answered so far, oldest first. */
  apiCalls(): SandboxApiCall[];
  /** Forgets payments, faults, deliveries and calls. */
  reset(): void;
  /** Refunds made through the sandbox refund endpoints (src/gateways/sandbox/refunds.ts). */
  refunds: SandboxRefunds;
}

interface ApiReply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const ACTIONS: readonly SandboxAction[] = ["pay", "fail", "expire"];
const MAX_DUPLICATES = 20;

const resolveUrl = (url: UrlOption) =>
  (typeof url === "function" ? url() : url).replace(/\/+$/, "");
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const json = (status: number, body: unknown, headers?: Record<string, string>): ApiReply => ({
  status,
  body: JSON.stringify(body),
  headers,
});
const errorReply = (error: ApiError): ApiReply => json(error.status, error.body);

/** Basic credentials from an Authorization header, or null. */
export function basicCredentials(
  header: string | undefined,
): { user: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!match) return null;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Both gateways: the key as user name, an empty password. */
function authorized(header: string | undefined, key: string): boolean {
  const credentials = basicCredentials(header);
  return credentials !== null && credentials.password === "" && safeEqual(credentials.user, key);
}

/** A gateway-style error body for an injected fault. */
function faultReply(path: string, fault: SandboxFault): ApiReply {
  if (fault.malformedJson) return { status: 200, body: '{"id": "6f2b1c', headers: {} };
  const status = fault.status ?? 500;
  const headers: Record<string, string> = {};
  if (fault.retryAfterSeconds !== undefined)
    headers["retry-after"] = String(fault.retryAfterSeconds);
  const message = `Sandbox injected HTTP ${status}`;
  if (path.startsWith("/xendit")) {
    const code =
      status === 429
        ? "RATE_LIMIT_EXCEEDED"
        : status >= 500
          ? "SERVER_ERROR"
          : "API_VALIDATION_ERROR";
    return json(status, { error_code: code, message }, headers);
  }
  if (path.includes("/snap/")) return json(status, { error_messages: [message] }, headers);
  return json(status, { status_code: String(status), status_message: message }, headers);
}

export function createSandboxRouter(options: SandboxOptions): {
  router: Router;
  control: SandboxControl;
} {
  const store = new Map<string, SandboxPayment>();
  /** Xendit x-idempotency-key → invoice id: the same key answers with the same invoice. */
  const idempotencyKeys = new Map<string, string>();
  let faults: { remaining: number; fault: SandboxFault }[] = [];
  let deliveries: SandboxDelivery[] = [];
  let calls: SandboxApiCall[] = [];
  const delivery = {
    retryDelaysMs: options.webhookRetryDelaysMs ?? DEFAULT_DELIVERY.retryDelaysMs,
    timeoutMs: options.webhookTimeoutMs ?? DEFAULT_DELIVERY.timeoutMs,
  };

  const storeKey = (p: SandboxPayment) => `${p.gateway}:${p.id}`;
  const save = (p: SandboxPayment) => void store.set(storeKey(p), p);
  const all = (gateway?: GatewayName) =>
    [...store.values()]
      .filter((p) => !gateway || p.gateway === gateway)
      .map((p) => {
        // Checkouts end at their expiry, as at the real gateways (no webhook is sent for it here).
        const current = expireIfOverdue(p, new Date());
        if (current !== p) save(current);
        return current;
      });
  const find = (gateway: GatewayName, key: string) =>
    all(gateway).find((p) => p.id === key || p.externalId === key || p.token === key) ?? null;
  const checkoutUrl = (p: SandboxPayment) =>
    `${resolveUrl(options.publicUrl)}${checkoutPath("", p)}`;

  function takeFault(method: string, path: string): SandboxFault | null {
    const entry = faults.find(
      (f) =>
        f.remaining > 0 &&
        (!f.fault.method || f.fault.method === method) &&
        (!f.fault.path || path.includes(f.fault.path)),
    );
    if (!entry) return null;
    entry.remaining -= 1;
    faults = faults.filter((f) => f.remaining > 0);
    return entry.fault;
  }

  /** Wraps an API endpoint: Basic auth like the real gateway, then faults, then the handler. */
  function api(gateway: GatewayName, handler: (req: Request) => ApiReply) {
    const key = gateway === "xendit" ? options.xenditSecretKey : options.midtransServerKey;
    return async (req: Request, res: Response) => {
      const path = req.path;
      let reply: ApiReply;
      let faulted = false;
      if (!authorized(req.headers.authorization, key)) {
        reply = unauthorized(gateway, path);
      } else {
        const fault = takeFault(req.method, path);
        if (fault?.delayMs) await sleep(fault.delayMs);
        faulted = fault !== null && (fault.status !== undefined || fault.malformedJson === true);
        if (faulted && fault) {
          if (fault.commit) handler(req);
          reply = faultReply(path, fault);
        } else {
          reply = handler(req);
        }
      }
      calls.push({ method: req.method, path, status: reply.status, faulted });
      // The client may have given up (timeout tests); writing then is harmless.
      res
        .status(reply.status)
        .set(reply.headers ?? {})
        .type("application/json")
        .send(reply.body);
    };
  }

  function unauthorized(gateway: GatewayName, path: string): ApiReply {
    if (gateway === "xendit") {
      return errorReply(
        xenditError(401, "INVALID_API_KEY", "API key is not authorized for this API service"),
      );
    }
    if (path.includes("/snap/")) {
      return errorReply(
        midtransSnapError(
          401,
          "Access denied due to unauthorized transaction, please check client or server key",
        ),
      );
    }
    return json(401, { status_code: "401", status_message: "Unknown Merchant server_key/id" });
  }

  function parseBody(req: Request): { ok: true; value: unknown } | { ok: false } {
    // A body parser mounted before the router may have parsed it already: take it as is
    // (exact decimals are then lost to floats, so mount the sandbox before global parsers).
    const raw: unknown = req.body;
    const text = typeof raw === "string" ? raw : Buffer.isBuffer(raw) ? raw.toString("utf8") : null;
    try {
      if (text !== null) return { ok: true, value: parseJsonExact(text) };
      if (typeof raw === "object" && raw !== null) {
        return { ok: true, value: parseJsonExact(JSON.stringify(raw)) };
      }
      return { ok: false };
    } catch {
      return { ok: false };
    }
  }

  // --- Xendit -------------------------------------------------------------

  function xenditCreate(req: Request): ApiReply {
    const body = parseBody(req);
    if (!body.ok)
      return errorReply(xenditError(400, "API_VALIDATION_ERROR", "Request body is not valid JSON"));
    const parsed = parseXenditCreate(body.value, new Date());
    if (!parsed.ok) return errorReply(parsed.error);
    const idempotencyHeader = req.headers["x-idempotency-key"];
    const idempotencyKey = typeof idempotencyHeader === "string" ? idempotencyHeader : null;
    const earlier = idempotencyKey ? idempotencyKeys.get(idempotencyKey) : undefined;
    const repeated = earlier ? all("xendit").find((p) => p.id === earlier) : undefined;
    if (repeated) return json(200, xenditInvoice(repeated, checkoutUrl(repeated)));
    if (find("xendit", parsed.value.externalId)) {
      return errorReply(
        xenditError(
          400,
          "DUPLICATE_ERROR",
          `Invoice with external_id ${parsed.value.externalId} already exists`,
        ),
      );
    }
    const callbackHeader = req.headers["x-sandbox-callback-url"];
    const payment = {
      ...parsed.value,
      callbackUrl: typeof callbackHeader === "string" ? callbackHeader : null,
    };
    save(payment);
    if (idempotencyKey) idempotencyKeys.set(idempotencyKey, payment.id);
    return json(200, xenditInvoice(payment, checkoutUrl(payment)));
  }

  function xenditList(req: Request): ApiReply {
    const externalId = typeof req.query.external_id === "string" ? req.query.external_id : null;
    const invoices = all("xendit").filter(
      (p) => externalId === null || p.externalId === externalId,
    );
    if (externalId !== null && invoices.length === 0) {
      return errorReply(
        xenditError(404, "INVOICE_NOT_FOUND_ERROR", "Could not find invoice by external id"),
      );
    }
    return json(
      200,
      invoices.map((p) => xenditInvoice(p, checkoutUrl(p))),
    );
  }

  function xenditGet(req: Request): ApiReply {
    const payment = all("xendit").find((p) => p.id === req.params.id);
    if (!payment)
      return errorReply(xenditError(404, "INVOICE_NOT_FOUND_ERROR", "Invoice not found"));
    return json(200, xenditInvoice(payment, checkoutUrl(payment)));
  }

  /** POST /invoices/:id/expire! (Xendit's expire-invoice): a PENDING invoice becomes EXPIRED. */
  function xenditExpire(req: Request): ApiReply {
    const payment = all("xendit").find((p) => p.id === req.params.id);
    if (!payment)
      return errorReply(xenditError(404, "INVOICE_NOT_FOUND_ERROR", "Invoice not found"));
    if (payment.status !== PENDING_STATUS.xendit)
      return errorReply(
        xenditError(
          404,
          "INVOICE_NOT_FOUND_ERROR",
          `Invoice is ${payment.status}; it cannot be expired`,
        ),
      );
    const next = applyAction(payment, "expire", new Date());
    save(next);
    return json(200, xenditInvoice(next, checkoutUrl(next)));
  }

  // --- Midtrans -----------------------------------------------------------

  /** POST /v2/:orderId/cancel: a pending order is cancelled; a final one answers 412. */
  function midtransCancel(req: Request): ApiReply {
    const key = String(req.params.orderId);
    const payment = all("midtrans").find((p) => p.externalId === key || p.id === key);
    if (!payment)
      return json(404, { status_code: "404", status_message: "Transaction doesn't exist." });
    if (payment.status !== PENDING_STATUS.midtrans && payment.status !== "cancel")
      return json(412, {
        status_code: "412",
        status_message: "Merchant cannot modify the status of the transaction",
      });
    const next = { ...payment, status: "cancel", updatedAt: new Date().toISOString() };
    save(next);
    const status = midtransStatus(next, options.midtransServerKey, checkoutUrl(next));
    return json(200, { ...status, status_message: "Success, transaction is canceled" });
  }

  function midtransCreate(req: Request): ApiReply {
    const body = parseBody(req);
    if (!body.ok) return errorReply(midtransSnapError(400, "Request body is not valid JSON"));
    const parsed = parseMidtransCreate(body.value, new Date());
    if (!parsed.ok) return errorReply(parsed.error);
    if (all("midtrans").some((p) => p.externalId === parsed.value.externalId)) {
      return errorReply(midtransSnapError(400, "transaction_details.order_id sudah digunakan"));
    }
    save(parsed.value);
    return json(201, { token: parsed.value.token, redirect_url: checkoutUrl(parsed.value) });
  }

  function midtransStatusReply(req: Request): ApiReply {
    const key = String(req.params.orderId);
    const payment = all("midtrans").find((p) => p.externalId === key || p.id === key);
    if (!payment)
      return json(404, {
        status_code: "404",
        status_message: "Transaction doesn't exist.",
        id: randomUUID(),
      });
    if (payment.methodChosen !== true) {
      // No method chosen yet: Midtrans knows no transaction. The sandbox extensions let a
      // retried create reuse the checkout (see SANDBOX_STATUS_EXTENSIONS).
      return json(404, {
        status_code: "404",
        status_message: "Transaction doesn't exist.",
        id: randomUUID(),
        snap_token: payment.token,
        snap_redirect_url: checkoutUrl(payment),
      });
    }
    return json(200, midtransStatus(payment, options.midtransServerKey, checkoutUrl(payment)));
  }

  // --- Checkout and webhooks ----------------------------------------------

  async function sendWebhooks(
    payment: SandboxPayment,
    duplicates: number,
  ): Promise<DeliveryResult[]> {
    // One event: duplicates and retries carry the same body and webhook-id, as real redeliveries do.
    const webhook = webhookFor(payment, {
      webhookBaseUrl: resolveUrl(options.webhookBaseUrl),
      xenditCallbackToken: options.xenditCallbackToken,
      midtransServerKey: options.midtransServerKey,
    });
    const results: DeliveryResult[] = [];
    for (let i = 0; i <= duplicates; i++) {
      const result = await deliverWebhook(webhook, delivery);
      deliveries.push({ ...result, gateway: payment.gateway, paymentId: payment.id, webhook });
      results.push(result);
    }
    return results;
  }

  function clampDuplicates(value: number | undefined): number {
    const n = value ?? options.duplicateWebhooks ?? 0;
    return Number.isSafeInteger(n) && n > 0 ? Math.min(n, MAX_DUPLICATES) : 0;
  }

  async function act(
    gateway: GatewayName,
    key: string,
    action: SandboxAction | "settle",
    opts: SandboxActionOptions = {},
  ): Promise<SandboxActionResult> {
    const current = find(gateway, key);
    if (!current) throw new Error(`No ${gateway} sandbox payment "${key}"`);
    if (opts.amountMinor !== undefined && !/^\d+$/.test(opts.amountMinor)) {
      throw new Error(`amountMinor must be whole minor units, got "${opts.amountMinor}"`);
    }
    const from = action === "settle" ? "PAID" : PENDING_STATUS[gateway];
    if (!opts.force && current.status !== from) {
      throw new Error(`${gateway} payment ${current.externalId} is ${current.status}, not ${from}`);
    }
    const now = new Date();
    const next =
      action === "settle"
        ? { ...current, status: "SETTLED", updatedAt: now.toISOString() }
        : applyAction(current, action, now, opts.amountMinor);
    // Saved before any await: a second click sees the new status and is refused.
    save(next);
    return {
      payment: { ...next },
      deliveries:
        opts.deliver === false ? [] : await sendWebhooks(next, clampDuplicates(opts.duplicates)),
    };
  }

  function duplicatesQuery(req: Request): number | undefined {
    const raw = req.query.duplicates;
    return typeof raw === "string" && /^\d{1,2}$/.test(raw) ? Number(raw) : undefined;
  }

  const router = express.Router();
  const text = express.text({ type: () => true, limit: "256kb" });

  router.get("/", (req, res) => {
    res.type("html").send(indexPage(all().reverse(), req.baseUrl));
  });

  router.post("/xendit/v2/invoices", text, api("xendit", xenditCreate));
  router.get("/xendit/v2/invoices", api("xendit", xenditList));
  router.get("/xendit/v2/invoices/:id", api("xendit", xenditGet));
  router.post("/xendit/invoices/:id/expire\\!", api("xendit", xenditExpire));
  router.post("/midtrans/snap/v1/transactions", text, api("midtrans", midtransCreate));
  router.get("/midtrans/v2/:orderId/status", api("midtrans", midtransStatusReply));
  router.post("/midtrans/v2/:orderId/cancel", api("midtrans", midtransCancel));
  const refunds = registerSandboxRefunds(router, { api, find });

  const gatewayOf = (value: string): GatewayName | null =>
    value === "xendit" || value === "midtrans" ? value : null;

  router.get("/checkout/:gateway/:key", (req, res) => {
    const gateway = gatewayOf(req.params.gateway);
    const payment = gateway ? find(gateway, req.params.key) : null;
    if (!payment) {
      res
        .status(404)
        .type("html")
        .send(messagePage("Payment not found", "No such sandbox payment.", req.baseUrl));
      return;
    }
    res
      .type("html")
      .send(checkoutPage(payment, req.baseUrl, clampDuplicates(duplicatesQuery(req))));
  });

  router.post("/checkout/:gateway/:key/:action", async (req, res) => {
    const gateway = gatewayOf(req.params.gateway);
    const action = ACTIONS.find((a) => a === req.params.action);
    const payment = gateway ? find(gateway, req.params.key) : null;
    if (!gateway || !action || !payment) {
      res
        .status(404)
        .type("html")
        .send(messagePage("Payment not found", "No such sandbox payment.", req.baseUrl));
      return;
    }
    if (payment.status !== PENDING_STATUS[gateway]) {
      const message = `This payment is already ${payment.status}.`;
      res
        .status(409)
        .type("html")
        .send(messagePage("Payment already completed", message, req.baseUrl));
      return;
    }
    // ?deliver=false: the customer acts but the gateway's notification is
    // lost (the status API still says it), as reconciliation and load tests need.
    const result = await act(gateway, payment.id, action, {
      duplicates: duplicatesQuery(req),
      deliver: req.query.deliver !== "false",
    });
    res.type("html").send(resultPage(result.payment, action, result.deliveries, req.baseUrl));
  });

  // Body too large or unreadable: answer like a gateway, never with a stack trace.
  router.use(
    (
      error: { status?: number; type?: string },
      req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      const status =
        error?.status && error.status >= 400 && error.status < 500 ? error.status : 500;
      const message =
        status === 413
          ? "Request body too large"
          : status === 500
            ? "Internal sandbox error"
            : "Bad request";
      res
        .status(status)
        .type("application/json")
        .send(
          JSON.stringify(
            req.path.startsWith("/xendit")
              ? { error_code: status === 500 ? "SERVER_ERROR" : "API_VALIDATION_ERROR", message }
              : { error_messages: [message] },
          ),
        );
    },
  );

  const control: SandboxControl = {
    failNext(count, fault) {
      if (!Number.isSafeInteger(count) || count < 1)
        throw new RangeError("failNext needs a count >= 1");
      faults.push({ remaining: count, fault });
    },
    payments: (gateway) => all(gateway).map((p) => ({ ...p })),
    find: (gateway, key) => {
      const p = find(gateway, key);
      return p ? { ...p } : null;
    },
    pay: (gateway, key, opts) => act(gateway, key, "pay", opts),
    fail: (gateway, key, opts) => act(gateway, key, "fail", opts),
    expire: (gateway, key, opts) => act(gateway, key, "expire", opts),
    settle: (key, opts) => act("xendit", key, "settle", opts),
    setStatus(gateway, key, status) {
      const current = find(gateway, key);
      if (!current) throw new Error(`No ${gateway} sandbox payment "${key}"`);
      const next = { ...current, status, methodChosen: true, updatedAt: new Date().toISOString() };
      save(next);
      return { ...next };
    },
    chooseMethod(key) {
      const current = find("midtrans", key);
      if (!current) throw new Error(`No midtrans sandbox payment "${key}"`);
      const next = { ...current, methodChosen: true, updatedAt: new Date().toISOString() };
      save(next);
      return { ...next };
    },
    duplicateInvoice(key) {
      const original = find("xendit", key);
      if (!original) throw new Error(`No xendit sandbox payment "${key}"`);
      const at = new Date().toISOString();
      const copy: SandboxPayment = {
        ...original,
        id: newXenditId(),
        status: PENDING_STATUS.xendit,
        paidMinor: null,
        paidAt: null,
        createdAt: at,
        updatedAt: at,
      };
      save(copy);
      return { ...copy };
    },
    webhookFor(gateway, key) {
      const payment = find(gateway, key);
      if (!payment) throw new Error(`No ${gateway} sandbox payment "${key}"`);
      return webhookFor(payment, {
        webhookBaseUrl: resolveUrl(options.webhookBaseUrl),
        xenditCallbackToken: options.xenditCallbackToken,
        midtransServerKey: options.midtransServerKey,
      });
    },
    deliveries: () => [...deliveries],
    apiCalls: () => [...calls],
    reset() {
      store.clear();
      idempotencyKeys.clear();
      faults = [];
      deliveries = [];
      calls = [];
      refunds.reset();
    },
    refunds,
  };

  return { router, control };
}
