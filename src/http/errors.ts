/**
 * The JSON error every HTTP edge answers with (server, routes, webhooks, the
 * GraphQL request checks, the auth middleware): `{"errors":[{"message",
 * "extensions":{"code"}}]}`, the same shape as a GraphQL error, so a client
 * reads one format everywhere. Codes are listed in docs/errors.md.
 *
 * A service (imported by edges and by auth's middleware); imports foundations only.
 */
import type { Response } from "express";
import type { PayTrustError } from "../errors.ts";

/** The status of a PayTrustError that carries none, by code; any other code is the client's fault (400). */
const STATUS_BY_CODE: Record<string, number> = {
  PTAUTH: 401,
  PTSIG: 401,
  PTPRM: 403,
  PTADM: 403,
  PTNFD: 404,
  PTSIZE: 413,
  PTISO: 422,
  PTWHM: 422,
  PTRATE: 429,
  PTINTERNAL: 500,
  PTUNAV: 503,
};

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ errors: [{ message, extensions: { code } }] });
}

export function httpStatusOf(error: PayTrustError): number {
  return error.httpStatus ?? STATUS_BY_CODE[error.code] ?? 400;
}

export function sendPayTrustError(res: Response, error: PayTrustError): void {
  sendError(res, httpStatusOf(error), error.code, error.message);
}
