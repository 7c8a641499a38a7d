--! Previous: sha1:3ecd0b0c06f281e89427d0e0612771eddda93138
--! Hash: sha1:617604b6846b9d954172f5e69f1d188e0bcf99d8
--! Message: reporting: analyst views, tenant-scoped access, financial_report, report indexes

-- ============================================================================
-- Financial reporting (docs/reporting.md)
--
-- Layers:
--   paytrust_private.report_paid_*  two small ledgers kept by triggers, so no
--                                   report has to join installments or line
--                                   items back to their invoice (section 2);
--   paytrust_private.report_*       the figures: aggregates for EVERY tenant;
--                                   no grants, never exposed (section 3);
--   paytrust_reporting.*            what analysts, admins and tenants query:
--                                   the same rows, filtered to the tenants the
--                                   caller may see (sections 1 and 4);
--   paytrust_public.financial_*     the tenant's GraphQL reports
--                                   (financialReport, financialTaxReport).
--
-- Money rules that hold everywhere below:
--   * amounts are minor units of `currency`; currency is ALWAYS a grouping
--     column, so no figure ever adds two currencies together;
--   * a "day" is a UTC calendar day: (timestamp at time zone 'UTC')::date;
--   * collected money  = paid_amount of payment_transactions in status paid or
--     settled, on the day of paid_at (overpayments included: it is cash);
--   * service fee, tax = the fee_amount / tax_amount shares of installments
--     that became PAID, on the installment's paid_at day (cash basis: a
--     partly paid installment recognises nothing until it is complete);
--   * tax by rate      = line items of invoices that are fully PAID, on the
--     invoice's paid_at day (installments carry tax as one lump, so per-rate
--     figures only exist per invoice).
-- ============================================================================

-- ============================================================================
-- 1. Who sees what
--
-- The reporting views belong to the migration owner and read the base tables
-- with the owner's rights (analysts have no access to those tables), so the
-- tenant restriction is explicit:
--   * a caller whose role setting is paytrust_tenant sees only the rows of
--     paytrust.tenant_id, always; even inside a SECURITY DEFINER function
--     (where current_user is the definer, but current_setting('role') stays
--     the role PostGraphile switched to);
--   * members of paytrust_analyst or paytrust_admin, and the owner of the
--     reporting schema, see every tenant;
--   * anybody else sees nothing (and has no SELECT grant anyway).
-- These helpers run with the caller's rights (views call functions as the
-- querying user), hence the EXECUTE grants below.
-- ============================================================================

create function paytrust_reporting.viewer_tenant_id() returns uuid as $$
  select nullif(current_setting('paytrust.tenant_id', true), '')::uuid;
$$ language sql stable parallel safe;
comment on function paytrust_reporting.viewer_tenant_id() is
  E'The tenant claim of the current request (paytrust.tenant_id), or null.';

create function paytrust_reporting.sees_all_tenants() returns boolean as $$
  select coalesce(nullif(current_setting('role', true), ''), 'none') <> 'paytrust_tenant'
     and (pg_has_role(current_user, 'paytrust_analyst', 'USAGE')
          or pg_has_role(current_user, 'paytrust_admin', 'USAGE')
          or pg_has_role(current_user,
                         (select n.nspowner from pg_catalog.pg_namespace n where n.nspname = 'paytrust_reporting'),
                         'USAGE'));
$$ language sql stable parallel safe;
comment on function paytrust_reporting.sees_all_tenants() is
  E'True for analysts, admins and the schema owner: they see every tenant''s figures. Never true for paytrust_tenant.';

grant execute on function paytrust_reporting.viewer_tenant_id(), paytrust_reporting.sees_all_tenants()
  to paytrust_tenant, paytrust_admin, paytrust_analyst;

-- ============================================================================
-- 2. Report ledgers (kept by triggers; the seed script fills them directly)
--
-- An installment or line item does not carry its invoice's currency and
-- gateway, and every report groups by them: joining back to 1,000,000
-- invoices costs more than the report itself. These two ledgers copy, at the
-- moment money is recognised, what the reports need, and their covering
-- indexes (section 7) make each report one index-only scan.
-- ============================================================================

