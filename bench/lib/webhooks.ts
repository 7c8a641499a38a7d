/**
 * Webhook phase: pending payment attempts are created beforehand (invoices +
 * initiate_payment through SQL as the tenant; the worker's gateway job creates
 * each charge at the in-process sandbox, so the attempts are real), then
 * signed Xendit and Midtrans PAID webhooks are sent at a fixed rate, some of
 * them twice on purpose. Measured: HTTP acceptance latency, receive-to-applied
 * latency (webhook_events.received_at → processed_at, set by the worker's
 * webhook__process job), and whether every invoice was paid exactly once.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { loadConfig } from "../../src/config.ts";
import { makePool } from "../../src/db/connection.ts";
import { midtransSignature } from "../../src/gateways/signatures.ts";
import type { ServerChild } from "./child.ts";
import type { BenchDatabase } from "./database.ts";
import { BENCH_INVOICE, createInvoiceParams, SET_CLAIMS_SQL, tenantClaims } from "./invoice.ts";
import { type CpuSplit, startCpuMeter } from "./machine.ts";
import { type Answer, type ScheduledRequest, sendAtRate } from "./openLoop.ts";
import type { BenchOptions } from "./options.ts";
import { everySecond, progress } from "./progress.ts";
import { type LatencySummary, summarise } from "./stats.ts";

interface Attempt {
  id: string;
  invoiceId: string;
  gateway: "xendit" | "midtrans";
  externalId: string;
  amount: string;
  gatewayReference: string | null;
}

export interface WebhookResult {
  rate: number;
  durationS: number;
  transactions: number;
  sent: number;
  duplicatesSent: number;
  accepted: number;
  duplicatesIgnored: number;
  httpErrors: number;
  successRate: number;
  acceptLatency: LatencySummary;
  receiveToApplied: LatencySummary;
  applied: number;
  appliedExactlyOnce: number;
  overpaid: number;
  unpaid: number;
  failedEvents: number;
  gatewayChargesCreated: number;
  /** Processed webhook_events rows per payment attempt: exactly one each, else money moved twice. */
  processedEventsPerAttempt: { one: number; more: number; none: number };
  /** --instances: how many server processes received the webhooks (round robin). */
  instances: number;
  /** Per server process: worker tasks it completed during the phase (webhook__process, …). */
  tasksByInstance?: Array<Record<string, number>>;
  errorSamples: string[];
  cpu: CpuSplit;
}

const PREPARE_SQL = `select t.id, t.invoice_id, t.gateway, t.external_id, t.amount
  from paytrust_public.initiate_payment((
    select id from paytrust_public.create_invoice(
      currency => $1, gateway => $2, customer_name => $3, customer_email => $4,
      line_items => array(select jsonb_populate_recordset(null::paytrust_public.invoice_line, $5::jsonb)),
      description => $6, installment_count => 1))) t`;

