/**
 * Property (issue 17, item 5): after any history of invoices (IDR, MYR, USD;
 * Xendit and Midtrans; 1–3 installments; several tax rates), payments
 * (partial, full, overpaid; paid then settled; expired attempts; duplicate
 * deliveries), refunds (partial and full; succeeded, failed, pending) and
 * cancellations on random UTC days, the daily rollups of
 * migrations/committed/000013-reports-from-daily-rollups-kept-by-statement-triggers.sql
 *   1. equal a recomputation from the raw rows (payment_transactions,
 *      installments, invoices, line_items, refunds) written here as plain SQL,
 *      independent of the rollup code and of the report ledgers;
 *   2. equal what paytrust_private.rebuild_report_rollups() produces;
 *   3. give financialReport / financialTaxReport figures, over random periods
 *      and currency filters, equal to the same recomputation.
 *
 * Every run is a new tenant in one database (the rollups are per tenant); every
 * step commits in its own transaction as the API and the worker do (tenant
 * calls with the tenant role and claims, webhooks and refund results as the
 * worker's functions). Timestamps are moved to the chosen day afterwards
 * (as tests/reporting/fixture.ts does), so the rollups' UPDATE paths run too.
 * The writers' session time zone is UTC+14, so a UTC day computed in the
 * session's zone would show.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import pg from "pg";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { asTenant, type Tenant } from "./fixture.ts";

const RUNS = Number(process.env.PAYTRUST_ROLLUP_RUNS ?? 40);
/** Days back from today (UTC) that money can land on; small, so days and invoices collide. */
const MAX_DAYS_BACK = 12;

type Currency = "IDR" | "MYR" | "USD";
const EXPONENT: Record<Currency, number> = { IDR: 0, MYR: 2, USD: 2 };

interface InvoiceSpec {
  currency: Currency;
  midtrans: boolean; // only for IDR
  lines: Array<{ quantity: number; unitPrice: number; taxRate: string }>;
  installments: number;
}

type Op =
  | {
      kind: "pay";
      inv: number;
      mode: "full" | "partial" | "over";
      share: number;
      day: number;
      sec: number;
    }
  | { kind: "settle"; inv: number }
  | { kind: "expire"; inv: number }
  | { kind: "duplicate"; inv: number }
  | {
      kind: "refund";
      inv: number;
      pick: number;
      full: boolean;
      share: number;
      outcome: "succeeded" | "failed" | "pending";
      day: number;
      sec: number;
    }
  | { kind: "cancel"; inv: number }
  | { kind: "move"; inv: number; pick: number; day: number; sec: number };

const invoiceArb: fc.Arbitrary<InvoiceSpec> = fc.record({
  currency: fc.constantFrom<Currency>("IDR", "MYR", "USD"),
  midtrans: fc.boolean(),
  lines: fc.array(
    fc.record({
      quantity: fc.integer({ min: 1, max: 3 }),
      unitPrice: fc.integer({ min: 1, max: 200_000 }),
      taxRate: fc.constantFrom("0", "6", "11", "12.5"),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  installments: fc.integer({ min: 1, max: 3 }),
});

const day = fc.integer({ min: 0, max: MAX_DAYS_BACK });
const sec = fc.integer({ min: 0, max: 86_399 });
const share = fc.double({ min: 0.05, max: 0.95, noNaN: true });

const opArb = (invoices: number): fc.Arbitrary<Op> => {
  const inv = fc.integer({ min: 0, max: invoices - 1 });
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("pay" as const),
        inv,
        mode: fc.constantFrom(
          "full" as const,
          "full" as const,
          "partial" as const,
          "over" as const,
        ),
        share,
        day,
        sec,
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("settle" as const), inv }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("expire" as const), inv }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), inv }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("refund" as const),
        inv,
        pick: fc.nat(),
        full: fc.boolean(),
        share,
        outcome: fc.constantFrom(
          "succeeded" as const,
          "succeeded" as const,
          "succeeded" as const,
          "failed" as const,
          "pending" as const,
        ),
        day,
        sec,
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), inv }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("move" as const), inv, pick: fc.nat(), day, sec }),
    },
  );
};