-- One row per installment that became paid (service fee and tax recognised).
create table paytrust_private.report_paid_installments (
  installment_id uuid primary key references paytrust_public.installments on delete cascade,
  tenant_id      uuid not null,
  invoice_id     uuid not null,
  currency       text not null,
  gateway        text not null,
  paid_at        timestamptz not null,
  principal      bigint not null,
  tax_amount     bigint not null,
  fee_amount     bigint not null
);
comment on table paytrust_private.report_paid_installments is
  E'Ledger: installments that became paid, with their invoice''s currency and gateway (kept by trigger _800_report on installments).';

create function paytrust_private.tg_installments__report() returns trigger as $$
begin
  if new.status = 'paid' and new.paid_at is not null then
    insert into paytrust_private.report_paid_installments
      (installment_id, tenant_id, invoice_id, currency, gateway, paid_at, principal, tax_amount, fee_amount)
    select new.id, new.tenant_id, new.invoice_id, i.currency, i.gateway, new.paid_at,
           new.principal, new.tax_amount, new.fee_amount
      from paytrust_public.invoices i where i.id = new.invoice_id
    on conflict (installment_id) do update
      set paid_at = excluded.paid_at, principal = excluded.principal,
          tax_amount = excluded.tax_amount, fee_amount = excluded.fee_amount;
  elsif tg_op = 'UPDATE' then
    delete from paytrust_private.report_paid_installments where installment_id = new.id;
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
create trigger _800_report after insert or update of status, paid_at on paytrust_public.installments
  for each row execute procedure paytrust_private.tg_installments__report();

-- One row per fully paid invoice and tax rate (its line items summed).
create table paytrust_private.report_paid_invoice_taxes (
  invoice_id     uuid not null references paytrust_public.invoices on delete cascade,
  tax_rate       numeric(5, 2) not null,
  tenant_id      uuid not null,
  currency       text not null,
  paid_at        timestamptz not null,
  taxable_amount bigint not null,
  tax_amount     bigint not null,
  line_count     integer not null,
  primary key (invoice_id, tax_rate)
);
comment on table paytrust_private.report_paid_invoice_taxes is
  E'Ledger: line items of fully paid invoices summed per tax rate (kept by trigger _800_report on invoices).';

create function paytrust_private.tg_invoices__report() returns trigger as $$
begin
  delete from paytrust_private.report_paid_invoice_taxes where invoice_id = new.id;
  if new.status = 'paid' and new.paid_at is not null then
    insert into paytrust_private.report_paid_invoice_taxes
      (invoice_id, tax_rate, tenant_id, currency, paid_at, taxable_amount, tax_amount, line_count)
    select new.id, l.tax_rate, new.tenant_id, new.currency, new.paid_at,
           sum(l.line_amount), sum(l.tax_amount), count(*)
      from paytrust_public.line_items l where l.invoice_id = new.id
     group by l.tax_rate;
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
create trigger _800_report after update of status, paid_at on paytrust_public.invoices
  for each row when (new.status = 'paid' or old.status = 'paid')
  execute procedure paytrust_private.tg_invoices__report();

-- ============================================================================
-- 3. The figures (private, every tenant)
-- ============================================================================

-- Collected money per UTC day of payment.
create view paytrust_private.report_revenue_by_day as
  select t.tenant_id,
         (t.paid_at at time zone 'UTC')::date as day,
         t.currency,
         t.gateway,
         count(*)::integer as transaction_count,
         count(distinct t.invoice_id)::integer as invoice_count,
         sum(t.paid_amount) as gross_amount
    from paytrust_public.payment_transactions t
   where t.status in ('paid', 'settled')
   group by t.tenant_id, (t.paid_at at time zone 'UTC')::date, t.currency, t.gateway;

-- Components of the installments completed per UTC day.
create view paytrust_private.report_service_fees_by_day as
  select p.tenant_id,
         (p.paid_at at time zone 'UTC')::date as day,
         p.currency,
         p.gateway,
         count(*)::integer as installment_count,
         count(distinct p.invoice_id)::integer as invoice_count,
         sum(p.principal) as principal_amount,
         sum(p.tax_amount) as tax_amount,
         sum(p.fee_amount) as fee_amount
    from paytrust_private.report_paid_installments p
   group by p.tenant_id, (p.paid_at at time zone 'UTC')::date, p.currency, p.gateway;

