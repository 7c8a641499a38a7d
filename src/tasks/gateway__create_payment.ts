/**
 * Creates the gateway charge for a payment attempt queued by initiate_payment.
 * Idempotent: the adapter first looks the attempt up by its external id, so a
 * retry after a crash or a lost response never creates a second charge.
 * Transient faults retry with graphile-worker's backoff (429 Retry-After is
 * honoured by rescheduling); permanent refusals, or the last attempt, fail the
 * transaction so the installment and invoice are never left locked.
 */
import type { Task } from "graphile-worker";
import { type GatewayAdapter, GatewayError, type GatewayName } from "../gateways/index.ts";
import { jobCounter } from "../metrics.ts";
import type { Currency } from "../money.ts";

interface Payload {
  transactionId: string;
  deferrals?: number;
}

interface PaymentRequestRow {
  transactionId: string;
  status: string;
  gateway: GatewayName;
  externalId: string;
  gatewayReference: string | null;
  currency: Currency;
  exponent: number;
  amountMinor: string;
  description: string;
  customer: { name: string; email: string };
  items: Array<{ name: string; quantity: number; priceMinor: string }>;
  /** The attempt's creation and expires_at (ISO, UTC), computed in SQL. */
  createdAt?: string;
  expiresAt?: string;
}

/**
 * The checkout's lifetime at the gateway: what is left of the attempt's
 * (Xendit counts invoice_duration from the create call) and the attempt's own
 * start and length (Midtrans start_time + duration). null: already overdue.
 */
export function checkoutExpiry(
  request: Pick<PaymentRequestRow, "createdAt" | "expiresAt">,
  now: number = Date.now(),
): { expirySeconds: number; expiry?: { startTime: string; minutes: number } } | null | undefined {
  if (!request.expiresAt) return undefined;
  const expires = Date.parse(request.expiresAt);
  const seconds = Math.floor((expires - now) / 1000);
  if (!(seconds >= 1)) return null;
  const created = request.createdAt ? Date.parse(request.createdAt) : Number.NaN;
  const minutes = Math.floor((expires - created) / 60_000);
  return {
    expirySeconds: seconds,
    expiry:
      Number.isFinite(minutes) && minutes >= 1
        ? { startTime: new Date(created).toISOString(), minutes }
        : undefined,
  };
}

const MAX_RETRY_AFTER_DEFERRALS = 5;

export function makeCreatePaymentTask(options: {
  gateways: Record<GatewayName, GatewayAdapter>;
  maxAttempts: number;
  redirectUrl?: string;
}): Task {
  return async (rawPayload, helpers) => {
    const payload = rawPayload as Payload;
    const { rows } = await helpers.query<{ request: PaymentRequestRow | null }>(
      "select paytrust_private.gateway_payment_request($1) as request",
      [payload.transactionId],
    );
    const request = rows[0]?.request;
    // Gone, no longer pending, or already created by an earlier attempt: nothing to do.
    if (request?.status !== "pending" || request.gatewayReference) return;
    // Overdue before its charge exists: nothing to create, payment__expire_overdue ends it.
    const expiry = checkoutExpiry(request);
    if (expiry === null) return;

    const fail = async (reason: string) => {
      await helpers.query("select paytrust_private.fail_payment_transaction($1, $2)", [
        request.transactionId,
        reason,
      ]);
      jobCounter.inc({ task: "gateway__create_payment", outcome: "failed" });
    };

    try {
      const result = await options.gateways[request.gateway].createPayment({
        externalId: request.externalId,
        currency: request.currency,
        exponent: request.exponent,
        amountMinor: request.amountMinor,
        description: request.description,
        customer: request.customer,
        items: request.items,
        redirectUrl: options.redirectUrl,
        ...expiry,
      });
      await helpers.query("select paytrust_private.record_gateway_payment($1, $2, $3)", [
        request.transactionId,
        result.gatewayReference,
        result.checkoutUrl,
      ]);
      jobCounter.inc({
        task: "gateway__create_payment",
        outcome: result.reused ? "reused" : "created",
      });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GatewayError && !error.transient) {
        return fail(`Gateway refused the payment: ${message}`);
      }
      const attempts = helpers.job.attempts;
      if (attempts >= Math.min(options.maxAttempts, helpers.job.max_attempts)) {
        return fail(`Gateway unavailable after ${attempts} attempts: ${message}`);
      }
      const deferrals = payload.deferrals ?? 0;
      if (
        error instanceof GatewayError &&
        error.retryAfterMs &&
        deferrals < MAX_RETRY_AFTER_DEFERRALS
      ) {
        // Honour Retry-After: run again no earlier than the gateway asked.
        await helpers.addJob(
          "gateway__create_payment",
          { transactionId: request.transactionId, deferrals: deferrals + 1 },
          {
            jobKey: `gateway__create_payment:${request.transactionId}`,
            jobKeyMode: "replace",
            runAt: new Date(Date.now() + Math.min(error.retryAfterMs, 15 * 60_000)),
            maxAttempts: helpers.job.max_attempts,
          },
        );
        return;
      }
      jobCounter.inc({ task: "gateway__create_payment", outcome: "retry" });
      throw error;
    }
  };
}
