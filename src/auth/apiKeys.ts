/**
 * API keys: `pt_live_<prefix>_<secret>`. The prefix is a non-secret lookup
 * id; only the argon2id hash of the secret is stored (paytrust_private.api_keys).
 */
import { randomBytes } from "node:crypto";
import argon2 from "argon2";
import type pg from "pg";

const KEY_PATTERN = /^pt_live_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const PREFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

export interface ParsedKey {
  prefix: string;
  secret: string;
}

export function generateApiKey(): ParsedKey & { apiKey: string } {
  const bytes = randomBytes(12);
  const prefix = Array.from(bytes, (b) => PREFIX_ALPHABET[b % PREFIX_ALPHABET.length]).join("");
  const secret = randomBytes(32).toString("base64url");
  return { prefix, secret, apiKey: `pt_live_${prefix}_${secret}` };
}

export function parseApiKey(apiKey: string): ParsedKey | null {
  const match = KEY_PATTERN.exec(apiKey);
  return match ? { prefix: match[1], secret: match[2] } : null;
}

export function hashSecret(secret: string): Promise<string> {
  // OWASP's argon2id baseline: 19 MiB, 2 iterations, 1 lane.
  return argon2.hash(secret, {
    type: argon2.argon2id,
    memoryCost: 19456,
    timeCost: 2,
    parallelism: 1,
  });
}

export function verifySecret(hash: string, secret: string): Promise<boolean> {
  return argon2.verify(hash, secret).catch(() => false);
}

export interface NewKey {
  tenantId: string | null;
  role: "tenant" | "admin";
  name: string;
  rotatedFrom?: string | null;
}

/** Inserts a key (owner connection) and returns its id and the plaintext, shown once. */
export async function issueApiKey(
  client: pg.ClientBase,
  key: NewKey,
): Promise<{ id: string; apiKey: string }> {
  const { prefix, secret, apiKey } = generateApiKey();
  const hash = await hashSecret(secret);
  const { rows } = await client.query<{ id: string }>(
    `insert into paytrust_private.api_keys (tenant_id, role, name, prefix, secret_hash, rotated_from)
     values ($1, $2, $3, $4, $5, $6) returning id`,
    [key.tenantId, key.role, key.name, prefix, hash, key.rotatedFrom ?? null],
  );
  return { id: rows[0].id, apiKey };
}