-- Line items of fully paid invoices, per UTC day of the invoice's payment and tax rate.
create view paytrust_private.report_taxes_by_rate as
  select t.tenant_id,
         (t.paid_at at time zone 'UTC')::date as day,
         t.currency,
         t.tax_rate,
         count(*)::integer as invoice_count, -- one ledger row per invoice and rate
         sum(t.line_count)::integer as line_count,
         sum(t.taxable_amount) as taxable_amount,
         sum(t.tax_amount) as tax_amount
    from paytrust_private.report_paid_invoice_taxes t
   group by t.tenant_id, (t.paid_at at time zone 'UTC')::date, t.currency, t.tax_rate;

-- Unpaid installments of invoices still owed (not paid, not cancelled; expired
-- invoices stay owed: late money is accepted). Overdue = due before today (UTC).
create view paytrust_private.report_outstanding_installments as
  select s.tenant_id,
         i.currency,
         i.gateway,
         count(distinct s.invoice_id)::integer as invoice_count,
         count(*)::integer as outstanding_count,
         sum(s.total - s.paid_amount) as outstanding_amount,
         (count(*) filter (where s.due_date < (now() at time zone 'UTC')::date))::integer as overdue_count,
         coalesce(sum(s.total - s.paid_amount) filter (where s.due_date < (now() at time zone 'UTC')::date), 0)
           as overdue_amount,
         min(s.due_date) as oldest_due_date
    from paytrust_public.installments s
    join paytrust_public.invoices i on i.id = s.invoice_id
   where s.status = 'pending'
     and i.status in ('open', 'pending', 'partially_paid', 'expired')
   group by s.tenant_id, i.currency, i.gateway;

-- One row per invoice that received more than it asked for.
create view paytrust_private.report_overpayments as
  select i.tenant_id,
         i.id as invoice_id,
         i.number as invoice_number,
         i.currency,
         i.gateway,
         i.status,
         i.total,
         i.amount_paid,
         i.overpayment_amount,
         (select max(t.paid_at) from paytrust_public.payment_transactions t
           where t.invoice_id = i.id and t.status in ('paid', 'settled', 'refunded')) as last_paid_at
    from paytrust_public.invoices i
   where i.overpayment_amount > 0;

-- Gateway notifications per UTC day of receipt (tenant_id is null for
-- events naming an unknown transaction: only analysts and admins see those).
create view paytrust_private.report_webhook_health as
  select e.tenant_id,
         (e.received_at at time zone 'UTC')::date as day,
         e.gateway,
         count(*)::integer as received_count,
         (count(*) filter (where e.status = 'processed'))::integer as processed_count,
         (count(*) filter (where e.status = 'ignored'))::integer as ignored_count,
         (count(*) filter (where e.status = 'failed'))::integer as failed_count,
         (count(*) filter (where e.status = 'received'))::integer as pending_count,
         (count(*) filter (where e.attempts > 1))::integer as retried_count
    from paytrust_public.webhook_events e
   group by e.tenant_id, (e.received_at at time zone 'UTC')::date, e.gateway;

comment on view paytrust_private.report_revenue_by_day is E'All tenants; read paytrust_reporting.revenue_by_day.';
comment on view paytrust_private.report_service_fees_by_day is E'All tenants; read paytrust_reporting.service_fees_by_day.';
comment on view paytrust_private.report_taxes_by_rate is E'All tenants; read paytrust_reporting.taxes_by_rate.';
comment on view paytrust_private.report_outstanding_installments is E'All tenants; read paytrust_reporting.outstanding_installments.';
comment on view paytrust_private.report_overpayments is E'All tenants; read paytrust_reporting.overpayments.';
comment on view paytrust_private.report_webhook_health is E'All tenants; read paytrust_reporting.webhook_health.';

-- ============================================================================
-- 4. The reporting views (what callers query)
--
-- Each is two branches of UNION ALL over the private figures, each gated by a
-- one-time filter evaluated once per query (an InitPlan):
--   * the tenant branch: `tenant_id = <claim>`, pushed down to the base tables'
--     tenant indexes;
--   * the see-all branch: every row, for analysts, admins and the owner.
-- Exactly one branch runs. security_barrier keeps the caller's own WHERE
-- clauses from being evaluated before the tenant filter unless they are
-- leakproof (comparisons of dates, uuids, text and numbers are, so day and
-- tenant filters still reach the indexes).
-- ============================================================================

