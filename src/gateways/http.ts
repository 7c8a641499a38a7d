/**
 * The one way adapters talk to gateways: fetch + JSON with a bounded timeout,
 * and every failure classified for the worker's retry policy:
 * network error, timeout, 5xx, 429 and a garbled 2xx are transient (retry with
 * backoff; the adapters make a retry safe); other 4xx are permanent.
 * Messages carry the gateway's own words but never a key or an Authorization value.
 */
import { GatewayError } from "./types.ts";

export interface JsonRequest {
  /** For messages: "Xendit", "Midtrans". */
  gateway: string;
  method: "GET" | "POST";
  url: string;
  /** Authorization header value; never echoed. */
  authorization?: string;
  /** JSON text; the caller serializes so amounts stay exact (see json.ts). */
  body?: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Non-2xx statuses handed back instead of thrown (e.g. 404 meaning "none yet"). */
  allowStatuses?: readonly number[];
  /** Strings to blank out of any message (keys); the authorization value is always added. */
  secrets?: readonly string[];
}

export interface JsonResponse {
  status: number;
  /** Parsed JSON; null when an allowed non-2xx status came with no usable JSON. */
  body: unknown;
}

/** "Basic base64(user:password)": both gateways authenticate this way. */
export function basicAuth(user: string, password = ""): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The human part of a gateway error body: Xendit {error_code, message}, Midtrans {error_messages} or {status_message}. */
export function gatewayMessage(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const b = body as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof b.error_code === "string") parts.push(b.error_code);
  if (typeof b.message === "string") parts.push(b.message);
  if (Array.isArray(b.error_messages))
    parts.push(b.error_messages.filter((m) => typeof m === "string").join("; "));
  if (typeof b.status_message === "string") parts.push(b.status_message);
  const text = parts.filter((p) => p !== "").join(": ");
  return text === "" ? null : text;
}

/** Removes secrets (and their Basic-auth encodings) from a message, and caps its length. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) {
    if (secret.length < 4) continue;
    out = out.split(secret).join("[redacted]");
  }
  return out.length > 500 ? `${out.slice(0, 500)}…` : out;
}

function secretsOf(request: JsonRequest): string[] {
  const secrets = [...(request.secrets ?? [])];
  if (request.authorization) {
    secrets.push(request.authorization);
    const token = request.authorization.replace(/^\S+\s+/, "");
    secrets.push(token);
  }
  // Longest first so a key inside a longer secret is not half-replaced.
  return secrets.sort((a, b) => b.length - a.length);
}

function describe(request: JsonRequest): string {
  // The path only: query strings could grow to carry data we do not want in logs.
  let path = request.url;
  try {
    path = new URL(request.url).pathname;
  } catch {}
  return `${request.gateway} ${request.method} ${path}`;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function failure(
  request: JsonRequest,
  text: string,
  options: ConstructorParameters<typeof GatewayError>[1],
) {
  return new GatewayError(redact(`${describe(request)}: ${text}`, secretsOf(request)), options);
}

export async function requestJson(request: JsonRequest): Promise<JsonResponse> {
  const headers: Record<string, string> = { accept: "application/json", ...request.headers };
  if (request.body !== undefined) headers["content-type"] = "application/json";
  if (request.authorization) headers.authorization = request.authorization;

  let status: number;
  let text: string;
  let retryAfter: string | null;
  try {
    // One signal for connect, headers and body: a gateway that trickles its
    // body cannot hold a worker slot past the bound either.
    const response = await fetch(request.url, {
      method: request.method,
      headers,
      body: request.body,
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    status = response.status;
    retryAfter = response.headers.get("retry-after");
    text = await response.text();
  } catch (error) {
    const name = (error as { name?: string } | null)?.name;
    const timedOut = name === "TimeoutError" || name === "AbortError";
    const reason = timedOut ? `timed out after ${request.timeoutMs} ms` : "network error";
    // The cause's text (e.g. ECONNREFUSED) helps operators and carries no secret.
    const cause = (error as { cause?: { code?: string } } | null)?.cause?.code;
    throw failure(request, cause ? `${reason} (${cause})` : reason, { transient: true });
  }

  const parsed = parseJson(text);
  if (status >= 200 && status < 300) {
    if (!parsed.ok)
      throw failure(request, `HTTP ${status} with malformed JSON`, { transient: true, status });
    return { status, body: parsed.value };
  }
  if (request.allowStatuses?.includes(status))
    return { status, body: parsed.ok ? parsed.value : null };

  const said = (parsed.ok ? gatewayMessage(parsed.value) : null) ?? "no error message";
  if (status === 429) {
    throw failure(request, `HTTP 429 rate limited: ${said}`, {
      transient: true,
      status,
      retryAfterMs: parseRetryAfter(retryAfter),
    });
  }
  if (status >= 500) throw failure(request, `HTTP ${status}: ${said}`, { transient: true, status });
  throw failure(request, `HTTP ${status}: ${said}`, { transient: false, status });
}
