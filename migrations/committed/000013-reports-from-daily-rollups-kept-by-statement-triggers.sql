--! Previous: sha1:9d4a36c0a115ea08e86e50dcca29923d998b848d
--! Hash: sha1:e2646df0b5055b734ecc2f668b2889c361b86a23
--! Message: Reports from daily rollups kept by statement triggers

--! split: 600-performance.sql
-- Issue 17, item 5: reports from daily rollups kept in SQL by statement-level
-- triggers (transition tables) in the transaction of the change.
--
--   report_daily_collected   (tenant, UTC day, currency, gateway): paid/settled/refunded transactions
--   report_collected_gaps    (tenant, currency, gateway, day, prev_day): consecutive collection days of
--                            one invoice, so "distinct invoices in a period" stays exact (see below)
--   report_daily_installments(tenant, UTC day, currency, gateway): installments completed
--   report_daily_refunds     (tenant, UTC day, currency, gateway): succeeded refunds
--   report_daily_taxes       (tenant, UTC day, currency, tax rate): fully paid invoices' lines
--
-- Distinct invoices over a period from daily rows: for each invoice and
-- (currency, gateway) let d1 < d2 < … < dk be the UTC days it received money.
-- report_daily_collected.invoice_count counts invoice-days; report_collected_gaps
-- counts the pairs (d(i-1), d(i)). Inside [from, to] an invoice has m days and
-- m − 1 pairs with from ≤ prev_day and day ≤ to, so
--   distinct invoices = Σ invoice-days in [from, to] − Σ pairs with prev_day ≥ from and day ≤ to.
--
-- Rows are incremented with insert … on conflict do update, so concurrent
-- payments of one tenant on one day wait for each other's row lock (per
-- tenant-day, accepted). Transactions of one invoice are changed under the
-- invoice's row lock (apply_webhook_event, refund_payment), so the day set the
-- trigger reads for an invoice is not changed concurrently.

-- ============================================================================
-- 1. Tables
-- ============================================================================

create table if not exists paytrust_private.report_daily_collected (
  tenant_id         uuid not null,
  day               date not null,
  currency          text not null,
  gateway           text not null,
  transaction_count integer not null default 0,
  invoice_count     integer not null default 0, -- invoice-days
  gross_amount      bigint not null default 0,
  primary key (tenant_id, day, currency, gateway)
);
create table if not exists paytrust_private.report_collected_gaps (
  tenant_id     uuid not null,
  currency      text not null,
  gateway       text not null,
  prev_day      date not null,
  day           date not null,
  invoice_count integer not null default 0,
  primary key (tenant_id, prev_day, day, currency, gateway)
);
create table if not exists paytrust_private.report_daily_installments (
  tenant_id         uuid not null,
  day               date not null,
  currency          text not null,
  gateway           text not null,
  installment_count integer not null default 0,
  invoice_count     integer not null default 0, -- distinct invoices that day
  principal_amount  bigint not null default 0,
  tax_amount        bigint not null default 0,
  fee_amount        bigint not null default 0,
  primary key (tenant_id, day, currency, gateway)
);
create table if not exists paytrust_private.report_daily_refunds (
  tenant_id       uuid not null,
  day             date not null,
  currency        text not null,
  gateway         text not null,
  refund_count    integer not null default 0,
  refunded_amount bigint not null default 0,
  primary key (tenant_id, day, currency, gateway)
);
create table if not exists paytrust_private.report_daily_taxes (
  tenant_id      uuid not null,
  day            date not null,
  currency       text not null,
  tax_rate       numeric(5, 2) not null,
  invoice_count  integer not null default 0,
  line_count     integer not null default 0,
  taxable_amount bigint not null default 0,
  tax_amount     bigint not null default 0,
  primary key (tenant_id, day, currency, tax_rate)
);
-- analysts filter days across tenants
create index if not exists report_daily_collected_day_idx on paytrust_private.report_daily_collected (day);
create index if not exists report_daily_installments_day_idx on paytrust_private.report_daily_installments (day);
create index if not exists report_daily_refunds_day_idx on paytrust_private.report_daily_refunds (day);
create index if not exists report_daily_taxes_day_idx on paytrust_private.report_daily_taxes (day);
comment on table paytrust_private.report_daily_collected is
  E'Rollup: paid, settled or refunded payment transactions per tenant, UTC day of paid_at, currency and gateway (kept by the _810_rollup triggers on payment_transactions). invoice_count counts invoice-days.';