create view paytrust_reporting.revenue_by_day with (security_barrier) as
  select r.* from paytrust_private.report_revenue_by_day r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_revenue_by_day r
   where (select paytrust_reporting.sees_all_tenants());

create view paytrust_reporting.service_fees_by_day with (security_barrier) as
  select r.* from paytrust_private.report_service_fees_by_day r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_service_fees_by_day r
   where (select paytrust_reporting.sees_all_tenants());

create view paytrust_reporting.taxes_by_rate with (security_barrier) as
  select r.* from paytrust_private.report_taxes_by_rate r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_taxes_by_rate r
   where (select paytrust_reporting.sees_all_tenants());

create view paytrust_reporting.outstanding_installments with (security_barrier) as
  select r.* from paytrust_private.report_outstanding_installments r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_outstanding_installments r
   where (select paytrust_reporting.sees_all_tenants());

create view paytrust_reporting.overpayments with (security_barrier) as
  select r.* from paytrust_private.report_overpayments r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_overpayments r
   where (select paytrust_reporting.sees_all_tenants());

create view paytrust_reporting.webhook_health with (security_barrier) as
  select r.* from paytrust_private.report_webhook_health r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_webhook_health r
   where (select paytrust_reporting.sees_all_tenants());

-- Read-only for everyone allowed in: no INSERT/UPDATE/DELETE grants (the
-- overpayments view would otherwise be auto-updatable).
revoke all on all tables in schema paytrust_reporting from public;
grant select on all tables in schema paytrust_reporting to paytrust_tenant, paytrust_admin, paytrust_analyst;

comment on view paytrust_reporting.revenue_by_day is
  E'Collected money: paid_amount of payment transactions in status paid or settled (overpayments included), per tenant, UTC day of payment, currency and gateway. Amounts in minor units of currency; never summed across currencies. Tenants see their own rows; analysts and admins every tenant.';
comment on column paytrust_reporting.revenue_by_day.day is E'UTC calendar day of paid_at.';
comment on column paytrust_reporting.revenue_by_day.transaction_count is E'Paid or settled payment transactions.';
comment on column paytrust_reporting.revenue_by_day.invoice_count is E'Distinct invoices those transactions pay.';
comment on column paytrust_reporting.revenue_by_day.gross_amount is E'Σ paid_amount, minor units of currency.';

comment on view paytrust_reporting.service_fees_by_day is
  E'Service fees earned, cash basis: the fee_amount share of every installment that became paid, per tenant, UTC day of the installment''s paid_at, currency and gateway; with the principal and tax shares of the same installments. A partly paid installment counts once it is complete. Minor units; never summed across currencies.';
comment on column paytrust_reporting.service_fees_by_day.day is E'UTC calendar day the installment became paid.';
comment on column paytrust_reporting.service_fees_by_day.installment_count is E'Installments that became paid.';
comment on column paytrust_reporting.service_fees_by_day.invoice_count is E'Distinct invoices of those installments.';
comment on column paytrust_reporting.service_fees_by_day.principal_amount is E'Σ principal (net of tax and fee), minor units.';
comment on column paytrust_reporting.service_fees_by_day.tax_amount is E'Σ tax share, minor units.';
comment on column paytrust_reporting.service_fees_by_day.fee_amount is E'Σ service fee share, minor units.';

comment on view paytrust_reporting.taxes_by_rate is
  E'Tax by rate on fully paid invoices: their line items per tenant, UTC day the invoice became paid, currency and tax rate. Partly paid invoices appear once fully paid (their collected tax share so far is in service_fees_by_day.tax_amount). Minor units; never summed across currencies.';
comment on column paytrust_reporting.taxes_by_rate.day is E'UTC calendar day the invoice became paid.';
comment on column paytrust_reporting.taxes_by_rate.tax_rate is E'Percentage (11.00 = 11 %).';
comment on column paytrust_reporting.taxes_by_rate.line_count is E'Line items at this rate.';
comment on column paytrust_reporting.taxes_by_rate.taxable_amount is E'Σ line amount (quantity × unit price), minor units.';
comment on column paytrust_reporting.taxes_by_rate.tax_amount is E'Σ line tax, minor units.';

