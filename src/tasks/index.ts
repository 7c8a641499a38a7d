/** The worker's task list: one file per task, named area__action. */
import type { TaskList } from "graphile-worker";
import { makeGateways } from "../gateways/index.ts";
import { makeRefundAdapters } from "../gateways/refunds.ts";
import type { WorkerDeps } from "./deps.ts";
import { makeCancelPaymentTask } from "./gateway__cancel_payment.ts";
import { makeCreatePaymentTask } from "./gateway__create_payment.ts";
import { makeReconcileTask } from "./gateway__reconcile.ts";
import { makeRefundTask } from "./gateway__refund.ts";
import { maintenance__purge_audit_log } from "./maintenance__purge_audit_log.ts";
import { maintenance__sweep_stalled } from "./maintenance__sweep_stalled.ts";
import { payment__expire_overdue } from "./payment__expire_overdue.ts";
import { makeDeliverWebhookTask } from "./webhook__deliver.ts";
import { makeProcessWebhookTask } from "./webhook__process.ts";

export function makeTaskList(deps: WorkerDeps): TaskList {
  const gateways = makeGateways({
    ...deps.gatewayUrls,
    xenditSecretKey: deps.config.xenditSecretKey,
    midtransServerKey: deps.config.midtransServerKey,
    timeoutMs: deps.config.gatewayTimeoutMs,
  });
  return {
    gateway__create_payment: makeCreatePaymentTask({
      gateways,
      maxAttempts: deps.config.gatewayMaxAttempts,
    }),
    gateway__cancel_payment: makeCancelPaymentTask({
      gateways,
      webhookMaxAttempts: deps.config.webhookMaxAttempts,
    }),
    gateway__reconcile: makeReconcileTask({
      gateways,
      olderThanSeconds: deps.config.reconcileAfterSeconds,
      webhookMaxAttempts: deps.config.webhookMaxAttempts,
    }),
    gateway__refund: makeRefundTask({
      refunds: makeRefundAdapters({
        ...deps.gatewayUrls,
        xenditSecretKey: deps.config.xenditSecretKey,
        midtransServerKey: deps.config.midtransServerKey,
        timeoutMs: deps.config.gatewayTimeoutMs,
      }),
      maxAttempts: deps.config.gatewayMaxAttempts,
    }),
    webhook__process: makeProcessWebhookTask({ gateways }),
    webhook__deliver: makeDeliverWebhookTask({
      policy: { allowPrivate: deps.config.webhookAllowPrivateUrls },
      timeoutMs: deps.config.webhookDeliveryTimeoutMs,
      retryBaseSeconds: deps.config.webhookRetryBaseSeconds,
    }),
    maintenance__purge_audit_log,
    maintenance__sweep_stalled,
    payment__expire_overdue,
  };
}
