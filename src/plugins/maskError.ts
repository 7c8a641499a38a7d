/**
 * grafserv masks every error by default. PayTrust's own codes (PTxxx, listed
 * in docs/errors.md: SQLSTATEs raised by the SQL, PayTrustError thrown by the
 * TypeScript) are meant for clients: pass them through with `extensions.code`.
 * A few standard PostgreSQL errors are translated to stable codes; everything
 * else stays masked (and logged with a hash).
 */
import { createHash, randomBytes } from "node:crypto";
import { isSafeError } from "postgraphile/grafast";
import { defaultMaskError } from "postgraphile/grafserv";
import { GraphQLError } from "postgraphile/graphql";
import { PayTrustError } from "../errors.ts";
import type { Logger } from "../logger.ts";

const STANDARD_CODES: Record<string, { code: string; message?: string }> = {
  "42501": { code: "PTPRM", message: "Permission denied" },
  "22P02": { code: "PTVAL", message: "Invalid input value" },
  "22003": { code: "PTCAP", message: "A number is out of range" },
  "22001": { code: "PTVAL", message: "A text value is too long" },
  "23502": { code: "PTVAL", message: "A required value is missing" },
  "23514": { code: "PTVAL", message: "A value breaks a data rule" },
  "23505": { code: "PTDUP", message: "This already exists" },
  "23503": { code: "PTREF", message: "A referenced record does not exist" },
  "22007": { code: "PTVAL", message: "Invalid date or time" },
  "22008": { code: "PTVAL", message: "Date or time out of range" },
  "2201E": { code: "PTVAL", message: "Invalid numeric argument" },
  "22023": { code: "PTVAL", message: "Invalid parameter value" },
  "54000": { code: "PTVAL", message: "The input is too large" },
  "22021": { code: "PTVAL", message: "Text contains invalid characters" },
  "22P05": { code: "PTVAL", message: "Text contains invalid characters" },
};

export function projectErrorCode(original: unknown): { code: string; message: string } | null {
  // Thrown on purpose by PayTrust's TypeScript (src/errors.ts): its code and message are for the client.
  if (original instanceof PayTrustError) return { code: original.code, message: original.message };
  const err = original as { code?: unknown; message?: unknown } | null;
  if (!err || typeof err.code !== "string") {
    // pg's "Connection terminated" and pool timeouts carry no code.
    if (
      err &&
      /Connection terminated|timeout exceeded when trying to connect|is not queryable/i.test(
        String(err.message),
      )
    ) {
      return { code: "PTUNAV", message: "The database is unavailable; retry shortly" };
    }
    return null;
  }
  // Connection exceptions, server shutdown or start-up, refused sockets: transient unavailability.
  if (
    /^(08|57P0)/.test(err.code) ||
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE"].includes(err.code)
  ) {
    return { code: "PTUNAV", message: "The database is unavailable; retry shortly" };
  }
  if (/^PT([0-9A-Z]{3}|AUTH|UNAV|RATE)$/.test(err.code))
    return { code: err.code, message: String(err.message) };
  const mapped = STANDARD_CODES[err.code];
  return mapped ? { code: mapped.code, message: mapped.message ?? String(err.message) } : null;
}

/**
 * grafserv's maskError for PayTrust: project codes pass, other unexpected
 * errors are masked as grafserv does (`An error occurred (logged with hash:
 * ..., id: ...)`, extensions.errorId) but logged through `logger` (with the
 * request id of the request being handled) rather than console.error.
 */
export function makeMaskError(logger?: Logger): (error: GraphQLError) => GraphQLError {
  const log = logger?.child({ component: "graphql" });
  return (error: GraphQLError) => {
    const known = projectErrorCode(error.originalError);
    if (known) {
      return new GraphQLError(known.message, {
        nodes: error.nodes,
        source: error.source,
        positions: error.positions,
        path: error.path,
        extensions: { code: known.code },
      });
    }
    const original = error.originalError;
    if (!log || original == null || original instanceof GraphQLError || isSafeError(original))
      return defaultMaskError(error);
    // Hash so similar errors can be grouped; the id ties the client's answer to the log line.
    const hash = createHash("sha1").update(String(error)).digest("hex");
    const errorId = randomBytes(6).toString("hex");
    log.error({ err: original, hash, errorId, path: error.path }, "Masked GraphQL error");
    return new GraphQLError(`An error occurred (logged with hash: '${hash}', id: '${errorId}')`, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      originalError: original,
      extensions: { errorId },
    });
  };
}

/** Without a logger: grafserv's own masking (console.error) for unexpected errors. */
export const maskError = makeMaskError();