comment on view paytrust_reporting.outstanding_installments is
  E'Money still owed: unpaid installments of invoices that are open, pending, partially paid or expired (cancelled invoices owe nothing), per tenant, currency and gateway. Overdue = due_date before today (UTC). Minor units; never summed across currencies.';
comment on column paytrust_reporting.outstanding_installments.outstanding_count is E'Unpaid installments.';
comment on column paytrust_reporting.outstanding_installments.outstanding_amount is E'Σ (total − paid_amount) of unpaid installments, minor units.';
comment on column paytrust_reporting.outstanding_installments.overdue_count is E'Unpaid installments due before today (UTC).';
comment on column paytrust_reporting.outstanding_installments.overdue_amount is E'Σ (total − paid_amount) of overdue installments, minor units.';
comment on column paytrust_reporting.outstanding_installments.oldest_due_date is E'Earliest due date among the unpaid installments.';

comment on view paytrust_reporting.overpayments is
  E'One row per invoice that received more than it asked for (overpayment_amount > 0): money to refund or credit. Minor units of currency.';
comment on column paytrust_reporting.overpayments.overpayment_amount is E'Received beyond what was due, minor units.';
comment on column paytrust_reporting.overpayments.last_paid_at is E'When the latest payment of the invoice arrived.';

comment on view paytrust_reporting.webhook_health is
  E'Gateway notifications per tenant, UTC day of receipt and gateway, by processing status: processed, ignored (unknown transaction or status), failed (retries exhausted), pending (received, not processed yet); retried = needed more than one attempt. tenant_id is null for events naming no known transaction (analysts and admins only).';
comment on column paytrust_reporting.webhook_health.received_count is E'Distinct events received (duplicates are dropped on arrival).';
comment on column paytrust_reporting.webhook_health.pending_count is E'Still waiting for the worker (status received).';
comment on column paytrust_reporting.webhook_health.retried_count is E'Events that needed more than one processing attempt.';

-- ============================================================================
-- 5. financialReport / financialTaxReport (GraphQL, tenant keys)
-- ============================================================================

create type paytrust_public.financial_report_row as (
  currency          text,
  gateway           text,
  gross             bigint,
  tax               bigint,
  service_fee       bigint,
  net               bigint,
  invoice_count     integer,
  transaction_count integer,
  installment_count integer
);
comment on type paytrust_public.financial_report_row is
  E'One currency × gateway of a financial report. Amounts are BigInt minor units of currency.';
-- @notNull: every column of a report row has a value (GraphQL non-null fields).
comment on column paytrust_public.financial_report_row.currency is E'@notNull\nISO 4217 code; every amount of the row is in its minor units.';
comment on column paytrust_public.financial_report_row.gateway is E'@notNull\nxendit or midtrans.';
comment on column paytrust_public.financial_report_row.gross is
  E'@notNull\nCollected: Σ paid amount of paid/settled payment transactions paid in the period (overpayments included).';
comment on column paytrust_public.financial_report_row.tax is
  E'@notNull\nTax share of the installments completed in the period.';
comment on column paytrust_public.financial_report_row.service_fee is
  E'@notNull\nService fee share of the installments completed in the period.';
comment on column paytrust_public.financial_report_row.net is E'@notNull\ngross − serviceFee.';
comment on column paytrust_public.financial_report_row.invoice_count is
  E'@notNull\nDistinct invoices that received money in the period.';
comment on column paytrust_public.financial_report_row.transaction_count is E'@notNull\nPaid or settled payment transactions.';
comment on column paytrust_public.financial_report_row.installment_count is E'@notNull\nInstallments completed.';

create type paytrust_public.financial_tax_report_row as (
  currency       text,
  tax_rate       numeric(5, 2),
  taxable_amount bigint,
  tax            bigint,
  invoice_count  integer,
  line_count     integer
);
comment on type paytrust_public.financial_tax_report_row is
  E'Tax at one rate in one currency on the invoices fully paid in the period. Amounts are BigInt minor units.';
comment on column paytrust_public.financial_tax_report_row.currency is E'@notNull\nISO 4217 code of the amounts.';
comment on column paytrust_public.financial_tax_report_row.tax_rate is E'@notNull\nPercentage (11.00 = 11 %).';
comment on column paytrust_public.financial_tax_report_row.taxable_amount is E'@notNull\nΣ line amounts (quantity × unit price) at this rate.';
comment on column paytrust_public.financial_tax_report_row.tax is E'@notNull\nΣ line taxes at this rate.';
comment on column paytrust_public.financial_tax_report_row.invoice_count is E'@notNull\nPaid invoices with lines at this rate.';
comment on column paytrust_public.financial_tax_report_row.line_count is E'@notNull\nLine items at this rate.';

