/**
 * Missed webhooks (cron): asks the gateways' status APIs about attempts that
 * stayed pending too long, and feeds what they say through the same path as
 * a webhook (receive_webhook → webhook__process), so the same dedup, ranks
 * and locks apply. Each run takes the next batch after a cursor kept in SQL
 * (transactions_to_reconcile), so successive runs visit every pending attempt.
 */
import type { Task } from "graphile-worker";
import type { GatewayAdapter, GatewayName } from "../gateways/index.ts";

/** Attempts asked about per run (SQL caps it at 1000). */
export const RECONCILE_BATCH_SIZE = 100;

export function makeReconcileTask(options: {
  gateways: Record<GatewayName, GatewayAdapter>;
  olderThanSeconds: number;
  batchSize?: number;
  webhookMaxAttempts: number;
}): Task {
  return async (payload, helpers) => {
    const given = payload as { olderThanSeconds?: number; batchSize?: number } | null;
    const olderThan = Number(given?.olderThanSeconds ?? options.olderThanSeconds);
    const batchSize = Number(given?.batchSize ?? options.batchSize ?? RECONCILE_BATCH_SIZE);
    const { rows } = await helpers.query<{
      id: string;
      gateway: GatewayName;
      external_id: string;
      gateway_reference: string;
    }>("select * from paytrust_private.transactions_to_reconcile(make_interval(secs => $1), $2)", [
      olderThan,
      Number.isSafeInteger(batchSize) ? batchSize : RECONCILE_BATCH_SIZE,
    ]);
    let applied = 0;
    for (const tx of rows) {
      try {
        const report = await options.gateways[tx.gateway].getStatus(
          tx.external_id,
          tx.gateway_reference,
        );
        if (!report) continue;
        const { rows: stored } = await helpers.query<{ duplicate: boolean }>(
          "select * from paytrust_private.receive_webhook($1, $2, $3, $4::jsonb, 'reconciliation', $5)",
          [
            tx.gateway,
            report.eventId,
            tx.external_id,
            JSON.stringify(report.payload),
            options.webhookMaxAttempts,
          ],
        );
        if (!stored[0]?.duplicate) applied++;
      } catch (error) {
        // One unreachable gateway must not stop the others; the next run tries again.
        helpers.logger.warn(
          `Reconciliation of ${tx.id} failed: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
    if (rows.length)
      helpers.logger.info(
        `Reconciled ${rows.length} pending attempt(s), ${applied} new status report(s)`,
      );
  };
}
