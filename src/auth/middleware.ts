/**
 * Express middleware: `Authorization: Bearer <api key>` → req.apiKey, or a
 * 401 JSON error before anything is executed.
 */
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../http/errors.ts";
import type { FailureReason, KeyVerifier, VerifiedKey } from "./keyVerifier.ts";
import type { AuthBudget } from "./rateLimit.ts";

declare global {
  namespace Express {
    interface Request {
      apiKey?: VerifiedKey;
    }
  }
}

/** What is known about a refused attempt: never the secret. */
export interface AuthFailure {
  reason: "missing" | FailureReason;
  /** The key's non-secret prefix, when the presented key was well-formed. */
  prefix?: string;
  /** The key and tenant the prefix belongs to, when it exists. */
  keyId?: string;
  tenantId?: string | null;
}

export interface AuthOptions {
  verifier: KeyVerifier;
  /**
   * The IP's failed-auth budget. Every 401 costs a point: a point is reserved
   * before a key is looked up and verified (argon2) and refunded when the key is
   * valid; refusals that need no lookup (missing or malformed key, a cached key
   * with the wrong secret, a lookup shared with a request in flight) take theirs
   * when they happen. With no point left the answer is 429, not 401.
   */
  budget?: AuthBudget;
  /** Called on every failed attempt (audit log, brute-force limiter). */
  onFailure?: (req: Request, failure: AuthFailure) => void | Promise<void>;
  /** Lets a request through without a key (e.g. GraphiQL's page itself). */
  optional?: (req: Request) => boolean;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

export function authenticate(options: AuthOptions) {
  // A cached valid key (the common case) passes synchronously: no promise, no await.
  return (req: Request, res: Response, next: NextFunction) => {
    if (options.optional?.(req)) return next();
    const header = req.headers.authorization;
    const match = typeof header === "string" ? BEARER.exec(header) : null;
    const cached = match ? options.verifier.peek(match[1]) : null;
    if (cached) {
      req.apiKey = cached;
      return next();
    }
    return verifyAsync(options, req, res, next, match);
  };
}

async function verifyAsync(
  options: AuthOptions,
  req: Request,
  res: Response,
  next: NextFunction,
  match: RegExpExecArray | null,
) {
  const { budget } = options;
  if (!match) {
    if (budget && !(await budget.take(req))) return budget.refuse(req, res);
    await options.onFailure?.(req, { reason: "missing" });
    return sendError(res, 401, "PTAUTH", "Missing API key: send Authorization: Bearer <api key>");
  }
  let refund: (() => void) | null = null;
  const reserve = budget
    ? async () => {
        refund = await budget.take(req);
        return refund !== null;
      }
    : undefined;
  let result: Awaited<ReturnType<KeyVerifier["check"]>>;
  try {
    result = await options.verifier.check(match[1], { reserve });
  } catch {
    (refund as (() => void) | null)?.();
    return sendError(
      res,
      503,
      "PTUNAV",
      "Authentication is temporarily unavailable; retry shortly",
    );
  }
  if (result.reason === "throttled") return budget?.refuse(req, res);
  if (!result.key) {
    // No point reserved for this request yet: take one now, or refuse with 429.
    if (budget && refund === null && !(await budget.take(req))) return budget.refuse(req, res);
    const { reason, prefix, keyId, tenantId } = result;
    await options.onFailure?.(req, { reason, prefix, keyId, tenantId });
    // One message for every reason: a client learns nothing about the key.
    return sendError(res, 401, "PTAUTH", "Invalid, expired or revoked API key");
  }
  (refund as (() => void) | null)?.();
  req.apiKey = result.key;
  next();
}

/** Admin-only routes. */
export function requireRole(role: "tenant" | "admin") {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.apiKey?.role !== role)
      return sendError(res, 403, "PTPRM", `This route needs a ${role} API key`);
    next();
  };
}