-- Validates a report request and returns the calling tenant.
create function paytrust_private.report_tenant("from" date, "to" date, currency text) returns uuid as $$
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
  if "to" > ("from" + interval '5 years')::date then
    raise exception 'A report period is at most 5 years (% to %)', "from", "to" using errcode = 'PTVAL';
  end if;
  if currency is not null and not exists (select 1 from paytrust_public.currencies c where c.code = currency) then
    raise exception 'Unknown currency "%": use IDR, MYR or USD', currency using errcode = 'PTCUR';
  end if;
  return tenant_id;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;

-- SECURITY DEFINER (the ledger is private), so every query below filters
-- tenant_id = the caller's claim explicitly; (tenant_id, UTC day) is also
-- exactly what the indexes serve.
create function paytrust_public.financial_report("from" date, "to" date, currency text default null)
returns setof paytrust_public.financial_report_row as $$
declare
  v_tenant uuid := paytrust_private.report_tenant("from", "to", currency);
begin
  return query
    with collected as (
      select t.currency, t.gateway,
             sum(t.paid_amount)::bigint as gross,
             count(*)::integer as transaction_count,
             count(distinct t.invoice_id)::integer as invoice_count
        from paytrust_public.payment_transactions t
       where t.tenant_id = v_tenant
         and t.status in ('paid', 'settled')
         and (t.paid_at at time zone 'UTC')::date between "from" and "to"
         and (financial_report.currency is null or t.currency = financial_report.currency)
       group by t.currency, t.gateway
    ), completed as (
      select p.currency, p.gateway,
             sum(p.tax_amount)::bigint as tax,
             sum(p.fee_amount)::bigint as service_fee,
             count(*)::integer as installment_count
        from paytrust_private.report_paid_installments p
       where p.tenant_id = v_tenant
         and (p.paid_at at time zone 'UTC')::date between "from" and "to"
         and (financial_report.currency is null or p.currency = financial_report.currency)
       group by p.currency, p.gateway
    )
    -- An installment becomes paid only by a transaction paid in the same
    -- statement, so every `completed` group also has a `collected` group; the
    -- full join only guards the figures against future ways of paying.
    select coalesce(c.currency, d.currency), coalesce(c.gateway, d.gateway),
           coalesce(c.gross, 0),
           coalesce(d.tax, 0),
           coalesce(d.service_fee, 0),
           coalesce(c.gross, 0) - coalesce(d.service_fee, 0),
           coalesce(c.invoice_count, 0),
           coalesce(c.transaction_count, 0),
           coalesce(d.installment_count, 0)
      from collected c
      full join completed d on d.currency = c.currency and d.gateway = c.gateway
     order by 1, 2;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp
  -- count(distinct invoice_id) sorts a year of a large tenant's payments in memory
  set work_mem to '64MB';
grant execute on function paytrust_public.financial_report(date, date, text) to paytrust_tenant, paytrust_admin;
comment on function paytrust_public.financial_report(date, date, text) is
  E'The tenant''s money for the UTC days from..to (inclusive), one row per currency × gateway (optionally one currency): gross = collected (paid and settled transactions, overpayments included), tax and serviceFee = the shares of the installments completed in the period, net = gross − serviceFee; invoiceCount = invoices that received money, with transaction and installment counts. Amounts are BigInt minor units and never add currencies. Tenant keys only (PTTEN); from after to, or a period over 5 years, is PTVAL; an unknown currency PTCUR. Tax per rate: financialTaxReport.';

create function paytrust_public.financial_tax_report("from" date, "to" date, currency text default null)
returns setof paytrust_public.financial_tax_report_row as $$
declare
  v_tenant uuid := paytrust_private.report_tenant("from", "to", currency);
