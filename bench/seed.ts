/**
 * `npm run seed -- --invoices 1000000 [--tenants 5] [--days 730] [--batch 50000] [--seed 0.42] [--verbose]`
 *
 * Fills a migrated PayTrust database with realistic history for the report
 * benchmarks (docs/reporting.md): invoices in IDR, MYR and USD through Xendit
 * and Midtrans, 1-3 line items at local tax rates, single payments and
 * installment plans, and the payment transactions and webhook events that paid
 * them. Outcomes: ~70 % paid, 8 % partially paid, 2 % overpaid, 6 % open,
 * 4 % pending, 5 % cancelled, 5 % expired. Amounts follow the money rules of
 * docs/money.md exactly (line tax, service fee, installment split), so every
 * report figure is one the real functions could have produced.
 *
 * Everything is set-based SQL (generate_series into temporary tables, then one
 * INSERT … SELECT per table per batch). Row triggers (timestamps, the deferred
 * per-invoice sum check) would cost minutes and overwrite the historical
 * timestamps, so they are off while seeding: `session_replication_role =
 * replica` when the owner is a superuser (also skips foreign-key checks), else
 * `ALTER TABLE … DISABLE TRIGGER USER`. Secondary indexes are dropped during
 * the load and rebuilt at the end. All of it runs in ONE transaction, so a
 * failed or interrupted seed leaves the database exactly as it was.
 *
 * Database: DATABASE_URL (the owner), else the embedded server under .paytrust/.
 * Run `paytrust migrate` first (committed migrations are applied once; the
 * seeded data survives later migrations).
 */
import pg from "pg";
import { loadConfig } from "../src/config.ts";
import { resolveDatabase } from "../src/db/connection.ts";

interface Options {
  verbose: boolean;
  invoices: number;
  tenants: number;
  days: number;
  batch: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    verbose: false,
    invoices: 10_000,
    tenants: 5,
    days: 730,
    batch: 50_000,
    seed: 0.42,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--verbose") {
      options.verbose = true;
      continue;
    }
    const match = /^--(invoices|tenants|days|batch|seed)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`Unknown argument "${arg}"`);
    const raw = match[2] ?? argv[++i];
    const value = Number(raw);
    const key = match[1] as Exclude<keyof Options, "verbose">;
    const valid =
      key === "seed"
        ? value >= -1 && value <= 1
        : Number.isInteger(value) && value >= 1 && value <= 100_000_000;
    if (!valid)
      throw new Error(
        `--${key} needs a ${key === "seed" ? "number in [-1, 1]" : "positive integer"}`,
      );
    options[key] = value;
  }
  if (options.days < 200)
    throw new Error("--days must be at least 200 (installment plans span months)");
  return options;
}

const TABLES = [
  "paytrust_public.invoices",
  "paytrust_public.line_items",
  "paytrust_public.installments",
  "paytrust_public.payment_transactions",
  "paytrust_public.webhook_events",
  "paytrust_private.report_paid_installments",
  "paytrust_private.report_paid_invoice_taxes",
];

/**
 * One batch of invoices g = lo..hi for the tenants (cumulative weights in
 * thresholds), spread over the last `days` days. Random draws are made in the
 * select list of an inner query (evaluated per row) and combined outside.
 * Multi-statement text cannot take bind parameters; the values are numbers and
 * uuids from this process.
 */
