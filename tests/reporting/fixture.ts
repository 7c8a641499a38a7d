/**
 * The reporting dataset: two tenants, three currencies, both gateways, with
 * paid, partially paid, overpaid, cancelled, open and expired invoices, built
 * through the real functions: create_invoice / cancel_invoice /
 * initiate_payment as the tenant role with its claims, then the gateway's
 * webhook through receive_webhook + apply_webhook_event as the owner (what
 * the worker does). One payment (B1) is then moved 40 days back in time to
 * give the reports a history.
 *
 * Gateway fees (2-invoices.sql): xendit IDR 2.9 % + 2000, MYR 2.9 % + 100,
 * USD 2.9 % + 30; midtrans IDR 2 % + 4000.
 * fee = round_half_up((subtotal + tax) × % / 100) + fixed
 *
 * Tenant A
 *  A1 IDR xendit, paid.     2 × 50,000 @ 11 % = 100,000 + tax 11,000; 1 × 100,000 @ 0 %.
 *                           subtotal 200,000, tax 11,000, fee round(211,000 × 2.9 %) = 6,119 + 2,000 = 8,119,
 *                           total 219,119.
 *  A2 IDR midtrans, 2 installments, installment 1 paid (partially paid), installment 2 overdue.
 *                           1 × 100,000 @ 11 %: subtotal 100,000, tax 11,000,
 *                           fee round(111,000 × 2 %) = 2,220 + 4,000 = 6,220, total 117,220.
 *                           Split: principal 50,000 + tax 5,500 + fee 3,110 = 58,610 each.
 *                           Due 40 days ago, installment 2 due 10 days ago.
 *  A3 MYR xendit, overpaid. 3 × 1,999 @ 6 % = 5,997 + tax round(359.82) = 360,
 *                           fee round(6,357 × 2.9 % = 184.353) = 184 + 100 = 284, total 6,641 (RM 66.41);
 *                           the customer paid RM 70.00 = 7,000: overpayment 359.
 *  A4 USD xendit, cancelled. 1 × 10,000 @ 10 %.
 *  A5 USD xendit, paid then settled (two webhooks, money once).
 *                           2 × 2,500 @ 10 % = 5,000 + tax 500, fee round(5,500 × 2.9 % = 159.5) = 160 + 30 = 190,
 *                           total 5,690.
 *  A6 IDR xendit, open, due in 20 days. 1 × 30,000 @ 11 %: 30,000 + 3,300,
 *                           fee round(33,300 × 2.9 % = 965.7) = 966 + 2,000 = 2,966, total 36,266.
 * Tenant B
 *  B1 IDR xendit, paid 40 days ago. 1 × 1,000,000 @ 11 %: tax 110,000,
 *                           fee 1,110,000 × 2.9 % = 32,190 + 2,000 = 34,190, total 1,144,190.
 *  B2 MYR xendit, paid.     1 × 10,000 @ 8 %: tax 800, fee round(10,800 × 2.9 % = 313.2) = 313 + 100 = 413,
 *                           total 11,213.
 *  B3 USD xendit, 3 installments, installment 1 paid. 1 × 30,000 @ 0 %: fee 870 + 30 = 900,
 *                           total 30,900; split 10,000 + 0 + 300 = 10,300 each, due today, +30, +60 days.
 *  B4 IDR midtrans, paid.   1 × 200,000 @ 11 %: tax 22,000, fee 222,000 × 2 % = 4,440 + 4,000 = 8,440,
 *                           total 230,440.
 *  B5 IDR midtrans, expired (Midtrans "expire"), due 5 days ago. 1 × 50,000 @ 11 %: tax 5,500,
 *                           fee 55,500 × 2 % = 1,110 + 4,000 = 5,110, total 60,610.
 *
 * Webhook events
 *  A: xendit A1 PAID (delivered twice: one row), A3 PAID, A5 PAID, A5 SETTLED; midtrans A2 settlement.
 *  B: xendit B1 PAID (40 days ago), B2 PAID, B3 PAID, a second B1 delivery whose processing failed
 *     10 times (failed), a second B2 delivery not processed yet (pending);
 *     midtrans B4 settlement, B5 expire.
 *  No tenant: a Xendit event for an unknown transaction (ignored).
 */
import type pg from "pg";
import { createTenant } from "../helpers/db.ts";

export interface Line {
  description: string;
  quantity: number;
  unitPrice: number;
  taxRate: number;
}

