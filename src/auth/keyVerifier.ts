/**
 * Verifies API keys. argon2id is deliberately slow (~20 ms), so a successful
 * verification is cached in memory for a short time, keyed by the prefix and
 * a SHA-256 digest of the secret. The cache is invalidated at once on every
 * process through LISTEN/NOTIFY (the api_keys trigger notifies on any change);
 * if the LISTEN connection drops, the whole cache is cleared.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type pg from "pg";
import { parseApiKey, verifySecret } from "./apiKeys.ts";

export interface VerifiedKey {
  id: string;
  prefix: string;
  role: "tenant" | "admin";
  tenantId: string | null;
  expiresAt: number | null;
  rateLimitPerMinute: number | null;
}

interface CacheEntry {
  digest: Buffer;
  key: VerifiedKey;
  cachedUntil: number;
}

export interface KeyVerifier {
  verify(apiKey: string): Promise<VerifiedKey | null>;
  invalidate(prefix?: string): void;
  close(): Promise<void>;
}

const digestOf = (secret: string) => createHash("sha256").update(secret).digest();

export async function createKeyVerifier(pool: pg.Pool, options: { ttlMs?: number } = {}): Promise<KeyVerifier> {
  const ttlMs = options.ttlMs ?? 60_000;
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<VerifiedKey | null>>();
  let listener: pg.PoolClient | null = null;
  let closed = false;

  const invalidate = (prefix?: string) => (prefix ? cache.delete(prefix) : cache.clear());

  async function listen(): Promise<void> {
    if (closed) return;
    try {
      const client = await pool.connect();
      listener = client;
      client.on("notification", (msg) => invalidate(msg.payload || undefined));
      client.on("error", () => {
        // Notifications may have been missed: forget everything, listen again.
        invalidate();
        client.release(true);
        if (listener === client) listener = null;
        setTimeout(() => void listen(), 1000).unref();
      });
      await client.query("listen paytrust_api_keys");
    } catch {
      invalidate();
      setTimeout(() => void listen(), 1000).unref();
    }
  }
  await listen();

  async function lookup(parsed: { prefix: string; secret: string }): Promise<VerifiedKey | null> {
    const { rows } = await pool.query(
      `select k.id, k.prefix, k.role, k.tenant_id, k.secret_hash, k.expires_at, k.revoked_at,
              t.rate_limit_per_minute
         from paytrust_private.api_keys k
         left join paytrust_public.tenants t on t.id = k.tenant_id
        where k.prefix = $1`,
      [parsed.prefix],
    );
    const row = rows[0];
    if (!row || row.revoked_at) return null;
    if (!(await verifySecret(row.secret_hash, parsed.secret))) return null;
    const key: VerifiedKey = {
      id: row.id,
      prefix: row.prefix,
      role: row.role,
      tenantId: row.tenant_id,
      expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null,
      rateLimitPerMinute: row.rate_limit_per_minute,
    };
    // Only cache while someone is listening for invalidations.
    if (listener) cache.set(parsed.prefix, { digest: digestOf(parsed.secret), key, cachedUntil: Date.now() + ttlMs });
    void pool.query("select paytrust_private.touch_api_key($1)", [row.id]).catch(() => {});
    return key;
  }

  async function verify(apiKey: string): Promise<VerifiedKey | null> {
    const parsed = parseApiKey(apiKey);
    if (!parsed) return null;
    const now = Date.now();
    const entry = cache.get(parsed.prefix);
    let key: VerifiedKey | null;
    if (entry && entry.cachedUntil > now) {
      key = timingSafeEqual(entry.digest, digestOf(parsed.secret)) ? entry.key : null;
    } else {
      const flightKey = `${parsed.prefix}:${digestOf(parsed.secret).toString("hex")}`;
      let promise = inFlight.get(flightKey);
      if (!promise) {
        promise = lookup(parsed).finally(() => inFlight.delete(flightKey));
        inFlight.set(flightKey, promise);
      }
      key = await promise;
    }
    if (key && key.expiresAt !== null && key.expiresAt <= now) return null;
    return key;
  }

  return {
    verify,
    invalidate,
    async close() {
      closed = true;
      cache.clear();
      if (listener) {
        const client = listener;
        listener = null;
        await client.query("unlisten *").catch(() => {});
        client.release();
      }
    },
  };
}