function batchSql(
  lo: number,
  hi: number,
  tenantIds: string[],
  thresholds: number[],
  days: number,
  /** Per-tenant invoice numbers (paytrust_private.invoice_counters) exist: fill them in. */
  numbered = false,
): string {
  const tenants = `array[${tenantIds.map((id) => `'${id}'`).join(",")}]::uuid[]`;
  const weights = `array[${thresholds.length ? thresholds.join(",") : "2"}]::float8[]`;
  return `
drop table if exists s_inv, s_line, s_amt, s_inst, s_tx;

-- invoices: who, what currency and gateway, what happens to them
create temp table s_inv as
with draws as (
  select g, random() as r_tenant, random() as r_route, random() as r_outcome, random() as r_inst,
         random() as r_lines, random() as r_date, random() as r_paid, random() as r_excess
    from generate_series(${lo}::bigint, ${hi}::bigint) g
), shaped as (
  select d.*,
         (${tenants})[width_bucket(d.r_tenant, ${weights}) + 1] as tenant_id,
         (array['IDR', 'IDR', 'MYR', 'USD'])[width_bucket(d.r_route, array[0.35, 0.65, 0.85]) + 1] as currency,
         (array['xendit', 'midtrans', 'xendit', 'xendit'])[width_bucket(d.r_route, array[0.35, 0.65, 0.85]) + 1] as gateway,
         (array['paid', 'partial', 'overpaid', 'open', 'pending', 'cancelled', 'expired'])
           [width_bucket(d.r_outcome, array[0.70, 0.78, 0.80, 0.86, 0.90, 0.95]) + 1] as outcome
    from draws d
), planned as (
  select s.*,
         case when s.outcome = 'partial' then 2 + floor(s.r_inst * 3)::int
              when s.r_inst < 0.8 then 1
              else (array[2, 3, 4, 6])[1 + floor((s.r_inst - 0.8) * 20)::int] end as n_inst
    from shaped s
)
select gen_random_uuid() as id, p.tenant_id, p.currency, p.gateway, c.fee_percent, c.fee_fixed, p.outcome, p.n_inst,
       case when p.outcome = 'partial' then 1 + floor(p.r_paid * (p.n_inst - 1))::int
            when p.outcome in ('paid', 'overpaid') then p.n_inst else 0 end as n_paid,
       1 + floor(p.r_lines * 3)::int as n_lines,
       -- old enough for every installment of the plan to have fallen due
       now() - ((p.n_inst - 1) * 30 + 3) * interval '1 day'
             - p.r_date * (${days}::int - (p.n_inst - 1) * 30 - 3) * interval '1 day' as created_at,
       p.r_paid, p.r_excess
  from planned p
  join paytrust_public.gateway_configurations c on c.gateway = p.gateway and c.currency = p.currency;

analyze s_inv;

-- line items: quantity × unit price at a local tax rate, tax rounded half up
create temp table s_line as
select x.invoice_id, x.tenant_id, x.position, x.quantity, x.unit_price, x.tax_rate,
       x.quantity::bigint * x.unit_price as line_amount,
       floor(x.quantity::numeric * x.unit_price * x.tax_rate / 100 + 0.5)::bigint as tax_amount
  from (
    select i.id as invoice_id, i.tenant_id, k as position,
           1 + floor(random() * 5)::int as quantity,
           case i.currency
             when 'IDR' then (10 + floor(random() * 990)::bigint) * 1000
             when 'MYR' then 500 + floor(random() * 49500)::bigint
             else 100 + floor(random() * 49900)::bigint end as unit_price,
           case i.currency
             when 'IDR' then (array[11, 11, 12, 0])[1 + floor(random() * 4)::int]
             when 'MYR' then (array[6, 8, 0])[1 + floor(random() * 3)::int]
             else (array[0, 10])[1 + floor(random() * 2)::int] end::numeric(5, 2) as tax_rate
      from s_inv i cross join lateral generate_series(1, i.n_lines) k
  ) x;

analyze s_line;

-- invoice amounts: subtotal, tax, service fee = round_half_up((sub + tax) × % / 100) + fixed
create temp table s_amt as
select i.*, a.subtotal, a.tax_total,
       floor((a.subtotal + a.tax_total) * i.fee_percent / 100 + 0.5)::bigint + i.fee_fixed as service_fee
  from s_inv i
  join (select invoice_id, sum(line_amount)::bigint as subtotal, sum(tax_amount)::bigint as tax_total
          from s_line group by invoice_id) a on a.invoice_id = i.id;

analyze s_amt;

-- installments: equal split, truncated shares, the last absorbs the remainder
create temp table s_inst as
select x.*, x.principal + x.tax_amount + x.fee_amount as total,
       k_paid as paid,
       case when k_paid then x.created_at + (x.number - 1) * interval '30 days' + random() * interval '72 hours' end as paid_at
  from (
    select gen_random_uuid() as id, a.id as invoice_id, a.tenant_id, a.currency, a.gateway, a.outcome,
           a.created_at, a.n_inst, a.r_excess, k as number,
           (a.created_at at time zone 'UTC')::date + 14 + (k - 1) * 30 as due_date,
           case when k < a.n_inst then a.subtotal / a.n_inst else a.subtotal - (a.n_inst - 1) * (a.subtotal / a.n_inst) end as principal,
           case when k < a.n_inst then a.tax_total / a.n_inst else a.tax_total - (a.n_inst - 1) * (a.tax_total / a.n_inst) end as tax_amount,
           case when k < a.n_inst then a.service_fee / a.n_inst else a.service_fee - (a.n_inst - 1) * (a.service_fee / a.n_inst) end as fee_amount,
           k <= a.n_paid as k_paid
      from s_amt a cross join lateral generate_series(1, a.n_inst) k
  ) x;

analyze s_inst;

-- payment attempts: one per paid installment (overpaid: the last pays 1-5 % too much),
-- a live attempt for pending invoices, an expired one for expired invoices
create temp table s_tx as
select gen_random_uuid() as id, s.tenant_id, s.invoice_id, s.id as installment_id, s.number, s.gateway, s.currency,
       s.total as amount,
       s.total + case when s.outcome = 'overpaid' and s.number = s.n_inst
                      then greatest(1, floor(s.total * (0.01 + s.r_excess * 0.04)))::bigint else 0 end as paid_amount,
       case when s.paid_at < now() - interval '2 days' and random() < 0.9 then 'settled' else 'paid' end as status,
       s.paid_at, s.paid_at - interval '20 minutes' as created_at
  from s_inst s where s.paid
union all
select gen_random_uuid(), s.tenant_id, s.invoice_id, s.id, s.number, s.gateway, s.currency, s.total, 0,
       case s.outcome when 'pending' then 'pending' else 'expired' end,
       null, s.created_at + interval '1 hour'
  from s_inst s where s.outcome in ('pending', 'expired') and s.number = 1;

analyze s_tx;

insert into paytrust_public.invoices (
  id, tenant_id, status, currency, gateway, customer_name, customer_email, description, due_date,
  subtotal, tax_total, service_fee, total, fee_percent, fee_fixed, installment_count, amount_paid,
  overpayment_amount, payment_initiated_at, paid_at, cancelled_at, created_at, updated_at${numbered ? ", number" : ""})
select a.id, a.tenant_id,
       case a.outcome when 'partial' then 'partially_paid' when 'overpaid' then 'paid' else a.outcome end,
       a.currency, a.gateway, 'Customer ' || (abs(hashtext(a.id::text)) % 50000),
       'customer' || (abs(hashtext(a.id::text)) % 50000) || '@example.com', 'Seeded invoice',
       (a.created_at at time zone 'UTC')::date + 14,
       a.subtotal, a.tax_total, a.service_fee, a.subtotal + a.tax_total + a.service_fee, a.fee_percent, a.fee_fixed,
       a.n_inst, coalesce(t.paid, 0), coalesce(t.paid - t.due, 0), t.first_attempt,
       case when a.outcome in ('paid', 'overpaid') then t.last_paid end,
       case when a.outcome = 'cancelled' then a.created_at + interval '2 days' end,
       a.created_at, coalesce(t.last_paid, a.created_at)${
         numbered
           ? `,
       coalesce((select c.last_number from paytrust_private.invoice_counters c where c.tenant_id = a.tenant_id), 0)
         + row_number() over (partition by a.tenant_id order by a.created_at, a.id)`
           : ""
       }
  from s_amt a
  left join (select x.invoice_id, sum(x.paid_amount) as paid, sum(x.amount) filter (where x.paid_at is not null) as due,
                    min(x.created_at) as first_attempt, max(x.paid_at) as last_paid
               from s_tx x group by x.invoice_id) t on t.invoice_id = a.id;
${
  numbered
    ? `
-- per-tenant numbers (the _050_number trigger is off while seeding): the counters move on
insert into paytrust_private.invoice_counters as c (tenant_id, last_number)
  select a.tenant_id, count(*) from s_amt a group by a.tenant_id
  on conflict (tenant_id) do update set last_number = c.last_number + excluded.last_number;
`
    : ""
}
insert into paytrust_public.line_items
  (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
select tenant_id, invoice_id, position, 'Item ' || position, quantity, unit_price, tax_rate, line_amount, tax_amount
  from s_line;

insert into paytrust_public.installments
  (id, tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total, status, paid_amount, paid_at)
select id, tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total,
       case when paid then 'paid' else 'pending' end, case when paid then total else 0 end, paid_at
  from s_inst;

insert into paytrust_public.payment_transactions
  (id, tenant_id, invoice_id, installment_id, installment_number, gateway, currency, amount, paid_amount, status,
   external_id, gateway_reference, gateway_status, iso20022_status, iso20022_reason, paid_at, created_at, updated_at,
   expires_at)
select id, tenant_id, invoice_id, installment_id, number, gateway, currency, amount, paid_amount, status,
       'pt-' || replace(id::text, '-', ''), 'seed-' || left(id::text, 8),
       case status when 'settled' then 'SETTLED' when 'paid' then 'PAID' when 'expired' then 'EXPIRED' else 'PENDING' end,
       case status when 'settled' then 'ACSC' when 'paid' then 'ACSP' when 'expired' then 'RJCT' else 'PDNG' end,
       case status when 'expired' then 'DS24' end,
       paid_at, created_at, coalesce(paid_at, created_at),
       created_at + interval '1440 minutes' -- the default checkout expiry
  from s_tx;

-- the report ledgers (their triggers are off while seeding)
insert into paytrust_private.report_paid_installments
  (installment_id, tenant_id, invoice_id, currency, gateway, paid_at, principal, tax_amount, fee_amount)
select id, tenant_id, invoice_id, currency, gateway, paid_at, principal, tax_amount, fee_amount
  from s_inst where paid;

insert into paytrust_private.report_paid_invoice_taxes
  (invoice_id, tax_rate, tenant_id, currency, paid_at, taxable_amount, tax_amount, line_count)
select l.invoice_id, l.tax_rate, l.tenant_id, a.currency, p.paid_at,
       sum(l.line_amount), sum(l.tax_amount), count(*)
  from s_line l
  join s_amt a on a.id = l.invoice_id and a.outcome in ('paid', 'overpaid')
  join (select invoice_id, max(paid_at) as paid_at from s_tx group by invoice_id) p on p.invoice_id = l.invoice_id
 group by l.invoice_id, l.tax_rate, l.tenant_id, a.currency, p.paid_at;

-- webhook events: the notification that moved each attempt, a second one on
-- settlement, 0.3 % for unknown transactions (ignored), 0.2 % failed retries
insert into paytrust_public.webhook_events
  (gateway, event_id, tenant_id, transaction_id, payload, status, outcome, attempts, last_error, received_at, processed_at)
select e.gateway, e.event_id, e.tenant_id, e.transaction_id, e.payload, e.status, e.outcome, e.attempts, e.last_error,
       e.received_at, case when e.status <> 'failed' then e.received_at + interval '2 seconds' end
  from (
    select x.gateway, 'evt-' || x.id || '-1' as event_id, x.tenant_id, x.id as transaction_id,
           jsonb_build_object('external_id', 'pt-' || replace(x.id::text, '-', ''),
                              'status', case when x.status = 'expired' then 'EXPIRED' else 'PAID' end) as payload,
           case when r < 0.002 then 'failed' else 'processed' end as status,
           case when r < 0.002 then null else 'pending → ' || case when x.status = 'expired' then 'expired' else 'paid' end end as outcome,
           case when r < 0.002 then 10 when r < 0.02 then 2 else 1 end as attempts,
           case when r < 0.002 then 'gateway timeout' end as last_error,
           coalesce(x.paid_at, x.created_at + interval '1 day') as received_at
      from (select s.*, random() as r from s_tx s where s.status <> 'pending') x
    union all
    select x.gateway, 'evt-' || x.id || '-2', x.tenant_id, x.id,
           jsonb_build_object('external_id', 'pt-' || replace(x.id::text, '-', ''), 'status', 'SETTLED'),
           'processed', 'paid → settled', 1, null, x.paid_at + interval '1 day'
      from s_tx x where x.status = 'settled'
    union all
    select x.gateway, 'evt-unknown-' || x.id, null, null,
           jsonb_build_object('external_id', 'unknown-' || x.id, 'status', 'PAID'),
           'ignored', 'unknown transaction', 1, null, x.created_at
      from s_tx x where random() < 0.003
  ) e;
`;
}