comment on table paytrust_private.report_collected_gaps is
  E'Rollup: consecutive UTC collection days (prev_day, day) of one invoice, counted per tenant, currency and gateway; distinct invoices of a period = invoice-days − gaps inside it.';
comment on table paytrust_private.report_daily_installments is
  E'Rollup of report_paid_installments per tenant, UTC day, currency and gateway.';
comment on table paytrust_private.report_daily_refunds is
  E'Rollup: succeeded refunds per tenant, UTC day of succeeded_at, currency and gateway.';
comment on table paytrust_private.report_daily_taxes is
  E'Rollup of report_paid_invoice_taxes per tenant, UTC day of the invoice''s paid_at, currency and tax rate.';

-- ============================================================================
-- 2. Maintenance: deltas of one statement (old rows out, new rows in)
-- ============================================================================

create or replace function paytrust_private.rollup_collected(
  p_old paytrust_public.payment_transactions[], p_new paytrust_public.payment_transactions[]
) returns void as $$
begin
  -- sums: new contributions minus old ones
  insert into paytrust_private.report_daily_collected as r
    (tenant_id, day, currency, gateway, transaction_count, invoice_count, gross_amount)
  select d.tenant_id, d.day, d.currency, d.gateway, sum(d.n)::integer, 0, sum(d.amount)::bigint
    from (select t.tenant_id, (t.paid_at at time zone 'UTC')::date as day, t.currency, t.gateway,
                 1 as n, t.paid_amount as amount
            from unnest(p_new) t where t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
          union all
          select t.tenant_id, (t.paid_at at time zone 'UTC')::date, t.currency, t.gateway, -1, -t.paid_amount
            from unnest(p_old) t where t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null) d
   group by 1, 2, 3, 4
  having sum(d.n) <> 0 or sum(d.amount) <> 0
   order by 1, 2, 3, 4
  on conflict (tenant_id, day, currency, gateway) do update
    set transaction_count = r.transaction_count + excluded.transaction_count,
        gross_amount = r.gross_amount + excluded.gross_amount;

  -- invoice-days and gaps: the affected invoices' collection days before and after
  with aff as (
    select distinct t.invoice_id from unnest(p_old) t
    union select t.invoice_id from unnest(p_new) t
  ), now_rows as (
    select t.id, t.invoice_id, t.tenant_id, t.currency, t.gateway, (t.paid_at at time zone 'UTC')::date as day
      from paytrust_public.payment_transactions t
     where t.invoice_id in (select invoice_id from aff)
       and t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
  ), before_rows as (
    select n.invoice_id, n.tenant_id, n.currency, n.gateway, n.day from now_rows n
     where n.id not in (select t.id from unnest(p_new) t)
    union all
    select t.invoice_id, t.tenant_id, t.currency, t.gateway, (t.paid_at at time zone 'UTC')::date
      from unnest(p_old) t where t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
  ), sets as (
    select distinct 1 as sign, invoice_id, tenant_id, currency, gateway, day from now_rows
    union all
    select distinct -1, invoice_id, tenant_id, currency, gateway, day from before_rows
  ), days as (
    select s.*, lag(s.day) over (partition by s.sign, s.invoice_id, s.tenant_id, s.currency, s.gateway
                                 order by s.day) as prev_day
      from sets s
  ), day_delta as (
    insert into paytrust_private.report_daily_collected as r
      (tenant_id, day, currency, gateway, invoice_count)
    select d.tenant_id, d.day, d.currency, d.gateway, sum(d.sign)::integer
      from days d group by 1, 2, 3, 4 having sum(d.sign) <> 0 order by 1, 2, 3, 4
    on conflict (tenant_id, day, currency, gateway) do update
      set invoice_count = r.invoice_count + excluded.invoice_count
    returning 1
  )
  insert into paytrust_private.report_collected_gaps as g
    (tenant_id, currency, gateway, prev_day, day, invoice_count)
  select d.tenant_id, d.currency, d.gateway, d.prev_day, d.day, sum(d.sign)::integer
    from days d where d.prev_day is not null
   group by 1, 2, 3, 4, 5 having sum(d.sign) <> 0 order by 1, 4, 5, 2, 3
  on conflict (tenant_id, prev_day, day, currency, gateway) do update
    set invoice_count = g.invoice_count + excluded.invoice_count;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.rollup_installments(
  p_old paytrust_private.report_paid_installments[], p_new paytrust_private.report_paid_installments[]
) returns void as $$
begin
  insert into paytrust_private.report_daily_installments as r
    (tenant_id, day, currency, gateway, installment_count, principal_amount, tax_amount, fee_amount)
  select d.tenant_id, d.day, d.currency, d.gateway, sum(d.n)::integer, sum(d.p)::bigint, sum(d.t)::bigint,
         sum(d.f)::bigint
    from (select p.tenant_id, (p.paid_at at time zone 'UTC')::date as day, p.currency, p.gateway,
                 1 as n, p.principal as p, p.tax_amount as t, p.fee_amount as f
            from unnest(p_new) p
          union all
          select p.tenant_id, (p.paid_at at time zone 'UTC')::date, p.currency, p.gateway,
                 -1, -p.principal, -p.tax_amount, -p.fee_amount
            from unnest(p_old) p) d
   group by 1, 2, 3, 4
  having sum(d.n) <> 0 or sum(d.p) <> 0 or sum(d.t) <> 0 or sum(d.f) <> 0
   order by 1, 2, 3, 4
  on conflict (tenant_id, day, currency, gateway) do update
    set installment_count = r.installment_count + excluded.installment_count,
        principal_amount = r.principal_amount + excluded.principal_amount,
        tax_amount = r.tax_amount + excluded.tax_amount,
        fee_amount = r.fee_amount + excluded.fee_amount;

  -- distinct invoices per day
  with aff as (
    select distinct p.invoice_id from unnest(p_old) p
    union select p.invoice_id from unnest(p_new) p
  ), now_rows as (
    select p.installment_id, p.invoice_id, p.tenant_id, p.currency, p.gateway,
           (p.paid_at at time zone 'UTC')::date as day
      from paytrust_private.report_paid_installments p
     where p.invoice_id in (select invoice_id from aff)
  ), before_rows as (
    select n.invoice_id, n.tenant_id, n.currency, n.gateway, n.day from now_rows n
     where n.installment_id not in (select p.installment_id from unnest(p_new) p)
    union all
    select p.invoice_id, p.tenant_id, p.currency, p.gateway, (p.paid_at at time zone 'UTC')::date
      from unnest(p_old) p
  ), sets as (
    select distinct 1 as sign, invoice_id, tenant_id, currency, gateway, day from now_rows
    union all
    select distinct -1, invoice_id, tenant_id, currency, gateway, day from before_rows
  )
  insert into paytrust_private.report_daily_installments as r
    (tenant_id, day, currency, gateway, invoice_count)
  select s.tenant_id, s.day, s.currency, s.gateway, sum(s.sign)::integer
    from sets s group by 1, 2, 3, 4 having sum(s.sign) <> 0 order by 1, 2, 3, 4
  on conflict (tenant_id, day, currency, gateway) do update
    set invoice_count = r.invoice_count + excluded.invoice_count;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.rollup_refunds(
  p_old paytrust_public.refunds[], p_new paytrust_public.refunds[]
) returns void as $$
  insert into paytrust_private.report_daily_refunds as r
    (tenant_id, day, currency, gateway, refund_count, refunded_amount)
  select d.tenant_id, d.day, d.currency, d.gateway, sum(d.n)::integer, sum(d.amount)::bigint
    from (select x.tenant_id, (x.succeeded_at at time zone 'UTC')::date as day, x.currency, x.gateway,
                 1 as n, x.amount
            from unnest(p_new) x where x.status = 'succeeded' and x.succeeded_at is not null
          union all
          select x.tenant_id, (x.succeeded_at at time zone 'UTC')::date, x.currency, x.gateway, -1, -x.amount
            from unnest(p_old) x where x.status = 'succeeded' and x.succeeded_at is not null) d
   group by 1, 2, 3, 4
  having sum(d.n) <> 0 or sum(d.amount) <> 0
   order by 1, 2, 3, 4
  on conflict (tenant_id, day, currency, gateway) do update
    set refund_count = r.refund_count + excluded.refund_count,
        refunded_amount = r.refunded_amount + excluded.refunded_amount;
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.rollup_taxes(
  p_old paytrust_private.report_paid_invoice_taxes[], p_new paytrust_private.report_paid_invoice_taxes[]
) returns void as $$
  insert into paytrust_private.report_daily_taxes as r
    (tenant_id, day, currency, tax_rate, invoice_count, line_count, taxable_amount, tax_amount)
  select d.tenant_id, d.day, d.currency, d.tax_rate, sum(d.n)::integer, sum(d.l)::integer, sum(d.a)::bigint,
         sum(d.t)::bigint
    from (select x.tenant_id, (x.paid_at at time zone 'UTC')::date as day, x.currency, x.tax_rate,
                 1 as n, x.line_count as l, x.taxable_amount as a, x.tax_amount as t
            from unnest(p_new) x
          union all
          select x.tenant_id, (x.paid_at at time zone 'UTC')::date, x.currency, x.tax_rate,
                 -1, -x.line_count, -x.taxable_amount, -x.tax_amount
            from unnest(p_old) x) d
   group by 1, 2, 3, 4
  having sum(d.n) <> 0 or sum(d.l) <> 0 or sum(d.a) <> 0 or sum(d.t) <> 0
   order by 1, 2, 3, 4
  on conflict (tenant_id, day, currency, tax_rate) do update
    set invoice_count = r.invoice_count + excluded.invoice_count,
        line_count = r.line_count + excluded.line_count,
        taxable_amount = r.taxable_amount + excluded.taxable_amount,
        tax_amount = r.tax_amount + excluded.tax_amount;
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- Trigger functions: one per table; TG_OP says which transition tables exist.
create or replace function paytrust_private.tg_payment_transactions__rollup() returns trigger as $$
begin
  if tg_op = 'INSERT' then
    perform paytrust_private.rollup_collected('{}'::paytrust_public.payment_transactions[], (select array_agg(n::paytrust_public.payment_transactions) from new_rows n
                                                      where n.status in ('paid', 'settled', 'refunded')));
  elsif tg_op = 'DELETE' then
    perform paytrust_private.rollup_collected((select array_agg(o::paytrust_public.payment_transactions) from old_rows o
                                                where o.status in ('paid', 'settled', 'refunded')), '{}'::paytrust_public.payment_transactions[]);
  else
    -- only rows whose contribution can change (status, paid_at, amount, grouping)
    perform paytrust_private.rollup_collected(
      (select array_agg(o::paytrust_public.payment_transactions) from old_rows o join new_rows n on n.id = o.id
        where (o.status, o.paid_at, o.paid_amount, o.currency, o.gateway, o.tenant_id, o.invoice_id)
              is distinct from (n.status, n.paid_at, n.paid_amount, n.currency, n.gateway, n.tenant_id, n.invoice_id)
          and (o.status in ('paid', 'settled', 'refunded') or n.status in ('paid', 'settled', 'refunded'))),
      (select array_agg(n::paytrust_public.payment_transactions) from old_rows o join new_rows n on n.id = o.id
        where (o.status, o.paid_at, o.paid_amount, o.currency, o.gateway, o.tenant_id, o.invoice_id)
              is distinct from (n.status, n.paid_at, n.paid_amount, n.currency, n.gateway, n.tenant_id, n.invoice_id)
          and (o.status in ('paid', 'settled', 'refunded') or n.status in ('paid', 'settled', 'refunded'))));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.tg_report_paid_installments__rollup() returns trigger as $$
