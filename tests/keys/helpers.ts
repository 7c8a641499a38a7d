/** HTTP helpers for the API-key, audit and rate-limit tests: headers in, headers out. */
import { randomBytes } from "node:crypto";
import type { TestApp } from "../helpers/app.ts";

export const KEY_PATTERN = /^pt_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/;

export interface CallOptions {
  apiKey?: string;
  /** Sent as X-Forwarded-For (the app trusts its loopback proxy): simulates a client IP. */
  ip?: string;
  userAgent?: string;
  variables?: Record<string, unknown>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(
  app: TestApp | string,
  query: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const url = typeof app === "string" ? app : app.url;
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...(options.ip ? { "x-forwarded-for": options.ip } : {}),
      ...(options.userAgent ? { "user-agent": options.userAgent } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

/** The data of a successful GraphQL call; fails the test with the errors otherwise. */
export function dataOf(result: CallResult): any {
  if (result.status !== 200 || result.body?.errors) {
    throw new Error(`GraphQL call failed (${result.status}): ${JSON.stringify(result.body)}`);
  }
  return result.body.data;
}

/** The first error's extensions.code. */
export const codeOf = (result: CallResult): string | undefined =>
  result.body?.errors?.[0]?.extensions?.code;

export const ME = "{ currentTenantId }";

export const API_KEY_FIELDS =
  "id tenantId role name prefix rotatedFrom createdAt expiresAt revokedAt";

export const CREATE_TENANT =
  "mutation($name: String!) { createTenant(input: {name: $name}) { tenant { id name } } }";

export const CREATE_API_KEY = `mutation($tenantId: UUID!, $name: String!) {
  createApiKey(input: {tenantId: $tenantId, name: $name}) { apiKey { ${API_KEY_FIELDS} } plaintextKey }
}`;

export const ROTATE_API_KEY = `mutation($id: UUID!, $graceSeconds: Int) {
  rotateApiKey(input: {id: $id, graceSeconds: $graceSeconds}) {
    apiKey { ${API_KEY_FIELDS} } plaintextKey rotatedApiKey { ${API_KEY_FIELDS} }
  }
}`;

export const REVOKE_API_KEY = `mutation($id: UUID!) { revokeApiKey(input: {id: $id}) { apiKey { ${API_KEY_FIELDS} } } }`;

/** A documentation-range IPv4 address (RFC 5737) unique enough for one test run. */
export function testIp(): string {
  const [a, b] = randomBytes(2);
  return `198.51.${a}.${Math.max(1, b)}`;
}

/** A well-formed key that does not exist. */
export function randomKey(): string {
  const prefix = Array.from(
    randomBytes(12),
    (b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36],
  ).join("");
  return `pt_live_${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** The same prefix with a wrong (well-formed) secret. Secrets may contain "_": slice, don't split. */
export function wrongSecretFor(apiKey: string): string {
  return `${apiKey.slice(0, "pt_live_".length + 12)}_${"B".repeat(43)}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() is truthy; fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs)
      throw new Error(`Condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}
