/**
 * Verifies API keys. argon2id is deliberately slow (~20 ms), so a successful
 * verification is cached in memory for a short time, keyed by the prefix and
 * a SHA-256 digest of the secret (compared in constant time). The cache is
 * invalidated at once on every process through LISTEN/NOTIFY: the api_keys
 * trigger notifies on any change to a key (revocation, rotation, expiry) and
 * the tenants trigger on a rate-limit change. Caching only happens while the
 * LISTEN connection is up; when it drops, the whole cache is cleared and every
 * request verifies against the database until it is back.
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

/** Why a key was refused: for the audit log only, never for the client. */
export type FailureReason = "malformed" | "unknown" | "revoked" | "expired" | "invalid";

export type Verification =
  | { key: VerifiedKey; reason?: undefined; prefix: string }
  | { key: null; reason: FailureReason; prefix?: string; keyId?: string; tenantId?: string | null }
  /** options.reserve refused: the caller's failed-auth budget is spent; nothing was verified. */
  | { key: null; reason: "throttled"; prefix?: string; keyId?: undefined; tenantId?: undefined };

export interface CheckOptions {
  /**
   * Called before a database lookup (and argon2) starts for this key; not on a
   * cache hit, nor when joining a lookup of the same key already in flight.
   * Resolve false to refuse the lookup (the result is then "throttled").
   */
  reserve?: () => Promise<boolean>;
}

interface CacheEntry {
  digest: Buffer;
  key: VerifiedKey;
  cachedUntil: number;
}

export interface KeyVerifier {
  verify(apiKey: string): Promise<VerifiedKey | null>;
  /**
   * Synchronously: the key when it is cached, valid and unexpired (no promise,
   * no database, no argon2); null means "ask check()" (not cached, or refused).
   */
  peek(apiKey: string): VerifiedKey | null;
  /** Like verify, with the reason for a refusal (audit log). */
  check(apiKey: string, options?: CheckOptions): Promise<Verification>;
  invalidate(prefix?: string): void;
  /** True while the LISTEN connection is up (and results are cached). */
  readonly listening: boolean;
  close(): Promise<void>;
}

const digestOf = (secret: string) => createHash("sha256").update(secret).digest();

type Lookup =
  | { ok: true; key: VerifiedKey }
  | { ok: false; reason: FailureReason; keyId?: string; tenantId?: string | null };