begin
  if tg_op = 'INSERT' then
    perform paytrust_private.rollup_installments('{}'::paytrust_private.report_paid_installments[], (select array_agg(n::paytrust_private.report_paid_installments) from new_rows n));
  elsif tg_op = 'DELETE' then
    perform paytrust_private.rollup_installments((select array_agg(o::paytrust_private.report_paid_installments) from old_rows o), '{}'::paytrust_private.report_paid_installments[]);
  else
    perform paytrust_private.rollup_installments((select array_agg(o::paytrust_private.report_paid_installments) from old_rows o),
                                                 (select array_agg(n::paytrust_private.report_paid_installments) from new_rows n));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.tg_refunds__rollup() returns trigger as $$
begin
  if tg_op = 'INSERT' then
    perform paytrust_private.rollup_refunds('{}'::paytrust_public.refunds[], (select array_agg(n::paytrust_public.refunds) from new_rows n where n.status = 'succeeded'));
  elsif tg_op = 'DELETE' then
    perform paytrust_private.rollup_refunds((select array_agg(o::paytrust_public.refunds) from old_rows o where o.status = 'succeeded'), '{}'::paytrust_public.refunds[]);
  else
    perform paytrust_private.rollup_refunds(
      (select array_agg(o::paytrust_public.refunds) from old_rows o where o.status = 'succeeded'),
      (select array_agg(n::paytrust_public.refunds) from new_rows n where n.status = 'succeeded'));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.tg_report_paid_invoice_taxes__rollup() returns trigger as $$