const historyArb = fc.array(invoiceArb, { minLength: 1, maxLength: 6 }).chain((invoices) =>
  fc.record({
    invoices: fc.constant(invoices),
    ops: fc.array(opArb(invoices.length), { minLength: 1, maxLength: 30 }),
    periods: fc.array(
      fc.record({
        from: fc.integer({ min: -2, max: MAX_DAYS_BACK + 2 }),
        length: fc.integer({ min: 0, max: MAX_DAYS_BACK + 4 }),
        currency: fc.constantFrom<Currency | null>(null, null, "IDR", "MYR", "USD"),
      }),
      { minLength: 2, maxLength: 4 },
    ),
  }),
);

/** The timestamp `daysBack` UTC days before today, `seconds` into that day. */
const AT = `((((now() at time zone 'UTC')::date - $2::integer) + make_interval(secs => $3::integer)) at time zone 'UTC')`;

const majorUnits = (minor: bigint, currency: Currency) => {
  const e = EXPONENT[currency];
  if (e === 0) return minor.toString();
  const s = minor.toString().padStart(e + 1, "0");
  return `${s.slice(0, -e)}.${s.slice(-e)}`;
};

// ---------------------------------------------------------------------------
// The recomputation from raw rows ($1 tenant). Plain SQL over the raw tables,
// by the rules of 400-refunds.sql: collected = transactions paid, settled or
// refunded (a refund is its own line, it does not undo the collection), on the
// UTC day of paid_at; cash-basis tax and fee = installments that became paid,
// on their paid_at day; tax by rate = line items of invoices fully paid (and
// still so when refunded later), on the invoice's paid_at day; refunds =
// succeeded refunds on their succeeded_at day.
// ---------------------------------------------------------------------------

const RAW_COLLECTED = `
  select (t.paid_at at time zone 'UTC')::date::text as day, t.currency, t.gateway,
         count(*)::text, count(distinct t.invoice_id)::text, sum(t.paid_amount)::text
    from paytrust_public.payment_transactions t
   where t.tenant_id = $1 and t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
   group by 1, 2, 3 order by 1, 2, 3`;
const RAW_GAPS = `
  with days as (select distinct t.invoice_id, t.currency, t.gateway, (t.paid_at at time zone 'UTC')::date as day
                  from paytrust_public.payment_transactions t
                 where t.tenant_id = $1 and t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null),
       pairs as (select d.*, (select max(e.day) from days e
                               where e.invoice_id = d.invoice_id and e.currency = d.currency
                                 and e.gateway = d.gateway and e.day < d.day) as prev_day
                   from days d)
  select currency, gateway, prev_day::text, day::text, count(*)::text
    from pairs where prev_day is not null group by 1, 2, 3, 4 order by 3, 4, 1, 2`;
const RAW_INSTALLMENTS = `
  select (i.paid_at at time zone 'UTC')::date::text, v.currency, v.gateway,
         count(*)::text, count(distinct i.invoice_id)::text,
         sum(i.principal)::text, sum(i.tax_amount)::text, sum(i.fee_amount)::text
    from paytrust_public.installments i join paytrust_public.invoices v on v.id = i.invoice_id
   where i.tenant_id = $1 and i.status = 'paid' and i.paid_at is not null
   group by 1, 2, 3 order by 1, 2, 3`;
const RAW_REFUNDS = `
  select (r.succeeded_at at time zone 'UTC')::date::text, r.currency, r.gateway, count(*)::text, sum(r.amount)::text
    from paytrust_public.refunds r
   where r.tenant_id = $1 and r.status = 'succeeded' and r.succeeded_at is not null
   group by 1, 2, 3 order by 1, 2, 3`;