begin
  return query
    select t.currency, t.tax_rate,
           sum(t.taxable_amount)::bigint,
           sum(t.tax_amount)::bigint,
           count(*)::integer, -- one ledger row per invoice and rate
           sum(t.line_count)::integer
      from paytrust_private.report_paid_invoice_taxes t
     where t.tenant_id = v_tenant
       and (t.paid_at at time zone 'UTC')::date between "from" and "to"
       and (financial_tax_report.currency is null or t.currency = financial_tax_report.currency)
     group by t.currency, t.tax_rate
     order by t.currency, t.tax_rate;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.financial_tax_report(date, date, text) to paytrust_tenant, paytrust_admin;
comment on function paytrust_public.financial_tax_report(date, date, text) is
  E'Tax per currency × rate on the tenant''s invoices fully paid in the UTC days from..to (inclusive): taxable amount (Σ line amounts) and tax (Σ line taxes), BigInt minor units. Same errors as financialReport.';

-- ============================================================================
-- 6. Indexes for the reports (measured on 1,000,000 invoices: docs/reporting.md)
--
-- Covering (and partial where the report filters a status), so each report is
-- an index-only scan of exactly the rows it sums. (tenant_id, UTC day) serves
-- financialReport and a tenant's own view rows; (UTC day) serves analysts
-- filtering a range of days across tenants. The timestamp itself is included:
-- an index-only scan must be able to recompute the day expression.
-- ============================================================================

create index payment_transactions_collected_idx on paytrust_public.payment_transactions
  (tenant_id, ((paid_at at time zone 'UTC')::date)) include (paid_at, currency, gateway, paid_amount, invoice_id)
  where status in ('paid', 'settled');
create index payment_transactions_collected_day_idx on paytrust_public.payment_transactions
  (((paid_at at time zone 'UTC')::date)) include (paid_at, tenant_id, currency, gateway, paid_amount, invoice_id)
  where status in ('paid', 'settled');

create index report_paid_installments_tenant_idx on paytrust_private.report_paid_installments
  (tenant_id, ((paid_at at time zone 'UTC')::date))
  include (paid_at, currency, gateway, invoice_id, principal, tax_amount, fee_amount);
create index report_paid_installments_day_idx on paytrust_private.report_paid_installments
  (((paid_at at time zone 'UTC')::date))
  include (paid_at, tenant_id, currency, gateway, invoice_id, principal, tax_amount, fee_amount);

create index report_paid_invoice_taxes_tenant_idx on paytrust_private.report_paid_invoice_taxes
  (tenant_id, ((paid_at at time zone 'UTC')::date))
  include (paid_at, currency, tax_rate, taxable_amount, tax_amount, line_count);
create index report_paid_invoice_taxes_day_idx on paytrust_private.report_paid_invoice_taxes
  (((paid_at at time zone 'UTC')::date))
  include (paid_at, tenant_id, currency, tax_rate, taxable_amount, tax_amount, line_count);

-- outstanding_installments joins pending installments to the invoices still owed
create index installments_pending_invoice_idx on paytrust_public.installments (invoice_id)
  include (tenant_id, due_date, total, paid_amount)
  where status = 'pending';
create index invoices_owed_idx on paytrust_public.invoices (id) include (tenant_id, currency, gateway)
  where status in ('open', 'pending', 'partially_paid', 'expired');

-- overpayments
create index invoices_overpaid_idx on paytrust_public.invoices (tenant_id)
  where overpayment_amount > 0;

-- webhook_health across tenants, filtered by day
create index webhook_events_received_day_idx on paytrust_public.webhook_events
  (((received_at at time zone 'UTC')::date), gateway) include (received_at, tenant_id, status, attempts);

-- ============================================================================
-- 7. Analysts write nothing: no grants outside paytrust_reporting SELECT, and
--    no large objects. Any role may create large objects by default (and then
--    write them), even in a read-only transaction; PayTrust uses none, so
--    creating them is taken away from PUBLIC. Function privileges of the
--    catalog need a superuser: an owner that is not one is told to ask a DBA.
-- ============================================================================

do $$
begin
  if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    revoke execute on function pg_catalog.lo_create(oid), pg_catalog.lo_creat(integer),
      pg_catalog.lo_from_bytea(oid, bytea), pg_catalog.lo_import(text), pg_catalog.lo_import(text, oid)
      from public;
  else
    raise notice 'Not a superuser: run "revoke execute on function lo_create(oid), lo_creat(integer), lo_from_bytea(oid, bytea) from public" as one so analysts cannot create large objects';
  end if;
end;
$$;