begin
  if tg_op = 'INSERT' then
    perform paytrust_private.rollup_taxes('{}'::paytrust_private.report_paid_invoice_taxes[], (select array_agg(n::paytrust_private.report_paid_invoice_taxes) from new_rows n));
  elsif tg_op = 'DELETE' then
    perform paytrust_private.rollup_taxes((select array_agg(o::paytrust_private.report_paid_invoice_taxes) from old_rows o), '{}'::paytrust_private.report_paid_invoice_taxes[]);
  else
    perform paytrust_private.rollup_taxes((select array_agg(o::paytrust_private.report_paid_invoice_taxes) from old_rows o), (select array_agg(n::paytrust_private.report_paid_invoice_taxes) from new_rows n));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

do $$
declare
  t record;
begin
  for t in select * from (values
      ('paytrust_public.payment_transactions', 'paytrust_private.tg_payment_transactions__rollup'),
      ('paytrust_private.report_paid_installments', 'paytrust_private.tg_report_paid_installments__rollup'),
      ('paytrust_public.refunds', 'paytrust_private.tg_refunds__rollup'),
      ('paytrust_private.report_paid_invoice_taxes', 'paytrust_private.tg_report_paid_invoice_taxes__rollup')
    ) v(tbl, fn)
  loop
    execute format('drop trigger if exists _810_rollup_insert on %s', t.tbl);
    execute format('drop trigger if exists _810_rollup_update on %s', t.tbl);
    execute format('drop trigger if exists _810_rollup_delete on %s', t.tbl);
    execute format('create trigger _810_rollup_insert after insert on %s referencing new table as new_rows '
                   'for each statement execute procedure %s()', t.tbl, t.fn);
    execute format('create trigger _810_rollup_update after update on %s referencing old table as old_rows '
                   'new table as new_rows for each statement execute procedure %s()', t.tbl, t.fn);
    execute format('create trigger _810_rollup_delete after delete on %s referencing old table as old_rows '
                   'for each statement execute procedure %s()', t.tbl, t.fn);
  end loop;
