/**
 * A concurrency bound for the public pages (/pay/:id, /readyz): at most `max`
 * of their requests use the database at once, a few more wait briefly, the
 * rest are answered 503 PTUNAV at once. A flood of public requests therefore
 * holds at most `max` connections of the pool the webhooks and the worker use.
 */
import type { NextFunction, Request, Response } from "express";
import { sendError } from "../http/errors.ts";

export interface GateOptions {
  /** Requests inside at once. */
  max: number;
  /** Requests allowed to wait for a slot (default 4 × max). */
  queue?: number;
  /** How long one may wait before 503 (default 5 s). */
  waitMs?: number;
}

export interface Gate {
  (req: Request, res: Response, next: NextFunction): void;
  readonly active: number;
  readonly waiting: number;
}

export function concurrencyGate(options: GateOptions): Gate {
  const queueMax = options.queue ?? options.max * 4;
  const waitMs = options.waitMs ?? 5000;
  let active = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const wake = waiting.shift();
    if (wake) wake();
    else active--;
  };

  const busy = (res: Response) => {
    res.setHeader("Retry-After", "1");
    sendError(res, 503, "PTUNAV", "Busy; retry shortly");
  };

  const gate = ((_req: Request, res: Response, next: NextFunction) => {
    let released = false;
    const enter = () => {
      res.once("close", () => {
        if (released) return;
        released = true;
        release();
      });
      next();
    };
    if (active < options.max) {
      active++;
      return enter();
    }
    if (waiting.length >= queueMax) return busy(res);
    const timer = setTimeout(() => {
      const index = waiting.indexOf(wake);
      if (index >= 0) waiting.splice(index, 1);
      busy(res);
    }, waitMs);
    timer.unref();
    // A slot is handed over directly (active stays the same).
    const wake = () => {
      clearTimeout(timer);
      if (res.writableEnded || res.destroyed) return release();
      enter();
    };
    waiting.push(wake);
  }) as Gate;
  Object.defineProperties(gate, {
    active: { get: () => active },
    waiting: { get: () => waiting.length },
  });
  return gate;
}
