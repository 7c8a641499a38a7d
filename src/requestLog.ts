/**
 * Request ids and access lines. Every request gets an id (the client's
 * `x-request-id` when it is a sane token, else a new UUID), echoed in the
 * `x-request-id` response header and carried by every line logged while the
 * request runs (src/logger.ts requestContext). When the response is finished
 * (or the client gave up) exactly one access line is logged: method, route
 * template (never the raw URL: no ids, no query strings), status, duration.
 */
import type { NextFunction, Request, Response } from "express";
import { type Logger, requestContext, requestIdFor } from "./logger.ts";
import { routeOf } from "./metrics.ts";

declare global {
  namespace Express {
    interface Request {
      /** This request's id (x-request-id). */
      requestId?: string;
    }
  }
}

/** The route template of a request's URL (`/pay/:id`; "unmatched" for paths PayTrust does not serve). */
export function routeTemplateOf(originalUrl: string): string {
  const path = originalUrl.split(/[?#]/, 1)[0] || "/";
  return routeOf(path);
}

export function requestLogging(logger: Logger) {
  const access = logger.child({ component: "http" });
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const requestId = requestIdFor(req.headers["x-request-id"]);
    req.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    let logged = false;
    const done = () => {
      if (logged) return;
      logged = true;
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.statusCode;
      const line = {
        kind: "access",
        requestId,
        method: req.method,
        route: routeTemplateOf(req.originalUrl ?? req.url ?? "/"),
        status,
        durationMs: Math.round(durationMs * 1000) / 1000,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      if (status >= 500) access.error(line, "request");
      else access.info(line, "request");
    };
    res.once("finish", done);
    res.once("close", done);
    requestContext.run({ requestId }, next);
  };
}