end;
$$;

-- ============================================================================
-- 3. Rebuild (backfill) from the raw rows. The migration runs it once; a bulk
--    load with triggers off (bench/seed.ts) must call it afterwards.
-- ============================================================================

create or replace function paytrust_private.rebuild_report_rollups() returns void as $$
begin
  lock table paytrust_public.payment_transactions, paytrust_public.refunds,
             paytrust_private.report_paid_installments, paytrust_private.report_paid_invoice_taxes
    in share mode;
  delete from paytrust_private.report_daily_collected;
  delete from paytrust_private.report_collected_gaps;
  delete from paytrust_private.report_daily_installments;
  delete from paytrust_private.report_daily_refunds;
  delete from paytrust_private.report_daily_taxes;

  insert into paytrust_private.report_daily_collected
    (tenant_id, day, currency, gateway, transaction_count, invoice_count, gross_amount)
  select t.tenant_id, (t.paid_at at time zone 'UTC')::date, t.currency, t.gateway,
         count(*), count(distinct t.invoice_id), sum(t.paid_amount)
    from paytrust_public.payment_transactions t
   where t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null
   group by 1, 2, 3, 4;

  insert into paytrust_private.report_collected_gaps (tenant_id, currency, gateway, prev_day, day, invoice_count)
  select d.tenant_id, d.currency, d.gateway, d.prev_day, d.day, count(*)
    from (select s.*, lag(s.day) over (partition by s.invoice_id, s.tenant_id, s.currency, s.gateway
                                       order by s.day) as prev_day
            from (select distinct t.invoice_id, t.tenant_id, t.currency, t.gateway,
                         (t.paid_at at time zone 'UTC')::date as day
                    from paytrust_public.payment_transactions t
                   where t.status in ('paid', 'settled', 'refunded') and t.paid_at is not null) s) d
   where d.prev_day is not null
   group by 1, 2, 3, 4, 5;

  insert into paytrust_private.report_daily_installments
    (tenant_id, day, currency, gateway, installment_count, invoice_count, principal_amount, tax_amount, fee_amount)
  select p.tenant_id, (p.paid_at at time zone 'UTC')::date, p.currency, p.gateway,
         count(*), count(distinct p.invoice_id), sum(p.principal), sum(p.tax_amount), sum(p.fee_amount)
    from paytrust_private.report_paid_installments p
   group by 1, 2, 3, 4;

  insert into paytrust_private.report_daily_refunds (tenant_id, day, currency, gateway, refund_count, refunded_amount)
  select r.tenant_id, (r.succeeded_at at time zone 'UTC')::date, r.currency, r.gateway, count(*), sum(r.amount)
    from paytrust_public.refunds r
   where r.status = 'succeeded' and r.succeeded_at is not null
   group by 1, 2, 3, 4;

  insert into paytrust_private.report_daily_taxes
    (tenant_id, day, currency, tax_rate, invoice_count, line_count, taxable_amount, tax_amount)
  select x.tenant_id, (x.paid_at at time zone 'UTC')::date, x.currency, x.tax_rate,
         count(*), sum(x.line_count), sum(x.taxable_amount), sum(x.tax_amount)
    from paytrust_private.report_paid_invoice_taxes x
   group by 1, 2, 3, 4;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.rebuild_report_rollups() is
  E'Recomputes every report rollup from the raw rows (after a bulk load with triggers off).';

