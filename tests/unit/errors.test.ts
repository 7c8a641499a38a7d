/**
 * PayTrustError (src/errors.ts), the one error type the TypeScript throws with a
 * code, and how the edges read it: maskError's projectErrorCode (GraphQL
 * `extensions.code`) and the HTTP answer of src/http/errors.ts.
 */
import { describe, expect, it } from "@jest/globals";
import type { Response } from "express";
import { isPayTrustError, PayTrustError } from "../../src/errors.ts";
import { httpStatusOf, sendPayTrustError } from "../../src/http/errors.ts";
import { projectErrorCode } from "../../src/plugins/maskError.ts";

function recorder() {
  const sent: { status?: number; body?: unknown } = {};
  const res = {
    status(code: number) {
      sent.status = code;
      return this;
    },
    json(body: unknown) {
      sent.body = body;
      return this;
    },
  } as unknown as Response;
  return { res, sent };
}

describe("PayTrustError", () => {
  it("carries a code, a message, an optional HTTP status and a cause", () => {
    const cause = new Error("inner");
    const error = new PayTrustError("PTURL", "Webhook URL must use https", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(isPayTrustError(error)).toBe(true);
    expect(isPayTrustError(new Error("x"))).toBe(false);
    expect([error.name, error.code, error.message, error.httpStatus]).toEqual([
      "PayTrustError",
      "PTURL",
      "Webhook URL must use https",
      undefined,
    ]);
    expect(error.cause).toBe(cause);
    expect(new PayTrustError("PTISO", "x", { httpStatus: 422 }).httpStatus).toBe(422);
  });

  it("passes maskError with its code and message", () => {
    expect(projectErrorCode(new PayTrustError("PTQRY", "`first` is 500"))).toEqual({
      code: "PTQRY",
      message: "`first` is 500",
    });
    // Errors without a project code stay masked.
    expect(projectErrorCode(new Error("boom"))).toBeNull();
  });

  it("answers HTTP with its status, else one derived from the code", () => {
    expect(httpStatusOf(new PayTrustError("PTVAL", "x", { httpStatus: 409 }))).toBe(409);
    expect(httpStatusOf(new PayTrustError("PTNFD", "x"))).toBe(404);
    expect(httpStatusOf(new PayTrustError("PTAUTH", "x"))).toBe(401);
    expect(httpStatusOf(new PayTrustError("PTUNAV", "x"))).toBe(503);
    expect(httpStatusOf(new PayTrustError("PTVAL", "x"))).toBe(400);
    const { res, sent } = recorder();
    sendPayTrustError(res, new PayTrustError("PTISO", "cannot be rendered"));
    expect(sent).toEqual({
      status: 422,
      body: { errors: [{ message: "cannot be rendered", extensions: { code: "PTISO" } }] },
    });
  });
});