/** The statements of a batch (each ends with ";" at the end of a line). */
function statements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((part) => part.trim())
    .filter((part) => part.replace(/--.*$/gm, "").trim() !== "");
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string) => console.error(line);
  const db = await resolveDatabase(loadConfig(), { log });
  const client = new pg.Client({ connectionString: db.ownerUrl });
  await client.connect();
  try {
    const ready = await client.query(
      "select to_regclass('paytrust_public.webhook_events') is not null as ok",
    );
    if (!ready.rows[0].ok)
      throw new Error("The database is not migrated: run `npx paytrust migrate` first.");
    const { rows: who } = await client.query<{ rolsuper: boolean }>(
      "select rolsuper from pg_roles where rolname = current_user",
    );
    const superuser = who[0]?.rolsuper === true;
    console.log(
      `Seeding ${options.invoices.toLocaleString("en")} invoices for ${options.tenants} tenants over ` +
        `${options.days} days (${superuser ? "replica mode" : "user triggers disabled"}, one transaction)`,
    );

    // Tenants with Zipf-like shares: 1, 1/2, 1/3, ...
    const tenantIds: string[] = [];
    for (let i = 1; i <= options.tenants; i++) {
      const { rows } = await client.query(
        "insert into paytrust_public.tenants (name) values ($1) returning id",
        [`Seed tenant ${i} (${new Date().toISOString().slice(0, 19)})`],
      );
      tenantIds.push(rows[0].id);
    }
    const weights = tenantIds.map((_, i) => 1 / (i + 1));
    const sum = weights.reduce((a, b) => a + b, 0);
    const thresholds: number[] = [];
    let acc = 0;
    for (const w of weights.slice(0, -1)) {
      acc += w / sum;
      thresholds.push(acc);
    }

    // Per-tenant numbers come from a counter table and a trigger (off while seeding).
    const { rows: counters } = await client.query<{ numbered: boolean }>(
      "select to_regclass('paytrust_private.invoice_counters') is not null as numbered",
    );
    const numbered = counters[0].numbered;
    await client.query("select setseed($1)", [options.seed]);
    const spent = new Map<string, number>();
    // One transaction: whatever happens, triggers and indexes come back as they were.
    await client.query("begin");
    if (superuser) {
      await client.query("set local session_replication_role = replica");
    } else {
      for (const table of TABLES) await client.query(`alter table ${table} disable trigger user`);
    }
    // Secondary indexes (not backing a primary key or unique constraint) are
    // dropped for the load and rebuilt once at the end: a sorted build is far
    // cheaper than millions of random insertions.
    const { rows: indexes } = await client.query<{ name: string; ddl: string }>(
      `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as ddl
         from pg_index i
        where i.indrelid = any($1::regclass[])
          and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`,
      [TABLES],
    );
    for (const index of indexes) await client.query(`drop index ${index.name}`);

    for (let lo = 1; lo <= options.invoices; lo += options.batch) {
      const hi = Math.min(options.invoices, lo + options.batch - 1);
      const t0 = performance.now();
      const sql = batchSql(lo, hi, tenantIds, thresholds, options.days, numbered);
      for (const statement of statements(sql)) {
        const t1 = performance.now();
        await client.query(statement);
        const label =
          /^(?:create temp table|insert into|analyze|drop table if exists) ([\w.]+)/m.exec(
            statement,
          )?.[0] ?? "?";
        spent.set(label, (spent.get(label) ?? 0) + performance.now() - t1);
      }
      const elapsed = (performance.now() - started) / 1000;
      const rate = Math.round((hi - lo + 1) / ((performance.now() - t0) / 1000));
      console.log(
        `  ${hi.toLocaleString("en").padStart(11)} / ${options.invoices.toLocaleString("en")} invoices` +
          `  (${rate.toLocaleString("en")}/s, ${elapsed.toFixed(1)} s)`,
      );
    }

    const tIndexes = performance.now();
    await client.query("set local maintenance_work_mem = '256MB'");
    for (const index of indexes) await client.query(index.ddl);
    console.log(
      `  ${indexes.length} indexes rebuilt: ${((performance.now() - tIndexes) / 1000).toFixed(1)} s`,
    );
    if (!superuser) {
      for (const table of TABLES) await client.query(`alter table ${table} enable trigger user`);
    }
    await client.query("commit");

    if (options.verbose) {
      console.log("Time per statement (all batches):");
      for (const [label, ms] of spent)
        console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${label}`);
    }

    const tVacuum = performance.now();
    for (const table of TABLES) await client.query(`vacuum (analyze) ${table}`);
    console.log(`  vacuum analyze: ${((performance.now() - tVacuum) / 1000).toFixed(1)} s`);

    const { rows: counts } = await client.query(
      `select (select count(*) from paytrust_public.invoices) as invoices,
              (select count(*) from paytrust_public.line_items) as line_items,
              (select count(*) from paytrust_public.installments) as installments,
              (select count(*) from paytrust_public.payment_transactions) as payment_transactions,
              (select count(*) from paytrust_public.webhook_events) as webhook_events`,
    );
    console.log(
      `Done in ${((performance.now() - started) / 1000).toFixed(1)} s. Rows now in the database:`,
    );
    for (const [table, n] of Object.entries(counts[0])) {
      console.log(`  ${table.padEnd(21)} ${Number(n).toLocaleString("en").padStart(11)}`);
    }
    console.log(`Largest seeded tenant: ${tenantIds[0]}`);

    // The main report, as the largest tenant's API key runs it (docs/reporting.md).
    console.log("financialReport for the largest tenant (median of 5 runs):");
    for (const days of [30, 365, 1826]) {
      const times: number[] = [];
      for (let run = 0; run < 5; run++) {
        await client.query("begin");
        await client.query("select set_config('paytrust.tenant_id', $1, true)", [tenantIds[0]]);
        await client.query("set local role paytrust_tenant");
        const t0 = performance.now();
        await client.query(
          "select * from paytrust_public.financial_report(current_date - $1::integer, current_date)",
          [days],
        );
        times.push(performance.now() - t0);
        await client.query("rollback");
      }
      times.sort((a, b) => a - b);
      console.log(`  last ${String(days).padStart(4)} days: ${times[2].toFixed(0).padStart(5)} ms`);
    }
  } finally {
    await client.end();
    await db.stop();
  }
}

main().catch((error) => {
  console.error(`seed: ${error.message}`);
  process.exit(1);
});
