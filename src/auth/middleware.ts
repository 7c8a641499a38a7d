/**
 * Express middleware: `Authorization: Bearer <api key>` → req.apiKey, or a
 * 401 JSON error before anything is executed.
 */
import type { NextFunction, Request, Response } from "express";
import type { FailureReason, KeyVerifier, VerifiedKey } from "./keyVerifier.ts";

declare global {
  namespace Express {
    interface Request {
      apiKey?: VerifiedKey;
    }
  }
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
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
  /** Called on every failed attempt (audit log, brute-force limiter). */
  onFailure?: (req: Request, failure: AuthFailure) => void | Promise<void>;
  /** Lets a request through without a key (e.g. GraphiQL's page itself). */
  optional?: (req: Request) => boolean;
}

export function authenticate(options: AuthOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (options.optional?.(req)) return next();
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      await options.onFailure?.(req, { reason: "missing" });
      return sendError(res, 401, "PTAUTH", "Missing API key: send Authorization: Bearer <api key>");
    }
    let result: Awaited<ReturnType<KeyVerifier["check"]>>;
    try {
      result = await options.verifier.check(match[1]);
    } catch {
      return sendError(
        res,
        503,
        "PTUNAV",
        "Authentication is temporarily unavailable; retry shortly",
      );
    }
    if (!result.key) {
      const { reason, prefix, keyId, tenantId } = result;
      await options.onFailure?.(req, { reason, prefix, keyId, tenantId });
      // One message for every reason: a client learns nothing about the key.
      return sendError(res, 401, "PTAUTH", "Invalid, expired or revoked API key");
    }
    req.apiKey = result.key;
    next();
  };
}

/** Admin-only routes. */
export function requireRole(role: "tenant" | "admin") {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.apiKey?.role !== role)
      return sendError(res, 403, "PTPRM", `This route needs a ${role} API key`);
    next();
  };
}
