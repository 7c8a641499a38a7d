/**
 * The one logger (pino): JSON lines by default, human-readable lines only when
 * the destination is a terminal (and PAYTRUST_LOG_FORMAT is not "json"). Level
 * from PAYTRUST_LOG_LEVEL (src/config.ts). Secrets never reach a line: pino
 * redacts fields by name (REDACT_PATHS) and every serialised line is scrubbed
 * of API keys, bearer tokens and connection-string passwords (scrubText), so
 * free-text messages and error stacks are covered too.
 *
 * Lines logged while an HTTP request is handled carry its `requestId`
 * (AsyncLocalStorage, see src/requestLog.ts), whichever module logs them.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** "auto": pretty in a terminal, JSON otherwise. */
export const LOG_FORMATS = ["json", "pretty", "auto"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export const REDACTED = "[Redacted]";

/** Field names whose values never appear in a log line, at any depth (case-insensitive). */
export const SECRET_FIELDS = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-callback-token",
  "x-api-key",
  "token",
  "accessToken",
  "refreshToken",
  "callbackToken",
  "metricsToken",
  "secret",
  "secretKey",
  "serverKey",
  "xenditSecretKey",
  "midtransServerKey",
  "xenditCallbackToken",
  "apiKey",
  "api_key",
  "password",
  "authenticatorPassword",
  "signature",
  "signature_key",
  "connectionString",
  "databaseUrl",
  "DATABASE_URL",
  "ownerUrl",
  "authUrl",
  "rootUrl",
];

const pathKey = (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `["${name}"]`);

/**
 * pino `redact` paths: each secret field at the top level and in request and
 * response headers. Exact paths only: pino's wildcard paths cost several
 * microseconds each per line, so deeper fields are censored by
 * censorSecrets (formatters.log), which walks plain objects once.
 */
export const REDACT_PATHS: string[] = SECRET_FIELDS.flatMap((name) => {
  const key = pathKey(name);
  return [key.startsWith(".") ? name : key, `req.headers${key}`, `headers${key}`];
});

const SECRET_NAMES = new Set(SECRET_FIELDS.map((name) => name.toLowerCase()));
const MAX_DEPTH = 6;

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || Array.isArray(value);
}

/**
 * A copy of `value` with every SECRET_FIELDS field (any depth, any case)
 * replaced by REDACTED; unchanged objects are returned as they are. Only plain
 * objects and arrays are walked (errors keep their type for pino's serializer;
 * their text is scrubbed by scrubText).
 */
export function censorSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH || !isPlain(value))
    return value;
  let copy: Record<string, unknown> | unknown[] | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const current = source[key];
    const next =
      SECRET_NAMES.has(key.toLowerCase()) && current !== undefined && current !== null
        ? REDACTED
        : censorSecrets(current, depth + 1);
    if (next !== current) {
      copy ??= Array.isArray(value) ? [...value] : { ...source };
      (copy as Record<string, unknown>)[key] = next;
    }
  }
  return (copy ?? value) as T;
}