select paytrust_private.rebuild_report_rollups();

-- ============================================================================
-- 4. The figures read the rollups (same columns as 000005 / 400-refunds)
-- ============================================================================

create or replace view paytrust_private.report_revenue_by_day as
  select coalesce(c.tenant_id, r.tenant_id) as tenant_id,
         coalesce(c.day, r.day) as day,
         coalesce(c.currency, r.currency) as currency,
         coalesce(c.gateway, r.gateway) as gateway,
         coalesce(c.transaction_count, 0)::integer as transaction_count,
         coalesce(c.invoice_count, 0)::integer as invoice_count,
         coalesce(c.gross_amount, 0)::numeric as gross_amount,
         coalesce(r.refund_count, 0)::integer as refund_count,
         coalesce(r.refunded_amount, 0)::numeric as refunded_amount,
         (coalesce(c.gross_amount, 0) - coalesce(r.refunded_amount, 0))::numeric as net_amount
    from (select * from paytrust_private.report_daily_collected where transaction_count <> 0) c
    full join (select * from paytrust_private.report_daily_refunds where refund_count <> 0) r
      on r.tenant_id = c.tenant_id and r.day = c.day and r.currency = c.currency and r.gateway = c.gateway;

create or replace view paytrust_private.report_service_fees_by_day as
  select p.tenant_id, p.day, p.currency, p.gateway,
         p.installment_count, p.invoice_count,
         p.principal_amount::numeric as principal_amount,
         p.tax_amount::numeric as tax_amount,
         p.fee_amount::numeric as fee_amount
    from paytrust_private.report_daily_installments p
   where p.installment_count <> 0;

