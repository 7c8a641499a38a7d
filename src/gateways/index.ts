/** The gateway adapters by name, for the worker's tasks. */
import { makeMidtransAdapter } from "./midtrans.ts";
import type { GatewayAdapter, GatewayName } from "./types.ts";
import { makeXenditAdapter } from "./xendit.ts";

export interface GatewaysConfig {
  xenditBaseUrl: string;
  midtransSnapUrl: string;
  midtransApiUrl: string;
  xenditSecretKey: string;
  midtransServerKey: string;
  timeoutMs: number;
  /** Sandbox only: where the sandbox should send this deployment's Xendit callbacks. */
  xenditCallbackUrl?: string;
}

export function makeGateways(config: GatewaysConfig): Record<GatewayName, GatewayAdapter> {
  return {
    xendit: makeXenditAdapter({
      baseUrl: config.xenditBaseUrl,
      secretKey: config.xenditSecretKey,
      timeoutMs: config.timeoutMs,
      callbackUrl: config.xenditCallbackUrl,
    }),
    midtrans: makeMidtransAdapter({
      snapUrl: config.midtransSnapUrl,
      apiUrl: config.midtransApiUrl,
      serverKey: config.midtransServerKey,
      timeoutMs: config.timeoutMs,
    }),
  };
}

export type {
  CancelPaymentResult,
  CreatePaymentRequest,
  CreatePaymentResult,
  GatewayAdapter,
  GatewayName,
  GatewayStatusReport,
} from "./types.ts";
export { GatewayError } from "./types.ts";