const SCRUBBERS: Array<[RegExp, string]> = [
  // API keys: pt_live_<prefix>_<secret>; the prefix identifies the key, the secret goes.
  [/pt_live_([a-z0-9]{12})_[A-Za-z0-9_-]{20,}/g, `pt_live_$1_${REDACTED}`],
  // Authorization header values wherever they appear in text.
  [/\b(Bearer|Basic)\s+[^\s"\\,;]+/gi, `$1 ${REDACTED}`],
  // scheme://user:password@host (DATABASE_URL, REDIS_URL, ...).
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s"\\]*):[^@/\s"\\]+@/gi, `$1:${REDACTED}@`],
  // libpq keyword strings and query strings: password=..., token=..., secret=...
  [
    /\b(password|passwd|pwd|token|secret|api_?key|signature(?:_key)?)=[^\s"\\&;]+/gi,
    `$1=${REDACTED}`,
  ],
];

const MAY_HOLD_SECRET = /pt_live_|bearer|basic|:\/\/|=/i;

/** Removes API keys, bearer tokens and URL passwords from text (a serialised line or a message). */
export function scrubText(text: string): string {
  // Most lines (access lines) hold none of the patterns' anchors: skip the regexes.
  if (!MAY_HOLD_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SCRUBBERS) out = out.replace(pattern, replacement);
  return out;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** An incoming x-request-id if it is a sane token (≤ 128 of [A-Za-z0-9._-]), else null. */
export function sanitizeRequestId(value: unknown): string | null {
  const raw = Array.isArray(value) ? value[0] : value;
  return typeof raw === "string" && REQUEST_ID.test(raw) ? raw : null;
}

/** The request id to use: the client's if sane, otherwise a new UUID. */
export function requestIdFor(header: unknown): string {
  return sanitizeRequestId(header) ?? randomUUID();
}

export interface RequestContext {
  requestId: string;
}

/** The request being handled (set by src/requestLog.ts); its id lands on every line. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

/** Anything pino can write lines to. */
export interface LineSink {
  write(line: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where lines go (default process.stdout). */
  destination?: LineSink;
  /** Bound on every line (e.g. { component: "cli" }). */
  base?: Record<string, unknown>;
}

const LEVEL_NAMES: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};
const LEVEL_COLOURS: Record<number, string> = {
  10: "\x1b[90m",
  20: "\x1b[36m",
  30: "\x1b[32m",
  40: "\x1b[33m",
  50: "\x1b[31m",
  60: "\x1b[35m",
};

function pad2(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** One JSON line as a human reads it: `12:00:01.234 INFO  [worker] message key=value`. */
export function formatPretty(line: string, colours = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line.endsWith("\n") ? line : `${line}\n`;
  }
  const { level, time, msg, component, pid: _pid, hostname: _host, err, ...rest } = entry;
  const at = new Date(typeof time === "number" ? time : Date.now());
  const clock = `${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}.${pad2(at.getMilliseconds(), 3)}`;
  const levelNumber = typeof level === "number" ? level : 30;
  const name = (LEVEL_NAMES[levelNumber] ?? String(level)).padEnd(5);
  const levelText = colours ? `${LEVEL_COLOURS[levelNumber] ?? ""}${name}\x1b[0m` : name;
  const scope = component ? ` [${component}]` : "";
  const extras = Object.entries(rest)
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  const stack =
    err && typeof err === "object" && "stack" in err && typeof err.stack === "string"
      ? `\n  ${err.stack.split("\n").join("\n  ")}`
      : err
        ? ` err=${JSON.stringify(err)}`
        : "";
  return `${clock} ${levelText}${scope} ${msg ?? ""}${extras ? ` ${extras}` : ""}${stack}\n`;
}

/** A pino destination that writes human-readable lines to `out`. */
export function prettyStream(out: LineSink, colours = Boolean(out.isTTY)): DestinationStream {
  return {
    write(line: string) {
      out.write(formatPretty(line, colours));
    },
  };
}

/** Whether lines to `destination` are pretty: "pretty", or "auto" on a terminal. */
export function isPretty(format: LogFormat, destination: LineSink): boolean {
  return format === "pretty" || (format === "auto" && destination.isTTY === true);
}

/** The root logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const stream: DestinationStream = isPretty(options.format ?? "auto", destination)
    ? prettyStream(destination)
    : (destination as DestinationStream);
  return pino(
    {
      level: options.level ?? "info",
      base: options.base ?? null,
      timestamp: pino.stdTimeFunctions.epochTime,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      // Nested secrets (job payloads, error details, headers objects): any depth.
      formatters: {
        log: (object) => censorSecrets(object),
        bindings: (bindings) => censorSecrets(bindings),
      },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      // The request being handled, on every line logged while it runs.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId ? { requestId } : {};
      },
      hooks: { streamWrite: scrubText },
    },
    stream,
  );
}

/** Hands each line (JSON, without its newline) to `onLine`: tests, child-process fixtures. */
export function lineSink(onLine: (line: string) => void): LineSink {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line !== "") onLine(line);
    },
  };
}

/** Infers the level of a free-text line from modules that log text: warn for failures. */
function levelOfText(line: string): "info" | "warn" | "error" {
  if (/\b(error|fatal)\b/i.test(line) && !/\bno error\b/i.test(line)) return "error";
  if (/\b(warn(ing)?|failed|refused|unavailable|unreachable|down)\b/i.test(line)) return "warn";
  return "info";
}

/**
 * A `(line) => void` for modules that log free text (rate limits, webhook
 * receivers, embedded PostgreSQL): each line becomes one structured entry. A
 * leading `[component]` tag becomes the `component` field.
 */
export function lineLog(logger: Logger, component?: string): (line: string) => void {
  return (line: string) => {
    const tagged = /^\[([a-z0-9_-]+)\]\s*(.*)$/is.exec(line);
    const name = tagged?.[1] ?? component;
    const text = tagged ? tagged[2] : line;
    const target = name ? logger.child({ component: name }) : logger;
    target[levelOfText(text)](text);
  };
}

/** graphile-worker / graphile-migrate (@graphile/logger) log levels onto pino's. */
const GRAPHILE_LEVELS: Record<string, "error" | "warn" | "info" | "debug"> = {
  error: "error",
  warning: "warn",
  info: "info",
  debug: "debug",
};

/**
 * A @graphile/logger LogFunctionFactory writing to `logger` (for
 * `new Logger(...)` of graphile-worker and graphile-migrate): the scope
 * (label, workerId, taskIdentifier, jobId) and meta become fields.
 */
export function graphileLogFactory(logger: Logger, component: string) {
  return (scope: Record<string, unknown>) => {
    const scoped = logger.child({ component, ...scope });
    return (level: string, message: string, meta?: Record<string, unknown>) => {
      const method = GRAPHILE_LEVELS[level] ?? "info";
      if (meta && Object.keys(meta).length > 0) scoped[method](meta, message);
      else scoped[method](message);
    };
  };
}