create or replace view paytrust_private.report_taxes_by_rate as
  select t.tenant_id, t.day, t.currency, t.tax_rate,
         t.invoice_count, t.line_count,
         t.taxable_amount::numeric as taxable_amount,
         t.tax_amount::numeric as tax_amount
    from paytrust_private.report_daily_taxes t
   where t.invoice_count <> 0;

-- ============================================================================
-- 5. financialReport / financialTaxReport from the rollups; periods up to 20 years
-- ============================================================================

create or replace function paytrust_private.report_tenant("from" date, "to" date, currency text) returns uuid as $$
declare
  tenant_id uuid;
begin
  tenant_id := paytrust_public.current_tenant_id();
  if tenant_id is null then
    raise exception 'This report needs a tenant API key' using errcode = 'PTTEN';
  end if;
  if "from" is null or "to" is null then
    raise exception 'A report needs both from and to dates' using errcode = 'PTVAL';
  end if;
  if "from" > "to" then
    raise exception 'The report period starts (%) after it ends (%)', "from", "to" using errcode = 'PTVAL';
  end if;
  if "to" > ("from" + interval '20 years')::date then
    raise exception 'A report period is at most 20 years (% to %)', "from", "to" using errcode = 'PTVAL';
  end if;
  if currency is not null and not exists (select 1 from paytrust_public.currencies c where c.code = currency) then
    raise exception 'Unknown currency "%": use IDR, MYR or USD', currency using errcode = 'PTCUR';
  end if;
  return tenant_id;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_public.financial_report("from" date, "to" date, currency text default null)
returns setof paytrust_public.financial_report_row as $$
declare
  v_tenant uuid := paytrust_private.report_tenant("from", "to", currency);
