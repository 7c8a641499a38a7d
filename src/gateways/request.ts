/**
 * Guards shared by the adapters: SQL already guarantees these, but a request that
 * breaks them must fail as a permanent GatewayError (a retry cannot fix it), not
 * as a stray SyntaxError from BigInt halfway through a gateway call.
 */
import { CURRENCY_EXPONENTS } from "../money.ts";
import { type CreatePaymentRequest, GatewayError } from "./types.ts";

const MINOR_UNITS = /^\d+$/;

export function assertValidRequest(gateway: string, request: CreatePaymentRequest): void {
  const fail = (why: string) => {
    throw new GatewayError(`${gateway}: ${why}`, { transient: false });
  };
  if (request.externalId.trim() === "") fail("externalId is empty");
  if (CURRENCY_EXPONENTS[request.currency] !== request.exponent) {
    fail(`exponent ${request.exponent} does not match ${request.currency}`);
  }
  if (!MINOR_UNITS.test(request.amountMinor))
    fail(`amountMinor "${request.amountMinor}" is not whole minor units`);
  for (const item of request.items) {
    if (!MINOR_UNITS.test(item.priceMinor))
      fail(`item price "${item.priceMinor}" is not whole minor units`);
    if (!Number.isSafeInteger(item.quantity) || item.quantity < 1)
      fail(`item quantity ${item.quantity} is invalid`);
  }
}