async function prepareOne(
  client: pg.PoolClient,
  claims: string,
  gateway: string,
): Promise<Attempt> {
  const [currency, , name, email, lines, description] = createInvoiceParams(BENCH_INVOICE);
  await client.query("begin");
  try {
    await client.query(SET_CLAIMS_SQL, [claims]);
    const { rows } = await client.query(PREPARE_SQL, [
      currency,
      gateway,
      name,
      email,
      lines,
      description,
    ]);
    await client.query("commit");
    const r = rows[0];
    return {
      id: r.id,
      invoiceId: r.invoice_id,
      gateway: r.gateway,
      externalId: r.external_id,
      amount: r.amount,
      gatewayReference: null,
    };
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

/** Creates `count` single-payment invoices, half for each gateway, each with a pending attempt. */
async function prepareAttempts(db: BenchDatabase, count: number): Promise<Attempt[]> {
  const pool = makePool(db.urls.authUrl, 8);
  const claims = tenantClaims(db.tenant);
  const attempts: Attempt[] = [];
  const line = progress("webhooks: preparing");
  const stop = everySecond(() => line.update(`${attempts.length}/${count} pending payments`));
  let next = 0;
  const worker = async () => {
    const client = await pool.connect();
    try {
      while (next < count) {
        const gateway = next++ % 2 === 0 ? "xendit" : "midtrans";
        attempts.push(await prepareOne(client, claims, gateway));
      }
    } finally {
      client.release();
    }
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
    line.done(`${attempts.length} pending payments`);
    return attempts;
  } finally {
    stop();
    await pool.end();
  }
}

/** Waits for the worker to create every charge at the sandbox (gateway_reference set). */
async function waitForCharges(pool: pg.Pool, attempts: Attempt[], timeoutS = 180): Promise<number> {
  const ids = attempts.map((a) => a.id);
  const line = progress("webhooks: gateway charges");
  const deadline = performance.now() + timeoutS * 1000;
  for (;;) {
    const { rows } = await pool.query<{
      id: string;
      gateway_reference: string | null;
      status: string;
    }>(
      "select id, gateway_reference, status from paytrust_public.payment_transactions where id = any($1)",
      [ids],
    );
    const done = rows.filter((r) => r.gateway_reference || r.status !== "pending");
    line.update(`${done.length}/${ids.length} created by the worker`);
    if (done.length === ids.length || performance.now() > deadline) {
      const byId = new Map(rows.map((r) => [r.id, r.gateway_reference]));
      for (const attempt of attempts) attempt.gatewayReference = byId.get(attempt.id) ?? null;
      const created = rows.filter((r) => r.gateway_reference).length;
      line.done(`${created}/${ids.length} created by the worker`);
      return created;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Pays every attempt at the (first) child's sandbox without its own notification. */
async function payAtSandbox(baseUrl: string, attempts: Attempt[]): Promise<void> {
  const line = progress("webhooks: customers pay");
  let next = 0;
  let paid = 0;
  const failures: string[] = [];
  const payer = async () => {
    while (next < attempts.length) {
      const a = attempts[next++];
      const res = await fetch(
        `${baseUrl}/sandbox/checkout/${a.gateway}/${encodeURIComponent(a.externalId)}/pay?deliver=false`,
        { method: "POST" },
      );
      await res.arrayBuffer();
      if (res.ok) paid++;
      else if (failures.length < 5) failures.push(`${a.externalId}: ${res.status}`);
      line.update(`${paid}/${attempts.length} paid at the sandbox`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, payer));
  line.done(`${paid}/${attempts.length} paid at the sandbox`);
  if (paid !== attempts.length) throw new Error(`sandbox payments failed (${failures.join(", ")})`);
}

/** The gateway's own PAID notification for an attempt, signed as the gateway signs it. */
function paidWebhook(
  attempt: Attempt,
  secrets: { callbackToken: string; serverKey: string },
): ScheduledRequest {
  const reference = attempt.gatewayReference ?? `bench-${attempt.id}`;
  if (attempt.gateway === "xendit") {
    const body = {
      id: reference,
      external_id: attempt.externalId,
      status: "PAID",
      amount: Number(attempt.amount), // IDR: major units = minor units
      paid_amount: Number(attempt.amount),
      currency: "IDR",
      paid_at: new Date().toISOString(),
      payment_method: "BANK_TRANSFER",
    };
    return {
      path: "/webhooks/xendit",
      headers: {
        "content-type": "application/json",
        "x-callback-token": secrets.callbackToken,
        "webhook-id": randomUUID(),
      },
      body: JSON.stringify(body),
    };
  }
  const grossAmount = `${attempt.amount}.00`;
  const body = {
    transaction_status: "settlement",
    transaction_id: reference,
    status_code: "200",
    order_id: attempt.externalId,
    gross_amount: grossAmount,
    fraud_status: "accept",
    currency: "IDR",
    payment_type: "bank_transfer",
    signature_key: midtransSignature(attempt.externalId, "200", grossAmount, secrets.serverKey),
  };
  return {
    path: "/webhooks/midtrans",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/**
 * The send order: every webhook once, plus `duplicates` of them again 0.5 to
 * 2 s after the first delivery (a gateway retrying), all in fixed-rate slots.
 */
function schedule(webhooks: ScheduledRequest[], duplicates: number, rate: number) {
  const timed = webhooks.map((w, i) => ({ at: i / rate, w, duplicate: false }));
  for (let d = 0; d < duplicates; d++) {
    const original = timed[Math.floor((d * webhooks.length) / duplicates)];
    timed.push({ at: original.at + 0.5 + Math.random() * 1.5, w: original.w, duplicate: true });
  }
  return timed.sort((a, b) => a.at - b.at);
}

/** Waits until the worker has processed every event of these attempts. */
async function waitForProcessing(pool: pg.Pool, ids: string[], timeoutS = 120): Promise<void> {
  const line = progress("webhooks: applying");
  const deadline = performance.now() + timeoutS * 1000;
  for (;;) {
    const { rows } = await pool.query<{ total: string; open: string }>(
      `select count(*) as total, count(*) filter (where processed_at is null and status <> 'failed') as open
         from paytrust_public.webhook_events where transaction_id = any($1)`,
      [ids],
    );
    line.update(`${Number(rows[0].total) - Number(rows[0].open)}/${rows[0].total} processed`);
    if (rows[0].open === "0" || performance.now() > deadline) {
      line.done();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function receiveToApplied(pool: pg.Pool, ids: string[]): Promise<LatencySummary> {
  const { rows } = await pool.query<{ ms: number }>(
    `select extract(epoch from processed_at - received_at) * 1000 as ms
       from paytrust_public.webhook_events where transaction_id = any($1) and processed_at is not null`,
    [ids],
  );
  return summarise(rows.map((r) => Number(r.ms)));
}

/** Money applied exactly once: every invoice paid, amount_paid == total, nothing over. */
async function verifyMoney(pool: pg.Pool, attempts: Attempt[]) {
  const { rows } = await pool.query(
    `select count(*) filter (where i.status = 'paid' and i.amount_paid = i.total and i.overpayment_amount = 0) as exact,
            count(*) filter (where i.amount_paid > i.total) as overpaid,
            count(*) filter (where i.amount_paid < i.total) as unpaid,
            (select count(*) from paytrust_public.webhook_events e
              where e.transaction_id = any($2) and e.status = 'processed') as processed,
            (select count(*) from paytrust_public.webhook_events e
              where e.transaction_id = any($2) and e.status = 'failed') as failed,
            (select json_build_object(
                      'one', count(*) filter (where n = 1),
                      'more', count(*) filter (where n > 1),
                      'none', count(*) filter (where n = 0))
               from (select t.id, count(e.id) filter (where e.status = 'processed') as n
                       from unnest($2::uuid[]) t(id)
                       left join paytrust_public.webhook_events e on e.transaction_id = t.id
                      group by t.id) per) as per_attempt
       from paytrust_public.invoices i where i.id = any($1)`,
    [attempts.map((a) => a.invoiceId), attempts.map((a) => a.id)],
  );
  const r = rows[0];
  return {
    applied: Number(r.processed),
    appliedExactlyOnce: Number(r.exact),
    overpaid: Number(r.overpaid),
    unpaid: Number(r.unpaid),
    failedEvents: Number(r.failed),
    processedEventsPerAttempt: {
      one: Number(r.per_attempt.one),
      more: Number(r.per_attempt.more),
      none: Number(r.per_attempt.none),
    },
  };
}

function diffCounts(before: Record<string, number>, after: Record<string, number>) {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(after)) out[name] = n - (before[name] ?? 0);
  return out;
}

function countAnswers(answers: Answer[], duplicateFlags: boolean[]) {
  let accepted = 0;
  let duplicatesIgnored = 0;
  let httpErrors = 0;
  const samples: string[] = [];
  answers.forEach((a, k) => {
    if (a.status !== 200) {
      httpErrors++;
      if (samples.length < 5) samples.push(`${a.status} ${a.body.slice(0, 200)}`);
      return;
    }
    accepted++;
    if (duplicateFlags[k] && a.body.includes('"duplicate":true')) duplicatesIgnored++;
  });
  return { accepted, duplicatesIgnored, httpErrors, samples };
}

/**
 * With several children (--instances), webhook k goes to child k mod N, so a
 * retried duplicate usually reaches another process than its original.
 */
export async function runWebhooks(
  db: BenchDatabase,
  children: ServerChild | ServerChild[],
  options: BenchOptions,
): Promise<WebhookResult> {
  const servers = Array.isArray(children) ? children : [children];
  const child = servers[0];
  const tasksBefore =
    servers.length > 1 ? await Promise.all(servers.map((c) => c.taskCounts())) : [];
  const total = Math.round(options.webhookRate * options.webhookDurationS);
  const unique = Math.round(total / (1 + options.duplicateShare));
  const attempts = await prepareAttempts(db, unique);
  const created = await waitForCharges(db.ownerPool, attempts);
  // The customer pays at the gateway first; the bench then sends the gateway's
  // notifications itself, at a fixed rate (the worker confirms each one with
  // the status API before money moves).
  await payAtSandbox(child.url, attempts);
  // The same secrets the server child derives from the environment (sandbox defaults otherwise).
  const config = loadConfig({ ...process.env, PAYTRUST_GATEWAY_MODE: "sandbox" });
  const secrets = {
    callbackToken: config.xenditCallbackToken,
    serverKey: config.midtransServerKey,
  };
  const plan = schedule(
    attempts.map((a) => paidWebhook(a, secrets)),
    total - unique,
    options.webhookRate,
  );
  const cpu = startCpuMeter(
    servers.map((c) => c.pid),
    db.postgres,
  );
  const sent = await sendAtRate(
    child.url,
    plan.map((p, k) => ({ ...p.w, baseUrl: servers[k % servers.length].url })),
    options.webhookRate,
    "webhooks (PAID, signed)",
  );
  const ids = attempts.map((a) => a.id);
  await waitForProcessing(db.ownerPool, ids);
  const cpuSplit = cpu();
  const counts = countAnswers(
    sent.answers,
    plan.map((p) => p.duplicate),
  );
  const tasksByInstance =
    servers.length > 1
      ? (await Promise.all(servers.map((c) => c.taskCounts()))).map((after, k) =>
          diffCounts(tasksBefore[k], after),
        )
      : undefined;
  return {
    rate: options.webhookRate,
    durationS: sent.durationS,
    transactions: attempts.length,
    sent: plan.length,
    duplicatesSent: total - unique,
    accepted: counts.accepted,
    duplicatesIgnored: counts.duplicatesIgnored,
    httpErrors: counts.httpErrors,
    successRate: Math.round((counts.accepted / plan.length) * 10000) / 100,
    acceptLatency: sent.recorder.summary(),
    receiveToApplied: await receiveToApplied(db.ownerPool, ids),
    ...(await verifyMoney(db.ownerPool, attempts)),
    gatewayChargesCreated: created,
    instances: servers.length,
    tasksByInstance,
    errorSamples: counts.samples,
    cpu: cpuSplit,
  };
}