const RAW_TAXES = `
  select (v.paid_at at time zone 'UTC')::date::text, v.currency, l.tax_rate::text,
         count(distinct v.id)::text, count(*)::text, sum(l.line_amount)::text, sum(l.tax_amount)::text
    from paytrust_public.invoices v join paytrust_public.line_items l on l.invoice_id = v.id
   where v.tenant_id = $1 and v.status in ('paid', 'refunded') and v.paid_at is not null
   group by 1, 2, 3 order by 1, 2, 3`;

// The rollup tables of one tenant (rows whose figures are all zero are equivalent to no row).
const ROLLUP_COLLECTED = `
  select day::text, currency, gateway, transaction_count::text, invoice_count::text, gross_amount::text
    from paytrust_private.report_daily_collected
   where tenant_id = $1 and (transaction_count <> 0 or invoice_count <> 0 or gross_amount <> 0)
   order by 1, 2, 3`;
const ROLLUP_GAPS = `
  select currency, gateway, prev_day::text, day::text, invoice_count::text
    from paytrust_private.report_collected_gaps where tenant_id = $1 and invoice_count <> 0
   order by 3, 4, 1, 2`;
const ROLLUP_INSTALLMENTS = `
  select day::text, currency, gateway, installment_count::text, invoice_count::text,
         principal_amount::text, tax_amount::text, fee_amount::text
    from paytrust_private.report_daily_installments
   where tenant_id = $1 and (installment_count <> 0 or invoice_count <> 0 or principal_amount <> 0
                             or tax_amount <> 0 or fee_amount <> 0)
   order by 1, 2, 3`;
const ROLLUP_REFUNDS = `
  select day::text, currency, gateway, refund_count::text, refunded_amount::text
    from paytrust_private.report_daily_refunds
   where tenant_id = $1 and (refund_count <> 0 or refunded_amount <> 0) order by 1, 2, 3`;
const ROLLUP_TAXES = `
  select day::text, currency, tax_rate::text, invoice_count::text, line_count::text,
         taxable_amount::text, tax_amount::text
    from paytrust_private.report_daily_taxes
   where tenant_id = $1 and (invoice_count <> 0 or line_count <> 0 or taxable_amount <> 0 or tax_amount <> 0)
   order by 1, 2, 3`;

const TABLES = [
  ["report_daily_collected", ROLLUP_COLLECTED, RAW_COLLECTED],
  ["report_collected_gaps", ROLLUP_GAPS, RAW_GAPS],
  ["report_daily_installments", ROLLUP_INSTALLMENTS, RAW_INSTALLMENTS],
  ["report_daily_refunds", ROLLUP_REFUNDS, RAW_REFUNDS],
  ["report_daily_taxes", ROLLUP_TAXES, RAW_TAXES],
] as const;

