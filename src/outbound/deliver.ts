/**
 * One delivery attempt of an outbound event to one endpoint: read what to
 * send from SQL, POST it signed, record the outcome in SQL (which schedules
 * the next attempt, or disables an endpoint failing for 3 days).
 *
 * Bounded: one timeout for connect + answer, redirects are not followed (a
 * 3xx is a failure), at most 4 KB of the answer is read and kept. Safe: the
 * URL is checked again here and the socket only connects to addresses that
 * pass the policy (src/outbound/urlPolicy.ts).
 */
import http from "node:http";
import https from "node:https";
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature.ts";
import { guardedLookup, parseWebhookUrl, resolvePermitted, type UrlPolicy } from "./urlPolicy.ts";

export interface DeliveryJob {
  eventId: string;
  endpointId: string;
  attempt: number;
}

export interface DeliveryOptions {
  policy: UrlPolicy;
  timeoutMs: number;
  /** The first retry's delay; each later one is 4 × longer, at most 12 hours. */
  retryBaseSeconds: number;
}

export type Query = (
  text: string,
  values: unknown[],
) => Promise<{ rows: Array<Record<string, any>> }>;

interface DeliveryRequest {
  eventId: string;
  type: string;
  createdAt: string;
  data: unknown;
  url: string;
  secrets: string[];
}

export interface PostResult {
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
}

export const MAX_RESPONSE_BYTES = 4096;
const MAX_RETRY_DELAY_SECONDS = 12 * 3600;

/** Delay before the attempt after `attempt` failed: base, 4 × base, 16 × base, … ≤ 12 h. */
export function retryDelaySeconds(attempt: number, baseSeconds: number): number {
  return Math.min(MAX_RETRY_DELAY_SECONDS, baseSeconds * 4 ** Math.max(0, attempt - 1));
}

/** The JSON body every endpoint receives; the same for every attempt of an event. */
export function eventBody(
  request: Pick<DeliveryRequest, "eventId" | "type" | "createdAt" | "data">,
) {
  return JSON.stringify({
    id: request.eventId,
    type: request.type,
    createdAt: new Date(request.createdAt).toISOString(),
    data: request.data,
  });
}

/** POSTs once; never throws (errors and timeouts come back in `error`). */
export function postWebhook(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: { policy: UrlPolicy; timeoutMs: number },
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: Omit<PostResult, "durationMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed() });
    };
    const transport = url.protocol === "https:" ? https : http;
    const req = transport.request(url, {
      method: "POST",
      headers: {
        ...headers,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        "user-agent": "PayTrust-Webhooks/1.0",
      },
      lookup: guardedLookup(options.policy) as any,
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({
        statusCode: null,
        responseBody: null,
        error: `Timed out after ${options.timeoutMs} ms`,
      });
    }, options.timeoutMs);
    req.on("error", (error) =>
      finish({ statusCode: null, responseBody: null, error: error.message.slice(0, 1000) }),
    );
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () =>
        finish({
          statusCode: res.statusCode ?? null,
          responseBody: Buffer.concat(chunks)
            .subarray(0, MAX_RESPONSE_BYTES)
            .toString("utf8")
            // PostgreSQL text cannot hold NUL
            .replaceAll("\u0000", ""),
          error: null,
        });
      res.on("data", (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_RESPONSE_BYTES) {
          done();
          res.destroy();
        }
      });
      res.on("end", done);
      res.on("error", done);
      res.on("close", done);
    });
    req.end(body);
  });
}

/** Runs one attempt; returns record_webhook_delivery's outcome (or 'gone'). */
export async function deliverWebhook(
  query: Query,
  job: DeliveryJob,
  options: DeliveryOptions,
): Promise<string> {
  const { rows } = await query(
    "select paytrust_private.webhook_delivery_request($1, $2) as request",
    [job.eventId, job.endpointId],
  );
  const request = rows[0]?.request as DeliveryRequest | null;
  // Endpoint deleted or disabled, or event gone: nothing to deliver.
  if (!request) return "gone";

  const body = eventBody(request);
  const timestamp = Math.floor(Date.now() / 1000);
  let result: PostResult;
  try {
    const url = parseWebhookUrl(request.url, options.policy);
    // IP literals never reach the socket's lookup: check them (and names) here too.
    await resolvePermitted(url.hostname.replace(/^\[(.*)\]$/, "$1"), options.policy);
    result = await postWebhook(
      url,
      body,
      {
        [SIGNATURE_HEADER]: signatureHeader(request.secrets, timestamp, body),
        [EVENT_ID_HEADER]: request.eventId,
        "PayTrust-Event-Type": request.type,
        "PayTrust-Delivery-Attempt": String(job.attempt),
      },
      options,
    );
  } catch (error) {
    result = {
      statusCode: null,
      durationMs: 0,
      responseBody: null,
      error: (error instanceof Error ? error.message : String(error)).slice(0, 1000),
    };
  }
  const succeeded =
    result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const error =
    result.error ?? (succeeded ? null : `Endpoint answered HTTP ${result.statusCode ?? "?"}`);
  const recorded = await query(
    "select paytrust_private.record_webhook_delivery($1, $2, $3, $4, $5, $6, $7, $8, $9) as outcome",
    [
      job.eventId,
      job.endpointId,
      job.attempt,
      succeeded,
      result.statusCode,
      result.durationMs,
      error,
      result.responseBody,
      retryDelaySeconds(job.attempt, options.retryBaseSeconds),
    ],
  );
  return String(recorded.rows[0]?.outcome ?? "gone");
}
