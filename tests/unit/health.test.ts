/**
 * monitorDatabase: a refused connection is "down" at once; a slow probe only
 * after SLOW_PROBES_BEFORE_DOWN in a row (a busy server is still up).
 */
import { describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { monitorDatabase, SLOW_PROBES_BEFORE_DOWN } from "../../src/db/health.ts";

type Answer = "ok" | "refused" | "pool-timeout" | "hang";

/** A stand-in pool whose next answers are scripted (unit test: no database). */
function scriptedPool(answers: Answer[]): pg.Pool {
  return {
    query: () => {
      const answer = answers.shift() ?? "ok";
      if (answer === "ok") return Promise.resolve({ rows: [{ "?column?": 1 }] });
      if (answer === "refused") return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1"));
      if (answer === "pool-timeout")
        return Promise.reject(new Error("timeout exceeded when trying to connect"));
      return new Promise(() => {});
    },
  } as unknown as pg.Pool;
}

describe("database health", () => {
  it("goes down at once when the server refuses", async () => {
    const health = monitorDatabase(scriptedPool(["refused"]), 60_000, 50);
    try {
      expect(await health.probe()).toBe(false);
      expect(health.isUp()).toBe(false);
      expect(await health.probe()).toBe(true); // next answer ok: back up
    } finally {
      health.stop();
    }
  });

  it("stays up through fewer slow probes than the threshold, then goes down", async () => {
    const slow: Answer[] = Array.from({ length: SLOW_PROBES_BEFORE_DOWN }, (_, i) =>
      i % 2 ? "hang" : "pool-timeout",
    );
    const health = monitorDatabase(scriptedPool([...slow, "ok"]), 60_000, 20);
    try {
      for (let i = 1; i < SLOW_PROBES_BEFORE_DOWN; i++) expect(await health.probe()).toBe(true);
      expect(await health.probe()).toBe(false);
      expect(await health.probe()).toBe(true);
    } finally {
      health.stop();
    }
  });

  it("an answer in between resets the count of slow probes", async () => {
    const health = monitorDatabase(
      scriptedPool(["hang", "hang", "ok", "hang", "hang", "ok"]),
      60_000,
      20,
    );
    try {
      for (let i = 0; i < 6; i++) expect(await health.probe()).toBe(true);
    } finally {
      health.stop();
    }
  });
});