export interface Tenant {
  tenantId: string;
  apiKey: string;
  keyId: string;
}

export interface Fixture {
  a: Tenant;
  b: Tenant;
  /** Invoice ids by label (A1..A6, B1..B5). */
  invoices: Record<string, string>;
  /** UTC dates as YYYY-MM-DD: today and 40 days ago. */
  today: string;
  day40: string;
  /** Session dates (create_invoice's current_date) as YYYY-MM-DD. */
  dueDates: Record<string, string>;
  label(tenantId: string | null): string;
}

/** Runs fn as paytrust_tenant with the tenant's claims, and commits. */
export async function asTenant<T>(
  pool: pg.Pool,
  tenant: Tenant,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    await client.query(
      `select set_config('paytrust.tenant_id', $1, true), set_config('paytrust.api_key_id', $2, true),
              set_config('paytrust.role', 'tenant', true)`,
      [tenant.tenantId, tenant.keyId],
    );
    await client.query("set local role paytrust_tenant");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

async function createInvoice(
  pool: pg.Pool,
  tenant: Tenant,
  invoice: {
    currency: string;
    gateway: string;
    lines: Line[];
    dueInDays?: number;
    installments?: number;
  },
): Promise<{ id: string; total: string }> {
  return asTenant(pool, tenant, async (client) => {
    const { rows } = await client.query(
      `select i.id, i.total from paytrust_public.create_invoice(
         currency => $1, gateway => $2, customer_name => 'Customer', customer_email => 'customer@example.com',
         line_items => (select array_agg(row(l ->> 'description', (l ->> 'quantity')::integer,
                                             (l ->> 'unitPrice')::bigint, (l ->> 'taxRate')::numeric
                                            )::paytrust_public.invoice_line order by n)
                          from jsonb_array_elements($3::jsonb) with ordinality as x(l, n)),
         due_date => current_date + $4::integer,
         installment_count => $5::integer) i`,
      [
        invoice.currency,
        invoice.gateway,
        JSON.stringify(invoice.lines),
        invoice.dueInDays ?? 0,
        invoice.installments ?? 1,
      ],
    );
    return rows[0];
  });
}

async function initiate(pool: pg.Pool, tenant: Tenant, invoiceId: string, installment?: number) {
  return asTenant(pool, tenant, async (client) => {
    const { rows } = await client.query(
      "select id, external_id, amount from paytrust_public.initiate_payment($1, $2)",
      [invoiceId, installment ?? null],
    );
    return rows[0] as { id: string; external_id: string; amount: string };
  });
}

/** receive_webhook + apply_webhook_event, as the worker does; returns the event id. */
async function webhook(
  pool: pg.Pool,
  gateway: "xendit" | "midtrans",
  eventId: string,
  externalId: string,
  payload: Record<string, unknown>,
  apply = true,
): Promise<string> {
  const { rows } = await pool.query(
    "select webhook_event_id, duplicate from paytrust_private.receive_webhook($1, $2, $3, $4::jsonb)",
    [gateway, eventId, externalId, JSON.stringify(payload)],
  );
  const id = rows[0].webhook_event_id as string;
  if (apply && !rows[0].duplicate) {
    await pool.query("select paytrust_private.apply_webhook_event($1)", [id]);
  }
  return id;
}

const xenditPaid = (
  externalId: string,
  amount: number,
  paid: number,
  currency: string,
  status = "PAID",
) => ({
  id: `x-${externalId}`,
  external_id: externalId,
  status,
  amount,
  paid_amount: paid,
  currency,
});

const midtrans = (orderId: string, status: string, statusCode: string, gross: string) => ({
  transaction_id: `m-${orderId}`,
  order_id: orderId,
  transaction_status: status,
  status_code: statusCode,
  gross_amount: gross,
  fraud_status: "accept",
  currency: "IDR",
});

export async function buildFixture(pool: pg.Pool): Promise<Fixture> {
  const a = await createTenant(pool, "Tenant A");
  const b = await createTenant(pool, "Tenant B");
  const invoices: Record<string, string> = {};
  const line = (
    description: string,
    quantity: number,
    unitPrice: number,
    taxRate: number,
  ): Line => ({
    description,
    quantity,
    unitPrice,
    taxRate,
  });

  // ---- tenant A
  const a1 = await createInvoice(pool, a, {
    currency: "IDR",
    gateway: "xendit",
    lines: [line("Widget", 2, 50_000, 11), line("Exempt service", 1, 100_000, 0)],
  });
  const a2 = await createInvoice(pool, a, {
    currency: "IDR",
    gateway: "midtrans",
    lines: [line("Course", 1, 100_000, 11)],
    dueInDays: -40,
    installments: 2,
  });
  const a3 = await createInvoice(pool, a, {
    currency: "MYR",
    gateway: "xendit",
    lines: [line("Book", 3, 1_999, 6)],
  });
  const a4 = await createInvoice(pool, a, {
    currency: "USD",
    gateway: "xendit",
    lines: [line("Cancelled order", 1, 10_000, 10)],
  });
  const a5 = await createInvoice(pool, a, {
    currency: "USD",
    gateway: "xendit",
    lines: [line("Licence", 2, 2_500, 10)],
  });
  const a6 = await createInvoice(pool, a, {
    currency: "IDR",
    gateway: "xendit",
    lines: [line("Consulting", 1, 30_000, 11)],
    dueInDays: 20,
  });
  Object.assign(invoices, { A1: a1.id, A2: a2.id, A3: a3.id, A4: a4.id, A5: a5.id, A6: a6.id });
  for (const [label, total] of [
    ["A1", a1.total],
    ["A2", a2.total],
    ["A3", a3.total],
    ["A5", a5.total],
    ["A6", a6.total],
  ]) {
    const expected = { A1: "219119", A2: "117220", A3: "6641", A5: "5690", A6: "36266" }[label];
    if (total !== expected)
      throw new Error(`Fixture: ${label} total ${total}, expected ${expected}`);
  }

  const txA1 = await initiate(pool, a, a1.id);
  await webhook(
    pool,
    "xendit",
    "x-a1",
    txA1.external_id,
    xenditPaid(txA1.external_id, 219119, 219119, "IDR"),
  );
  // the same delivery again: deduplicated on arrival
  await webhook(
    pool,
    "xendit",
    "x-a1",
    txA1.external_id,
    xenditPaid(txA1.external_id, 219119, 219119, "IDR"),
  );

  const txA2 = await initiate(pool, a, a2.id, 1);
  await webhook(
    pool,
    "midtrans",
    "m-a2-1",
    txA2.external_id,
    midtrans(txA2.external_id, "settlement", "200", "58610.00"),
  );

  const txA3 = await initiate(pool, a, a3.id);
  await webhook(
    pool,
    "xendit",
    "x-a3",
    txA3.external_id,
    xenditPaid(txA3.external_id, 66.41, 70.0, "MYR"),
  );

  await asTenant(pool, a, (client) =>
    client.query("select paytrust_public.cancel_invoice($1)", [a4.id]),
  );

  const txA5 = await initiate(pool, a, a5.id);
  await webhook(
    pool,
    "xendit",
    "x-a5-paid",
    txA5.external_id,
    xenditPaid(txA5.external_id, 56.9, 56.9, "USD"),
  );
  await webhook(
    pool,
    "xendit",
    "x-a5-settled",
    txA5.external_id,
    xenditPaid(txA5.external_id, 56.9, 56.9, "USD", "SETTLED"),
  );

  // ---- tenant B
  const b1 = await createInvoice(pool, b, {
    currency: "IDR",
    gateway: "xendit",
    lines: [line("Server", 1, 1_000_000, 11)],
  });
  const b2 = await createInvoice(pool, b, {
    currency: "MYR",
    gateway: "xendit",
    lines: [line("Subscription", 1, 10_000, 8)],
  });
  const b3 = await createInvoice(pool, b, {
    currency: "USD",
    gateway: "xendit",
    lines: [line("Hardware", 1, 30_000, 0)],
    installments: 3,
  });
  const b4 = await createInvoice(pool, b, {
    currency: "IDR",
    gateway: "midtrans",
    lines: [line("Ticket", 1, 200_000, 11)],
  });
  const b5 = await createInvoice(pool, b, {
    currency: "IDR",
    gateway: "midtrans",
    lines: [line("Workshop", 1, 50_000, 11)],
    dueInDays: -5,
  });
  Object.assign(invoices, { B1: b1.id, B2: b2.id, B3: b3.id, B4: b4.id, B5: b5.id });

  const txB1 = await initiate(pool, b, b1.id);
  const eventB1 = await webhook(
    pool,
    "xendit",
    "x-b1",
    txB1.external_id,
    xenditPaid(txB1.external_id, 1144190, 1144190, "IDR"),
  );
  const txB2 = await initiate(pool, b, b2.id);
  await webhook(
    pool,
    "xendit",
    "x-b2",
    txB2.external_id,
    xenditPaid(txB2.external_id, 112.13, 112.13, "MYR"),
  );
  const txB3 = await initiate(pool, b, b3.id, 1);
  await webhook(
    pool,
    "xendit",
    "x-b3-1",
    txB3.external_id,
    xenditPaid(txB3.external_id, 103, 103, "USD"),
  );
  const txB4 = await initiate(pool, b, b4.id);
  await webhook(
    pool,
    "midtrans",
    "m-b4",
    txB4.external_id,
    midtrans(txB4.external_id, "settlement", "200", "230440.00"),
  );
  const txB5 = await initiate(pool, b, b5.id);
  await webhook(
    pool,
    "midtrans",
    "m-b5",
    txB5.external_id,
    midtrans(txB5.external_id, "expire", "407", "60610.00"),
  );

  // B1 delivered again under another event id; its processing fails 10 times.
  const failed = await webhook(
    pool,
    "xendit",
    "x-b1-again",
    txB1.external_id,
    xenditPaid(txB1.external_id, 1144190, 1144190, "IDR"),
    false,
  );
  await pool.query(
    "select paytrust_private.record_webhook_failure($1, 10, 10, 'gateway timeout')",
    [failed],
  );
  // B2 delivered again, not processed yet.
  await webhook(
    pool,
    "xendit",
    "x-b2-again",
    txB2.external_id,
    xenditPaid(txB2.external_id, 112.13, 112.13, "MYR"),
    false,
  );
  // An event for a transaction PayTrust does not know: stored as ignored, no tenant.
  await webhook(
    pool,
    "xendit",
    "x-unknown",
    "pt-unknown",
    xenditPaid("pt-unknown", 1000, 1000, "IDR"),
  );

  // History: B1 was paid (and notified) 40 days ago.
  await pool.query(
    "update paytrust_public.payment_transactions set paid_at = paid_at - interval '40 days' where invoice_id = $1",
    [b1.id],
  );
  await pool.query(
    "update paytrust_public.installments set paid_at = paid_at - interval '40 days' where invoice_id = $1",
    [b1.id],
  );
  await pool.query(
    "update paytrust_public.invoices set paid_at = paid_at - interval '40 days' where id = $1",
    [b1.id],
  );
  await pool.query(
    `update paytrust_public.webhook_events
        set received_at = received_at - interval '40 days', processed_at = processed_at - interval '40 days'
      where id = $1`,
    [eventB1],
  );

  const { rows: statuses } = await pool.query(
    "select id, status, amount_paid, overpayment_amount from paytrust_public.invoices",
  );
  const expectedStatus: Record<string, string> = {
    A1: "paid",
    A2: "partially_paid",
    A3: "paid",
    A4: "cancelled",
    A5: "paid",
    A6: "open",
    B1: "paid",
    B2: "paid",
    B3: "partially_paid",
    B4: "paid",
    B5: "expired",
  };
  for (const [label, id] of Object.entries(invoices)) {
    const row = statuses.find((r) => r.id === id);
    if (row?.status !== expectedStatus[label]) {
      throw new Error(`Fixture: ${label} is ${row?.status}, expected ${expectedStatus[label]}`);
    }
  }

  const { rows: dates } = await pool.query(
    `select to_char((now() at time zone 'UTC')::date, 'YYYY-MM-DD') as today,
            to_char(((now() - interval '40 days') at time zone 'UTC')::date, 'YYYY-MM-DD') as day40,
            to_char(current_date - 10, 'YYYY-MM-DD') as a2_second_due,
            to_char(current_date + 20, 'YYYY-MM-DD') as a6_due,
            to_char(current_date - 5, 'YYYY-MM-DD') as b5_due,
            to_char(current_date + 30, 'YYYY-MM-DD') as b3_second_due`,
  );
  const names = new Map([
    [a.tenantId, "A"],
    [b.tenantId, "B"],
  ]);
  return {
    a,
    b,
    invoices,
    today: dates[0].today,
    day40: dates[0].day40,
    dueDates: {
      A2_2: dates[0].a2_second_due,
      A6: dates[0].a6_due,
      B5: dates[0].b5_due,
      B3_2: dates[0].b3_second_due,
    },
    label: (tenantId) => (tenantId === null ? "-" : (names.get(tenantId) ?? "?")),
  };
}
