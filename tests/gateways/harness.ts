/**
 * Real HTTP on loopback: the sandbox router mounted at /sandbox in an Express
 * app, a receiver standing in for PayTrust's /webhooks endpoints that records
 * what arrives, and both adapters pointed at the sandbox.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { makeMidtransAdapter } from "../../src/gateways/midtrans.ts";
import {
  createSandboxRouter,
  type SandboxControl,
  type SandboxOptions,
} from "../../src/gateways/sandbox.ts";
import type { CreatePaymentRequest, GatewayAdapter } from "../../src/gateways/types.ts";
import { makeXenditAdapter } from "../../src/gateways/xendit.ts";
import type { Currency } from "../../src/money.ts";

export const XENDIT_KEY = "xnd_development_TESTKEY_0123456789";
export const CALLBACK_TOKEN = "callback-token-for-tests";
export const MIDTRANS_KEY = "SB-Mid-server-TESTKEY_0123456789";

export interface ReceivedWebhook {
  gateway: string;
  headers: Record<string, string | string[] | undefined>;
  /** The exact bytes received, as text. */
  raw: string;
  body: any;
}

export interface Harness {
  /** e.g. http://127.0.0.1:1234/sandbox */
  sandboxUrl: string;
  control: SandboxControl;
  received: ReceivedWebhook[];
  /** Statuses the receiver answers with, consumed one per webhook; then 200. */
  receiverStatuses: number[];
  xendit: GatewayAdapter;
  midtrans: GatewayAdapter;
  adapters(
    timeoutMs: number,
    keys?: { xendit?: string; midtrans?: string },
  ): Record<string, GatewayAdapter>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startHarness(options: Partial<SandboxOptions> = {}): Promise<Harness> {
  const received: ReceivedWebhook[] = [];
  const receiverStatuses: number[] = [];
  const receiver = express();
  receiver.use(express.text({ type: () => true }));
  receiver.post("/webhooks/:gateway", (req, res) => {
    const raw = String(req.body ?? "");
    let body: unknown = null;
    try {
      body = JSON.parse(raw);
    } catch {}
    received.push({ gateway: String(req.params.gateway), headers: req.headers, raw, body });
    res.status(receiverStatuses.shift() ?? 200).json({ received: true });
  });
  const receiverServer = createServer(receiver);
  const receiverUrl = await listen(receiverServer);

  // Listen first, so the sandbox's public URL knows its port.
  const sandboxServer = createServer();
  const baseUrl = await listen(sandboxServer);
  const sandboxUrl = `${baseUrl}/sandbox`;
  const { router, control } = createSandboxRouter({
    xenditSecretKey: XENDIT_KEY,
    xenditCallbackToken: CALLBACK_TOKEN,
    midtransServerKey: MIDTRANS_KEY,
    webhookBaseUrl: receiverUrl,
    publicUrl: sandboxUrl,
    webhookRetryDelaysMs: [10, 20, 40],
    ...options,
  });
  const app = express();
  app.use("/sandbox", router);
  sandboxServer.on("request", app);

  const adapters = (timeoutMs: number, keys: { xendit?: string; midtrans?: string } = {}) => ({
    xendit: makeXenditAdapter({
      baseUrl: `${sandboxUrl}/xendit`,
      secretKey: keys.xendit ?? XENDIT_KEY,
      timeoutMs,
    }),
    midtrans: makeMidtransAdapter({
      snapUrl: `${sandboxUrl}/midtrans`,
      apiUrl: `${sandboxUrl}/midtrans`,
      serverKey: keys.midtrans ?? MIDTRANS_KEY,
      timeoutMs,
    }),
  });
  const defaults = adapters(2000);
  return {
    sandboxUrl,
    control,
    received,
    receiverStatuses,
    xendit: defaults.xendit,
    midtrans: defaults.midtrans,
    adapters,
    async close() {
      await close(sandboxServer);
      await close(receiverServer);
    },
  };
}

let counter = 0;
/** A unique external id per call, like one payment attempt. */
export function attemptId(prefix = "pt"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

export function paymentRequest(
  overrides: Partial<CreatePaymentRequest> = {},
): CreatePaymentRequest {
  const currency: Currency = overrides.currency ?? "IDR";
  return {
    externalId: attemptId(),
    currency,
    exponent: currency === "IDR" ? 0 : 2,
    amountMinor: "145000",
    description: "Invoice INV-001 from Toko Maju",
    customer: { name: "Budi Santoso", email: "budi@example.com" },
    items: [
      { name: "Kopi Gayo 250g", quantity: 2, priceMinor: "60000" },
      { name: "Service fee", quantity: 1, priceMinor: "25000" },
    ],
    ...overrides,
  };
}

/** Fetches a checkout page, and posts one of its forms the way a browser would. */
export async function checkout(checkoutUrl: string): Promise<{ status: number; html: string }> {
  const response = await fetch(checkoutUrl);
  return { status: response.status, html: await response.text() };
}

export function formAction(html: string, action: "pay" | "fail" | "expire"): string {
  const match = new RegExp(`<form method="post" action="([^"]*/${action}[^"]*)"`).exec(html);
  if (!match) throw new Error(`No ${action} form in the page`);
  return match[1].replaceAll("&amp;", "&");
}

export async function clickButton(
  checkoutUrl: string,
  action: "pay" | "fail" | "expire",
): Promise<{ status: number; html: string }> {
  const page = await checkout(checkoutUrl);
  const target = new URL(formAction(page.html, action), checkoutUrl);
  const response = await fetch(target, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "",
  });
  return { status: response.status, html: await response.text() };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check` holds (the sandbox finishing work a timed-out client left behind). */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await sleep(20);
  }
}
