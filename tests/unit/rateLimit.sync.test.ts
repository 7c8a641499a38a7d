/**
 * The in-memory rate limits decide synchronously (issue 17: no awaits per
 * request): next() or the 429 happen before the middleware returns.
 */
import { describe, expect, it } from "@jest/globals";
import { createRateLimits } from "../../src/auth/rateLimit.ts";

function fakeRes() {
  const res: any = { headers: {} as Record<string, string>, statusCode: 200, body: null };
  res.setHeader = (name: string, value: string) => {
    res.headers[name.toLowerCase()] = value;
    return res;
  };
  res.status = (code: number) => {
    res.statusCode = code;
    return res;
  };
  res.json = (body: unknown) => {
    res.body = body;
    return res;
  };
  return res;
}

describe("in-memory rate limits", () => {
  it("pass or refuse synchronously, with the RateLimit headers", async () => {
    const limits = createRateLimits({
      defaultPerMinute: 2,
      webhookPerMinute: 1,
      failedAuthPerMinute: 2,
    });
    const req: any = {
      apiKey: { id: "k1", rateLimitPerMinute: null },
      ip: "192.0.2.1",
      socket: {},
    };
    const passed: boolean[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = fakeRes();
      let called = false;
      limits.perKey(req, res, () => {
        called = true;
      });
      passed.push(called); // decided before perKey returned
      statuses.push(res.statusCode);
      if (i === 1) expect(res.headers["ratelimit-remaining"]).toBe("0");
    }
    expect(passed).toEqual([true, true, false]);
    expect(statuses).toEqual([200, 200, 429]);

    // failed-auth budget: reserve, refund, exhaust, then the guard refuses at once
    const refund = await limits.failedAuth.take(req);
    expect(refund).not.toBe(null);
    refund?.();
    expect(await limits.failedAuth.take(req)).not.toBe(null);
    expect(await limits.failedAuth.take(req)).not.toBe(null);
    expect(await limits.failedAuth.take(req)).toBe(null);
    const res = fakeRes();
    let through = false;
    limits.bruteForceGuard(req, res, () => {
      through = true;
    });
    expect(through).toBe(false);
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limits.store).toBe("memory");
    await limits.close();
  });
});