begin
  return query
    with collected as (
      select c.currency, c.gateway,
             sum(c.gross_amount)::bigint as gross,
             sum(c.transaction_count)::integer as transaction_count,
             sum(c.invoice_count)::integer as invoice_days
        from paytrust_private.report_daily_collected c
       where c.tenant_id = v_tenant
         and c.day between "from" and "to"
         and (financial_report.currency is null or c.currency = financial_report.currency)
       group by c.currency, c.gateway
      having sum(c.transaction_count) <> 0
    ), gaps as (
      -- pairs of consecutive collection days of one invoice both inside the period
      select g.currency, g.gateway, sum(g.invoice_count)::integer as inside
        from paytrust_private.report_collected_gaps g
       where g.tenant_id = v_tenant
         and g.prev_day between "from" and "to"
         and g.day <= "to"
         and (financial_report.currency is null or g.currency = financial_report.currency)
       group by g.currency, g.gateway
    ), completed as (
      select p.currency, p.gateway,
             sum(p.tax_amount)::bigint as tax,
             sum(p.fee_amount)::bigint as service_fee,
             sum(p.installment_count)::integer as installment_count
        from paytrust_private.report_daily_installments p
       where p.tenant_id = v_tenant
         and p.day between "from" and "to"
         and (financial_report.currency is null or p.currency = financial_report.currency)
       group by p.currency, p.gateway
      having sum(p.installment_count) <> 0
    ), refunded as (
      select r.currency, r.gateway, sum(r.refunded_amount)::bigint as refunds,
             sum(r.refund_count)::integer as refund_count
        from paytrust_private.report_daily_refunds r
       where r.tenant_id = v_tenant
         and r.day between "from" and "to"
         and (financial_report.currency is null or r.currency = financial_report.currency)
       group by r.currency, r.gateway
      having sum(r.refund_count) <> 0
    ), cd as (
      select coalesce(c.currency, d.currency) as currency, coalesce(c.gateway, d.gateway) as gateway,
             coalesce(c.gross, 0) as gross, coalesce(d.tax, 0) as tax, coalesce(d.service_fee, 0) as service_fee,
             coalesce(c.invoice_days - coalesce(g.inside, 0), 0) as invoice_count,
             coalesce(c.transaction_count, 0) as transaction_count,
             coalesce(d.installment_count, 0) as installment_count
        from collected c
        left join gaps g on g.currency = c.currency and g.gateway = c.gateway
        full join completed d on d.currency = c.currency and d.gateway = c.gateway
    )
    select coalesce(x.currency, r.currency), coalesce(x.gateway, r.gateway),
           coalesce(x.gross, 0)::bigint,
           coalesce(x.tax, 0)::bigint,
           coalesce(x.service_fee, 0)::bigint,
           (coalesce(x.gross, 0) - coalesce(x.service_fee, 0))::bigint,
           coalesce(x.invoice_count, 0)::integer,
           coalesce(x.transaction_count, 0)::integer,
           coalesce(x.installment_count, 0)::integer,
           coalesce(r.refunds, 0)::bigint,
           coalesce(r.refund_count, 0)::integer,
           (coalesce(x.gross, 0) - coalesce(x.service_fee, 0) - coalesce(r.refunds, 0))::bigint
      from cd x
      full join refunded r on r.currency = x.currency and r.gateway = x.gateway
     order by 1, 2;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_public.financial_report(date, date, text) is
  E'The tenant''s money for the UTC days from..to (inclusive), one row per currency × gateway (optionally one currency): gross = collected (paid, settled and refunded transactions, overpayments included), tax and serviceFee = the shares of the installments completed in the period, net = gross − serviceFee; refunds = refunds that succeeded in the period, netAfterRefunds = net − refunds; invoiceCount = invoices that received money, with transaction, installment and refund counts. Amounts are BigInt minor units and never add currencies. Read from daily rollups kept in the same transaction as each change. Tenant keys only (PTTEN); from after to, or a period over 20 years, is PTVAL; an unknown currency PTCUR. Tax per rate: financialTaxReport.';

create or replace function paytrust_public.financial_tax_report("from" date, "to" date, currency text default null)
returns setof paytrust_public.financial_tax_report_row as $$
declare
  v_tenant uuid := paytrust_private.report_tenant("from", "to", currency);
begin
  return query
    select t.currency, t.tax_rate,
           sum(t.taxable_amount)::bigint,
           sum(t.tax_amount)::bigint,
           sum(t.invoice_count)::integer,
           sum(t.line_count)::integer
      from paytrust_private.report_daily_taxes t
     where t.tenant_id = v_tenant
       and t.day between "from" and "to"
       and (financial_tax_report.currency is null or t.currency = financial_tax_report.currency)
     group by t.currency, t.tax_rate
    having sum(t.invoice_count) <> 0
     order by t.currency, t.tax_rate;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_public.financial_tax_report(date, date, text) is
  E'Tax per currency × rate on the tenant''s invoices fully paid in the UTC days from..to (inclusive): taxable amount (Σ line amounts) and tax (Σ line taxes), BigInt minor units. Same errors as financialReport.';