export async function createKeyVerifier(
  pool: pg.Pool,
  options: { ttlMs?: number } = {},
): Promise<KeyVerifier> {
  const ttlMs = options.ttlMs ?? 60_000;
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<Lookup>>();
  let listener: pg.PoolClient | null = null;
  let closed = false;
  // Bumped by every invalidation: a lookup that raced with one must not be cached.
  let generation = 0;

  const invalidate = (prefix?: string) => {
    generation++;
    if (prefix) cache.delete(prefix);
    else cache.clear();
  };

  function retryListen(): void {
    if (!closed) setTimeout(() => void listen(), 1000).unref();
  }

  async function listen(): Promise<void> {
    if (closed) return;
    let client: pg.PoolClient | null = null;
    try {
      client = await pool.connect();
      const own = client;
      own.on("notification", (msg) => invalidate(msg.payload || undefined));
      const lost = () => {
        // Notifications may have been missed: forget everything, listen again.
        if (listener !== own) return;
        listener = null;
        invalidate();
        own.release(true);
        retryListen();
      };
      own.on("error", lost);
      own.on("end", lost);
      // The channel's name is a per-database secret (LISTEN/NOTIFY take no privilege).
      const { rows } = await own.query<{ channel: string }>(
        "select paytrust_private.key_cache_channel() as channel",
      );
      await own.query(`listen ${own.escapeIdentifier(rows[0].channel)}`);
      if (closed) {
        own.release(true);
        return;
      }
      // Anything cached before this point may have missed a notification.
      invalidate();
      listener = own;
    } catch {
      if (client && listener !== client) client.release(true);
      invalidate();
      retryListen();
    }
  }
  await listen();

  async function lookup(parsed: { prefix: string; secret: string }): Promise<Lookup> {
    const startedAt = generation;
    const { rows } = await pool.query(
      `select k.id, k.prefix, k.role, k.tenant_id, k.secret_hash, k.expires_at, k.revoked_at,
              t.rate_limit_per_minute
         from paytrust_private.api_keys k
         left join paytrust_public.tenants t on t.id = k.tenant_id
        where k.prefix = $1`,
      [parsed.prefix],
    );
    const row = rows[0];
    if (!row) return { ok: false, reason: "unknown" };
    const ids = { keyId: row.id as string, tenantId: row.tenant_id as string | null };
    if (row.revoked_at) return { ok: false, reason: "revoked", ...ids };
    if (!(await verifySecret(row.secret_hash, parsed.secret)))
      return { ok: false, reason: "invalid", ...ids };
    const key: VerifiedKey = {
      id: row.id,
      prefix: row.prefix,
      role: row.role,
      tenantId: row.tenant_id,
      expiresAt: row.expires_at ? new Date(row.expires_at).getTime() : null,
      rateLimitPerMinute: row.rate_limit_per_minute,
    };
    // Cache only while listening for invalidations, and only if none arrived
    // while this lookup ran (it may have read the row before the change).
    if (listener && generation === startedAt) {
      cache.set(parsed.prefix, {
        digest: digestOf(parsed.secret),
        key,
        cachedUntil: Date.now() + ttlMs,
      });
    }
    void pool.query("select paytrust_private.touch_api_key($1)", [row.id]).catch(() => {});
    return { ok: true, key };
  }

  function peek(apiKey: string): VerifiedKey | null {
    const parsed = parseApiKey(apiKey);
    if (!parsed) return null;
    const entry = cache.get(parsed.prefix);
    const now = Date.now();
    if (!entry || entry.cachedUntil <= now) return null;
    if (!timingSafeEqual(entry.digest, digestOf(parsed.secret))) return null;
    const { key } = entry;
    return key.expiresAt !== null && key.expiresAt <= now ? null : key;
  }

  async function check(apiKey: string, options: CheckOptions = {}): Promise<Verification> {
    const parsed = parseApiKey(apiKey);
    if (!parsed) return { key: null, reason: "malformed" };
    const now = Date.now();
    const digest = digestOf(parsed.secret);
    const entry = cache.get(parsed.prefix);
    let result: Lookup;
    if (entry && entry.cachedUntil > now) {
      result = timingSafeEqual(entry.digest, digest)
        ? { ok: true, key: entry.key }
        : { ok: false, reason: "invalid", keyId: entry.key.id, tenantId: entry.key.tenantId };
    } else {
      if (entry) cache.delete(parsed.prefix);
      const flightKey = `${parsed.prefix}:${digest.toString("hex")}`;
      let promise = inFlight.get(flightKey);
      if (!promise && options.reserve && !(await options.reserve())) {
        return { key: null, reason: "throttled", prefix: parsed.prefix };
      }
      // Another request may have started the same lookup while the reservation was made.
      promise ??= inFlight.get(flightKey);
      if (!promise) {
        promise = lookup(parsed).finally(() => inFlight.delete(flightKey));
        inFlight.set(flightKey, promise);
      }
      result = await promise;
    }
    if (!result.ok) {
      return {
        key: null,
        reason: result.reason,
        prefix: parsed.prefix,
        keyId: result.keyId,
        tenantId: result.tenantId,
      };
    }
    const { key } = result;
    if (key.expiresAt !== null && key.expiresAt <= now) {
      return {
        key: null,
        reason: "expired",
        prefix: parsed.prefix,
        keyId: key.id,
        tenantId: key.tenantId,
      };
    }
    return { key, prefix: parsed.prefix };
  }

  return {
    check,
    peek,
    async verify(apiKey) {
      return (await check(apiKey)).key;
    },
    invalidate,
    get listening() {
      return listener !== null;
    },
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
