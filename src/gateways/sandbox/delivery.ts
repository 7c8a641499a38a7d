/**
 * Webhook delivery like the real gateways do it: POST, and on a non-2xx answer
 * or a network error try again a few times with growing delays. Sends exactly
 * the bytes it is given, so a signature over them stays valid.
 */
import type { SandboxWebhook } from "./payloads.ts";

export interface DeliveryAttempt {
  /** HTTP status, or null for a network error / timeout. */
  status: number | null;
  error?: string;
}

export interface DeliveryResult {
  url: string;
  delivered: boolean;
  /** Status of the last attempt. */
  status: number | null;
  attempts: DeliveryAttempt[];
}

export interface DeliveryOptions {
  /** Waits before each retry; its length is the number of retries. */
  retryDelaysMs: readonly number[];
  timeoutMs: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  retryDelaysMs: [200, 500, 1000],
  timeoutMs: 5000,
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function attempt(webhook: SandboxWebhook, timeoutMs: number): Promise<DeliveryAttempt> {
  try {
    const response = await fetch(webhook.url, {
      method: "POST",
      headers: webhook.headers,
      body: webhook.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Drain the body so the connection can be reused.
    await response.arrayBuffer().catch(() => {});
    return { status: response.status };
  } catch (error) {
    return {
      status: null,
      error: (error as Error).name === "TimeoutError" ? "timeout" : "network error",
    };
  }
}

export async function deliverWebhook(
  webhook: SandboxWebhook,
  options: DeliveryOptions,
): Promise<DeliveryResult> {
  const attempts: DeliveryAttempt[] = [];
  for (let i = 0; i <= options.retryDelaysMs.length; i++) {
    if (i > 0) await sleep(options.retryDelaysMs[i - 1]);
    const result = await attempt(webhook, options.timeoutMs);
    attempts.push(result);
    if (result.status !== null && result.status >= 200 && result.status < 300) {
      return { url: webhook.url, delivered: true, status: result.status, attempts };
    }
  }
  return { url: webhook.url, delivered: false, status: attempts.at(-1)?.status ?? null, attempts };
}