/** financialReport from raw rows: $1 tenant, $2 from, $3 to, $4 currency or null. */
const RAW_REPORT = `
  with c as (
    select t.currency, t.gateway, sum(t.paid_amount) as gross, count(*) as txs, count(distinct t.invoice_id) as invoices
      from paytrust_public.payment_transactions t
     where t.tenant_id = $1 and t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
       and (t.paid_at at time zone 'UTC')::date between $2::date and $3::date
       and ($4::text is null or t.currency = $4::text)
     group by 1, 2
  ), p as (
    select v.currency, v.gateway, sum(i.tax_amount) as tax, sum(i.fee_amount) as fee, count(*) as n
      from paytrust_public.installments i join paytrust_public.invoices v on v.id = i.invoice_id
     where i.tenant_id = $1 and i.status = 'paid' and i.paid_at is not null
       and (i.paid_at at time zone 'UTC')::date between $2::date and $3::date
       and ($4::text is null or v.currency = $4::text)
     group by 1, 2
  ), r as (
    select x.currency, x.gateway, sum(x.amount) as refunds, count(*) as n
      from paytrust_public.refunds x
     where x.tenant_id = $1 and x.status = 'succeeded' and x.succeeded_at is not null
       and (x.succeeded_at at time zone 'UTC')::date between $2::date and $3::date
       and ($4::text is null or x.currency = $4::text)
     group by 1, 2
  ), k as (
    select currency, gateway from c union select currency, gateway from p union select currency, gateway from r
  )
  select k.currency, k.gateway,
         coalesce(c.gross, 0)::text, coalesce(p.tax, 0)::text, coalesce(p.fee, 0)::text,
         (coalesce(c.gross, 0) - coalesce(p.fee, 0))::text,
         coalesce(c.invoices, 0)::text, coalesce(c.txs, 0)::text, coalesce(p.n, 0)::text,
         coalesce(r.refunds, 0)::text, coalesce(r.n, 0)::text,
         (coalesce(c.gross, 0) - coalesce(p.fee, 0) - coalesce(r.refunds, 0))::text
    from k
    left join c on c.currency = k.currency and c.gateway = k.gateway
    left join p on p.currency = k.currency and p.gateway = k.gateway
    left join r on r.currency = k.currency and r.gateway = k.gateway
   order by 1, 2`;
const API_REPORT = `
  select currency, gateway, gross::text, tax::text, service_fee::text, net::text, invoice_count::text,
         transaction_count::text, installment_count::text, refunds::text, refund_count::text,
         net_after_refunds::text
    from paytrust_public.financial_report($1::date, $2::date, $3::text)`;
const RAW_TAX_REPORT = `
  select v.currency, l.tax_rate::text, sum(l.line_amount)::text, sum(l.tax_amount)::text,
         count(distinct v.id)::text, count(*)::text
    from paytrust_public.invoices v join paytrust_public.line_items l on l.invoice_id = v.id
   where v.tenant_id = $1 and v.status in ('paid', 'refunded') and v.paid_at is not null
     and (v.paid_at at time zone 'UTC')::date between $2::date and $3::date
     and ($4::text is null or v.currency = $4::text)
   group by v.currency, l.tax_rate order by v.currency, l.tax_rate`;
const API_TAX_REPORT = `
  select currency, tax_rate::text, taxable_amount::text, tax::text, invoice_count::text, line_count::text
    from paytrust_public.financial_tax_report($1::date, $2::date, $3::text)`;

