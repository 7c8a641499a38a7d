/**
 * helmet's security headers, computed once. helmet runs a dozen small
 * middlewares per request, each calling res.setHeader; none of their values
 * depends on the request with the options used here (no CSP nonces), so the
 * headers are captured from helmet itself at start-up (helmet stays the
 * source of truth for names and values) and every response gets them in one
 * res.setHeaders call from a precomputed Map. (helmet also removes
 * X-Powered-By per request; the app disables that header instead:
 * app.disable("x-powered-by").)
 */
import type { NextFunction, Request, Response } from "express";
import helmet, { type HelmetOptions } from "helmet";

/** The headers helmet(options) sets on a response, in order (lower-case names). */
export function helmetHeaders(options: HelmetOptions): Map<string, string> {
  const headers = new Map<string, string>();
  const capture = {
    setHeader(name: string, value: unknown) {
      headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(", ") : String(value));
      return capture;
    },
    removeHeader(name: string) {
      headers.delete(name.toLowerCase());
    },
    getHeader: (name: string) => headers.get(name.toLowerCase()),
  };
  let error: unknown = null;
  let done = false;
  helmet(options)({} as Request, capture as unknown as Response, (err?: unknown) => {
    error = err ?? null;
    done = true;
  });
  // helmet is synchronous; anything else would mean request-dependent headers.
  if (!done || error)
    throw new Error("helmet did not finish synchronously: headers not precomputed");
  return headers;
}

export function securityHeaders(options: HelmetOptions) {
  const headers = helmetHeaders(options);
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeaders(headers);
    next();
  };
}
