/**
 * Express middleware: `Authorization: Bearer <api key>` → req.apiKey, or a
 * 401 JSON error before anything is executed.
 */
import type { NextFunction, Request, Response } from "express";
import type { KeyVerifier, VerifiedKey } from "./keyVerifier.ts";

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

export interface AuthOptions {
  verifier: KeyVerifier;
  /** Called on every failed attempt (audit log, brute-force limiter). */
  onFailure?: (req: Request, reason: string) => void | Promise<void>;
  /** Lets a request through without a key (e.g. GraphiQL's page itself). */
  optional?: (req: Request) => boolean;
}

export function authenticate(options: AuthOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (options.optional?.(req)) return next();
    const header = req.headers.authorization;
    const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) {
      await options.onFailure?.(req, "missing");
      return sendError(res, 401, "PTAUTH", "Missing API key: send Authorization: Bearer <api key>");
    }
    let key: VerifiedKey | null;
    try {
      key = await options.verifier.verify(match[1]);
    } catch {
      return sendError(res, 503, "PTUNAV", "Authentication is temporarily unavailable; retry shortly");
    }
    if (!key) {
      await options.onFailure?.(req, "invalid");
      return sendError(res, 401, "PTAUTH", "Invalid, expired or revoked API key");
    }
    req.apiKey = key;
    next();
  };
}

/** Admin-only routes. */
export function requireRole(role: "tenant" | "admin") {
  return (req: Request, res: Response, next: NextFunction) => {
    if (req.apiKey?.role !== role) return sendError(res, 403, "PTPRM", `This route needs a ${role} API key`);
    next();
  };
}