describe("report rollups (property)", () => {
  let db: TestDatabase;
  /** The writers and readers: session time zone UTC+14. */
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase();
    pool = new pg.Pool({
      connectionString: db.ownerUrl,
      max: 4,
      options: "-c TimeZone=Pacific/Kiritimati",
    });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const rows = async (client: pg.Pool | pg.PoolClient, sql: string, params: unknown[]) =>
    (await client.query({ text: sql, values: params, rowMode: "array" })).rows as string[][];

  /** Runs a step; a refusal with a project code (PT…) is a legitimate outcome of a random history. */
  async function attempt(step: () => Promise<unknown>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error: any) {
      if (typeof error?.code === "string" && error.code.startsWith("PT")) return false;
      throw error;
    }
  }

  async function webhook(
    gateway: "xendit" | "midtrans",
    eventId: string,
    externalId: string,
    payload: object,
  ) {
    const { rows: r } = await pool.query(
      "select webhook_event_id, duplicate from paytrust_private.receive_webhook($1, $2, $3, $4::jsonb)",
      [gateway, eventId, externalId, JSON.stringify(payload)],
    );
    if (!r[0].duplicate)
      await pool.query("select paytrust_private.apply_webhook_event($1)", [r[0].webhook_event_id]);
  }

  async function createInvoice(tenant: Tenant, spec: InvoiceSpec): Promise<string> {
    const gateway = spec.currency === "IDR" && spec.midtrans ? "midtrans" : "xendit";
    return asTenant(pool, tenant, async (client) => {
      const { rows: r } = await client.query(
        `select i.id from paytrust_public.create_invoice(
           currency => $1, gateway => $2, customer_name => 'Customer', customer_email => 'customer@example.com',
           line_items => (select array_agg(row('Line', (l ->> 'quantity')::integer, (l ->> 'unitPrice')::bigint,
                                               (l ->> 'taxRate')::numeric)::paytrust_public.invoice_line order by n)
                            from jsonb_array_elements($3::jsonb) with ordinality as x(l, n)),
           installment_count => $4::integer) i`,
        [spec.currency, gateway, JSON.stringify(spec.lines), spec.installments],
      );
      return r[0].id as string;
    });
  }

  let eventSeq = 0;

  async function run(
    tenant: Tenant,
    invoiceIds: string[],
    specs: InvoiceSpec[],
    op: Op,
  ): Promise<boolean> {
    const invoiceId = invoiceIds[op.inv];
    const currency = specs[op.inv].currency;
    const gatewayOf = async () =>
      (await pool.query("select gateway from paytrust_public.invoices where id = $1", [invoiceId]))
        .rows[0].gateway as "xendit" | "midtrans";
    // Collected payments of the tenant (refunds, settlements, re-dating pick among them).
    const collected = async () =>
      (
        await pool.query(
          `select id, external_id, paid_amount, gateway, currency from paytrust_public.payment_transactions
            where tenant_id = $1 and status in ('paid', 'settled', 'refunded') order by created_at, id`,
          [tenant.tenantId],
        )
      ).rows as Array<{
        id: string;
        external_id: string;
        paid_amount: string;
        gateway: string;
        currency: Currency;
      }>;

    switch (op.kind) {
      case "pay":
      case "expire": {
        const gateway = await gatewayOf();
        let tx: { id: string; external_id: string; amount: string; installment_id: string } | null =
          null;
        const started = await attempt(async () => {
          tx = await asTenant(pool, tenant, async (client) => {
            const { rows: r } = await client.query(
              "select id, external_id, amount, installment_id from paytrust_public.initiate_payment($1)",
              [invoiceId],
            );
            return r[0];
          });
        });
        if (!started || !tx) return false;
        const t = tx as { id: string; external_id: string; amount: string; installment_id: string };
        const eventId = `ev-${++eventSeq}`;
        if (op.kind === "expire") {
          if (gateway === "xendit")
            await webhook("xendit", eventId, t.external_id, {
              id: eventId,
              external_id: t.external_id,
              status: "EXPIRED",
              currency,
            });
          else
            await webhook("midtrans", eventId, t.external_id, {
              order_id: t.external_id,
              transaction_status: "expire",
              status_code: "407",
              gross_amount: `${t.amount}.00`,
              currency,
            });
          return true;
        }
        const due = BigInt(t.amount);
        let paid = due;
        if (op.mode === "partial" && due > 1n) {
          paid = BigInt(Math.floor(Number(due) * op.share));
          if (paid < 1n) paid = 1n;
          if (paid >= due) paid = due - 1n;
        } else if (op.mode === "over") {
          paid = due + BigInt(Math.max(1, Math.floor(Number(due) * op.share)));
        }
        const before = await pool.query(
          `select (select status from paytrust_public.installments where id = $1) as installment,
                  (select status from paytrust_public.invoices where id = $2) as invoice`,
          [t.installment_id, invoiceId],
        );
        if (gateway === "xendit")
          await webhook("xendit", eventId, t.external_id, {
            id: eventId,
            external_id: t.external_id,
            status: "PAID",
            amount: majorUnits(due, currency),
            paid_amount: majorUnits(paid, currency),
            currency,
          });
        else
          await webhook("midtrans", eventId, t.external_id, {
            order_id: t.external_id,
            transaction_status: op.share < 0.5 ? "capture" : "settlement",
            status_code: "200",
            gross_amount: `${paid}.00`,
            fraud_status: "accept",
            currency,
          });
        const after = await pool.query(
          `select (select status from paytrust_public.installments where id = $1) as installment,
                  (select status from paytrust_public.invoices where id = $2) as invoice`,
          [t.installment_id, invoiceId],
        );
        // Money landed on the chosen day: the transaction, and what this payment completed.
        const at = [op.day, op.sec];
        await pool.query(
          `update paytrust_public.payment_transactions set paid_at = ${AT} where id = $1 and paid_at is not null`,
          [t.id, ...at],
        );
        if (before.rows[0].installment !== "paid" && after.rows[0].installment === "paid")
          await pool.query(
            `update paytrust_public.installments set paid_at = ${AT} where id = $1`,
            [t.installment_id, ...at],
          );
        if (before.rows[0].invoice !== "paid" && after.rows[0].invoice === "paid")
          await pool.query(`update paytrust_public.invoices set paid_at = ${AT} where id = $1`, [
            invoiceId,
            ...at,
          ]);
        return true;
      }
      case "settle": {
        const xendit = (await collected()).filter((t) => t.gateway === "xendit");
        const paid = xendit[op.inv % Math.max(1, xendit.length)];
        if (!paid) return false;
        const eventId = `ev-${++eventSeq}`;
        await webhook("xendit", eventId, paid.external_id, {
          id: eventId,
          external_id: paid.external_id,
          status: "SETTLED",
          paid_amount: majorUnits(BigInt(paid.paid_amount), paid.currency),
          currency: paid.currency,
        });
        return true;
      }
      case "duplicate": {
        // The gateway delivers the PAID of a transaction again, under a new event id: a no-op.
        const all = await collected();
        const paid = all[op.inv % Math.max(1, all.length)];
        if (!paid) return false;
        const eventId = `ev-${++eventSeq}`;
        if (paid.gateway === "xendit")
          await webhook("xendit", eventId, paid.external_id, {
            id: eventId,
            external_id: paid.external_id,
            status: "PAID",
            paid_amount: majorUnits(BigInt(paid.paid_amount), paid.currency),
            currency: paid.currency,
          });
        else
          await webhook("midtrans", eventId, paid.external_id, {
            order_id: paid.external_id,
            transaction_status: "capture",
            status_code: "200",
            gross_amount: `${paid.paid_amount}.00`,
            fraud_status: "accept",
            currency: paid.currency,
          });
        return true;
      }
      case "refund": {
        const candidates = await collected();
        if (candidates.length === 0) return false;
        const target = candidates[op.pick % candidates.length];
        const { rows: r } = await pool.query(
          `select paytrust_public.payment_transactions_refundable_amount(t) as refundable
             from paytrust_public.payment_transactions t where t.id = $1`,
          [target.id],
        );
        const refundable = BigInt(r[0].refundable);
        if (refundable < 1n) return false;
        let amount = op.full ? refundable : BigInt(Math.floor(Number(refundable) * op.share));
        if (amount < 1n) amount = 1n;
        let refundId = "";
        const made = await attempt(async () => {
          refundId = await asTenant(pool, tenant, async (client) => {
            const { rows: x } = await client.query(
              "select id from paytrust_public.refund_payment($1, $2, 'customer asked')",
              [target.id, amount.toString()],
            );
            return x[0].id as string;
          });
        });
        if (!made) return false;
        if (op.outcome === "pending") return true;
        await pool.query("select paytrust_private.record_refund_result($1, $2, $3, $4, $5)", [
          refundId,
          op.outcome,
          `gw-${refundId}`,
          op.outcome.toUpperCase(),
          op.outcome === "failed" ? "refused" : null,
        ]);
        if (op.outcome === "succeeded")
          await pool.query(
            `update paytrust_public.refunds set succeeded_at = ${AT} where id = $1`,
            [refundId, op.day, op.sec],
          );
        return true;
      }
      case "cancel":
        return attempt(() =>
          asTenant(pool, tenant, (client) =>
            client.query("select paytrust_public.cancel_invoice($1)", [invoiceId]),
          ),
        );
      case "move": {
        // A collected payment is re-dated (a correction): one UPDATE across days.
        const candidates = await collected();
        if (candidates.length === 0) return false;
        const target = candidates[op.pick % candidates.length];
        await pool.query(
          `update paytrust_public.payment_transactions set paid_at = ${AT} where id = $1`,
          [target.id, op.day, op.sec],
        );
        return true;
      }
    }
  }

  /** The dates of a period, `from` days back, `length` days long. */
  async function period(from: number, length: number): Promise<[string, string]> {
    const { rows: r } = await pool.query(
      `select ((now() at time zone 'UTC')::date - $1::integer)::text as "from",
              ((now() at time zone 'UTC')::date - $1::integer + $2::integer)::text as "to"`,
      [from, length],
    );
    return [r[0].from, r[0].to];
  }

  it("rollups and financialReport equal a recomputation from the raw rows and rebuild_report_rollups()", async () => {
    const applied: Record<string, number> = {};
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(historyArb, async (history) => {
        runs++;
        const tenant = await createTenant(pool, `Rollup run ${runs}`);
        const ids: string[] = [];
        for (const spec of history.invoices) ids.push(await createInvoice(tenant, spec));
        for (const op of history.ops)
          if (await run(tenant, ids, history.invoices, op)) {
            const key =
              op.kind === "pay"
                ? `pay ${op.mode}`
                : op.kind === "refund"
                  ? `refund ${op.outcome}`
                  : op.kind;
            applied[key] = (applied[key] ?? 0) + 1;
          }

        // 1. rollups = recomputation from the raw rows
        for (const [name, rollupSql, rawSql] of TABLES) {
          expect({ [name]: await rows(pool, rollupSql, [tenant.tenantId]) }).toEqual({
            [name]: await rows(pool, rawSql, [tenant.tenantId]),
          });
        }

        // 2. rollups = rebuild_report_rollups() (rebuilt in a transaction that is rolled back)
        const maintained = [];
        for (const [, rollupSql] of TABLES)
          maintained.push(await rows(pool, rollupSql, [tenant.tenantId]));
        const client = await pool.connect();
        try {
          await client.query("begin");
          await client.query("select paytrust_private.rebuild_report_rollups()");
          for (const [i, [name, rollupSql]] of TABLES.entries()) {
            expect({ [name]: await rows(client, rollupSql, [tenant.tenantId]) }).toEqual({
              [name]: maintained[i],
            });
          }
        } finally {
          await client.query("rollback");
          client.release();
        }

        // 3. financialReport / financialTaxReport over random periods = recomputation
        for (const p of history.periods) {
          const [from, to] = await period(p.from, p.length);
          const [apiReport, apiTaxes] = await asTenant(pool, tenant, async (c) => [
            await rows(c, API_REPORT, [from, to, p.currency]),
            await rows(c, API_TAX_REPORT, [from, to, p.currency]),
          ]);
          const label = `${from}..${to} ${p.currency ?? "all"}`;
          expect({ [label]: apiReport }).toEqual({
            [label]: await rows(pool, RAW_REPORT, [tenant.tenantId, from, to, p.currency]),
          });
          expect({ [label]: apiTaxes }).toEqual({
            [label]: await rows(pool, RAW_TAX_REPORT, [tenant.tenantId, from, to, p.currency]),
          });
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    // The histories did every kind of thing (not only refusals).
    if (process.env.PAYTRUST_ROLLUP_STATS) console.log(applied);
    for (const kind of [
      "pay full",
      "pay partial",
      "pay over",
      "refund succeeded",
      "refund failed",
      "settle",
      "cancel",
      "move",
    ])
      expect({ [kind]: (applied[kind] ?? 0) > 0 }).toEqual({ [kind]: true });
  }, 180_000);
});
