/**
 * The one error type PayTrust's TypeScript throws on purpose: a project code
 * from docs/errors.md (PTVAL, PTURL, PTENV, …), a message meant for whoever
 * gets it, and optionally the HTTP status an HTTP edge answers with (without
 * one, src/http/errors.ts derives it from the code).
 *
 * How it reaches callers: GraphQL passes it through with `extensions.code`
 * (src/plugins/maskError.ts), HTTP routes answer `{"errors":[{"message",
 * "extensions":{"code"}}]}` (src/http/errors.ts sendPayTrustError), the CLI
 * prints `paytrust: [CODE] message`. SQL raises its own codes as SQLSTATEs
 * (`raise exception … using errcode = 'PTxxx'`); pg errors carry them as
 * `code` and take the same paths. A foundation: imports nothing of PayTrust's.
 */
export class PayTrustError extends Error {
  readonly code: string;
  readonly httpStatus?: number;

  constructor(
    code: string,
    message: string,
    options: { httpStatus?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PayTrustError";
    this.code = code;
    if (options.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

export function isPayTrustError(error: unknown): error is PayTrustError {
  return error instanceof PayTrustError;
}
