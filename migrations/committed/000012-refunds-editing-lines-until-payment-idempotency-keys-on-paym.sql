--! Previous: sha1:fa5399c965daaaeeed75f815f69140ca35eceb9f
--! Hash: sha1:9d4a36c0a115ea08e86e50dcca29923d998b848d
--! Message: Refunds, editing lines until payment, idempotency keys on payments

--! split: 400-refunds.sql
-- Issue 15, items 2 (refunds), 4 (editing until payment starts), 5 (idempotency keys).
--   1. refunds: table, refundPayment, what the gateway__refund task reads and writes
--   2. a fully refunded invoice: status 'refunded'
--   3. reports: refunds and net figures (replaces 000005's revenue view and financial_report)
--   4. replaceInvoiceLineItems; updateInvoice refuses cancelled invoices, a new dueDate moves the plan
--   5. idempotency keys on initiatePayment and createSupplementaryInvoice

-- ============================================================================
-- 1. Refunds
-- ============================================================================

alter table paytrust_public.invoices
  add column if not exists amount_refunded bigint not null default 0 check (amount_refunded >= 0);
comment on column paytrust_public.invoices.amount_refunded is
  E'Σ succeeded refunds of the invoice''s payments, minor units (amountPaid stays what was collected).';
alter table paytrust_public.payment_transactions
  add column if not exists amount_refunded bigint not null default 0 check (amount_refunded >= 0);
comment on column paytrust_public.payment_transactions.amount_refunded is
  E'Σ succeeded refunds of this payment, minor units (never above paidAmount).';
-- Explicit column grants (harmless while the tables are granted whole).
grant select (amount_refunded) on paytrust_public.invoices to paytrust_tenant;
grant select (amount_refunded) on paytrust_public.payment_transactions to paytrust_tenant;

-- Lets refunds reference (transaction, tenant): a refund can never point at another tenant's payment.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint
                  where conname = 'payment_transactions_id_tenant_unique'
                    and conrelid = 'paytrust_public.payment_transactions'::regclass) then
    alter table paytrust_public.payment_transactions
      add constraint payment_transactions_id_tenant_unique unique (id, tenant_id);
  end if;
end;
$$;
comment on constraint payment_transactions_id_tenant_unique on paytrust_public.payment_transactions is E'@behavior -*';

create table if not exists paytrust_public.refunds (
  id                     uuid primary key default gen_random_uuid(),
  tenant_id              uuid not null references paytrust_public.tenants on delete cascade,
  invoice_id             uuid not null references paytrust_public.invoices on delete restrict,
  payment_transaction_id uuid not null references paytrust_public.payment_transactions on delete restrict,
  gateway                text not null check (gateway in ('xendit', 'midtrans')),
  currency               text not null references paytrust_public.currencies,
  amount                 bigint not null check (amount between 1 and paytrust_public.max_amount()),
  reason                 text not null check (length(reason) between 1 and 500),
  status                 text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  -- Xendit reference_id + Idempotency-key, Midtrans refund_key: one per refund, so a
  -- retried gateway call can never refund twice.
  external_id            text not null unique,
  gateway_reference      text,
  gateway_status         text,
  failure_reason         text check (length(failure_reason) <= 1000),
  idempotency_key        text check (length(idempotency_key) between 1 and 255),
  idempotency_hash       text,
  succeeded_at           timestamptz,
  failed_at              timestamptz,
  created_at             timestamptz not null default now(),
  updated_at             timestamptz not null default now(),
  constraint refunds_idempotency_key_unique unique (tenant_id, idempotency_key),
  constraint refunds_same_tenant_invoice foreign key (invoice_id, tenant_id)
    references paytrust_public.invoices (id, tenant_id),
  constraint refunds_same_tenant_transaction foreign key (payment_transaction_id, tenant_id)
    references paytrust_public.payment_transactions (id, tenant_id)
);
create index if not exists refunds_transaction_idx on paytrust_public.refunds (payment_transaction_id);
create index if not exists refunds_invoice_idx on paytrust_public.refunds (invoice_id);
create index if not exists refunds_tenant_created_idx on paytrust_public.refunds (tenant_id, created_at desc);
create index if not exists refunds_pending_idx on paytrust_public.refunds (created_at) where status = 'pending';
-- reports: succeeded refunds per (tenant, UTC day) and per UTC day
create index if not exists refunds_succeeded_idx on paytrust_public.refunds
  (tenant_id, ((succeeded_at at time zone 'UTC')::date)) include (succeeded_at, currency, gateway, amount)
  where status = 'succeeded';
create index if not exists refunds_succeeded_day_idx on paytrust_public.refunds
  (((succeeded_at at time zone 'UTC')::date)) include (succeeded_at, tenant_id, currency, gateway, amount)
  where status = 'succeeded';
alter table paytrust_public.refunds enable row level security;
drop policy if exists select_own on paytrust_public.refunds;
create policy select_own on paytrust_public.refunds for select
  using (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists insert_own on paytrust_public.refunds;
create policy insert_own on paytrust_public.refunds for insert
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists update_own on paytrust_public.refunds;
create policy update_own on paytrust_public.refunds for update
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists delete_own on paytrust_public.refunds;
create policy delete_own on paytrust_public.refunds for delete
  using (tenant_id = (select paytrust_public.current_tenant_id()));
-- Tenants write refunds only through refund_payment; they read every column but the request hash.
revoke all on paytrust_public.refunds from paytrust_tenant;
grant select (id, tenant_id, invoice_id, payment_transaction_id, gateway, currency, amount, reason, status,
              external_id, gateway_reference, gateway_status, failure_reason, idempotency_key,
              succeeded_at, failed_at, created_at, updated_at)
  on paytrust_public.refunds to paytrust_tenant;
comment on table paytrust_public.refunds is
  E'@behavior -insert -update -delete\nMoney given back from a payment, in its currency: pending until the gateway confirms it, then succeeded or failed.';
comment on column paytrust_public.refunds.amount is E'Minor units of currency.';
comment on column paytrust_public.refunds.status is E'pending (sent or being sent to the gateway), succeeded, failed (nothing was refunded).';
comment on column paytrust_public.refunds.external_id is E'The refund''s key at the gateway (Xendit reference_id and Idempotency-key, Midtrans refund_key).';
comment on column paytrust_public.refunds.idempotency_hash is E'@behavior -*';
comment on column paytrust_public.refunds.tenant_id is E'@behavior -update';
comment on constraint refunds_invoice_id_fkey on paytrust_public.refunds is E'@foreignFieldName refunds';
comment on constraint refunds_payment_transaction_id_fkey on paytrust_public.refunds is E'@foreignFieldName refunds';
comment on constraint refunds_same_tenant_invoice on paytrust_public.refunds is E'@behavior -*';
comment on constraint refunds_same_tenant_transaction on paytrust_public.refunds is E'@behavior -*';
comment on constraint refunds_idempotency_key_unique on paytrust_public.refunds is E'@behavior -*';
drop trigger if exists _100_timestamps on paytrust_public.refunds;
create trigger _100_timestamps before insert or update on paytrust_public.refunds
  for each row execute procedure paytrust_private.tg__timestamps();

-- What a payment can still give back: paid − (pending + succeeded refunds).
create or replace function paytrust_public.payment_transactions_refundable_amount(
  payment_transaction paytrust_public.payment_transactions
) returns bigint as $$
  select greatest(payment_transaction.paid_amount - coalesce((
    select sum(r.amount) from paytrust_public.refunds r
     where r.payment_transaction_id = payment_transaction.id and r.status in ('pending', 'succeeded')), 0), 0)::bigint;
$$ language sql stable;
grant execute on function paytrust_public.payment_transactions_refundable_amount(paytrust_public.payment_transactions)
  to paytrust_tenant;
comment on function paytrust_public.payment_transactions_refundable_amount(paytrust_public.payment_transactions) is
  E'What refundPayment may still take from this payment: paidAmount − Σ pending and succeeded refunds, minor units.';

-- Emits an outbound event when the outbox (300-merchant-webhooks) is installed.
create or replace function paytrust_private.emit_refund_event(p_refund paytrust_public.refunds, p_type text)
returns void as $$
begin
  if to_regprocedure('paytrust_private.emit_event(uuid, text, jsonb)') is null then
    return;
  end if;
  execute 'select paytrust_private.emit_event($1, $2, $3)' using p_refund.tenant_id, p_type,
    jsonb_build_object(
      'object', 'refund', 'id', p_refund.id, 'invoiceId', p_refund.invoice_id,
      'paymentTransactionId', p_refund.payment_transaction_id, 'status', p_refund.status,
      'gateway', p_refund.gateway, 'currency', p_refund.currency, 'amount', p_refund.amount::text,
      'reason', p_refund.reason, 'gatewayReference', p_refund.gateway_reference,
      'failureReason', p_refund.failure_reason, 'succeededAt', p_refund.succeeded_at,
      'failedAt', p_refund.failed_at, 'createdAt', p_refund.created_at);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_public.refund_payment(
  payment_transaction_id uuid,
  amount bigint,
  reason text,
  idempotency_key text default null
) returns paytrust_public.refunds as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_hash text;
  v_existing paytrust_public.refunds;
  v_tx paytrust_public.payment_transactions;
  v_refund paytrust_public.refunds;
  v_refundable bigint;
  v_id uuid := gen_random_uuid();
begin
  if idempotency_key is not null then
    if length(idempotency_key) not between 1 and 255 then
      raise exception 'idempotencyKey must be 1 to 255 characters' using errcode = 'PTVAL';
    end if;
    v_hash := md5(jsonb_build_array('refund', payment_transaction_id, amount, reason)::text);
    perform pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':refund:' || idempotency_key, 0));
    select * into v_existing from paytrust_public.refunds r
     where r.tenant_id = v_tenant and r.idempotency_key = refund_payment.idempotency_key;
    if found then
      if v_existing.idempotency_hash = v_hash then
        return v_existing;
      end if;
      raise exception 'idempotencyKey "%" was already used with different input', idempotency_key
        using errcode = 'PTIDM';
    end if;
  end if;
  if amount is null or amount < 1 then
    raise exception 'A refund amount is at least 1 minor unit' using errcode = 'PTVAL';
  end if;
  if reason is null or length(trim(reason)) = 0 or length(reason) > 500 then
    raise exception 'reason must be 1 to 500 characters' using errcode = 'PTVAL';
  end if;

  select * into v_tx from paytrust_public.payment_transactions t
   where t.id = refund_payment.payment_transaction_id and t.tenant_id = v_tenant;
  if not found then
    raise exception 'Payment transaction % not found', payment_transaction_id using errcode = 'PTNFD';
  end if;
  -- Lock order everywhere: invoice, then transaction. The transaction's row
  -- lock serialises every refund of this payment: the sum below is exact.
  perform 1 from paytrust_public.invoices i where i.id = v_tx.invoice_id for update;
  select * into v_tx from paytrust_public.payment_transactions t where t.id = v_tx.id for update;
  if v_tx.status not in ('paid', 'settled', 'refunded') or v_tx.paid_amount <= 0 then
    raise exception 'Payment transaction % is %: only paid payments can be refunded', v_tx.id, v_tx.status
      using errcode = 'PTRFN';
  end if;
  v_refundable := paytrust_public.payment_transactions_refundable_amount(v_tx);
  if amount > v_refundable then
    raise exception 'Refund of % exceeds what payment % can still refund (% of % paid)',
      amount, v_tx.id, v_refundable, v_tx.paid_amount using errcode = 'PTRFA';
  end if;

  insert into paytrust_public.refunds (
    id, tenant_id, invoice_id, payment_transaction_id, gateway, currency, amount, reason, external_id,
    idempotency_key, idempotency_hash
  ) values (
    v_id, v_tenant, v_tx.invoice_id, v_tx.id, v_tx.gateway, v_tx.currency, amount, trim(reason),
    'rf-' || replace(v_id::text, '-', ''), idempotency_key, v_hash
  ) returning * into v_refund;

  perform graphile_worker.add_job(
    'gateway__refund',
    json_build_object('refundId', v_refund.id),
    job_key => 'gateway__refund:' || v_refund.id,
    max_attempts => 10
  );
  perform paytrust_private.audit('refund.create', v_refund.id::text,
    jsonb_build_object('payment_transaction_id', v_tx.id, 'amount', v_refund.amount::text));
  return v_refund;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.refund_payment(uuid, bigint, text, text) to paytrust_tenant;
comment on function paytrust_public.refund_payment(uuid, bigint, text, text) is
  E'@resultFieldName refund\nGives back `amount` (BigInt minor units of the payment''s currency) of a paid payment, in full or in part; several refunds per payment are fine while Σ pending and succeeded refunds stays ≤ its paid amount (PTRFA; enforced under a row lock, so concurrent refunds cannot exceed it). Only paid payments refund (PTRFN). Returns at once with status pending; the worker asks the gateway and the refund becomes succeeded or failed. Replaying an idempotencyKey with the same input returns the same refund; other input PTIDM.';

-- What the gateway__refund task sends.
create or replace function paytrust_private.gateway_refund_request(p_refund_id uuid) returns jsonb as $$
  select jsonb_build_object(
    'refundId', r.id,
    'status', r.status,
    'gateway', r.gateway,
    'externalId', r.external_id,
    'gatewayReference', r.gateway_reference,
    'paymentExternalId', t.external_id,
    'paymentGatewayReference', t.gateway_reference,
    'currency', r.currency,
    'exponent', c.exponent,
    'amountMinor', r.amount::text,
    'reason', r.reason)
    from paytrust_public.refunds r
    join paytrust_public.payment_transactions t on t.id = r.payment_transaction_id
    join paytrust_public.currencies c on c.code = r.currency
   where r.id = p_refund_id;
$$ language sql stable;

-- Applies what the gateway said about a refund. Locks invoice → transaction →
-- refund; money moves once, on the first transition into succeeded.
create or replace function paytrust_private.record_refund_result(
  p_refund_id uuid, p_status text, p_gateway_reference text, p_gateway_status text, p_reason text default null
) returns text as $$
declare
  v_refund paytrust_public.refunds;
  v_tx paytrust_public.payment_transactions;
  v_invoice paytrust_public.invoices;
begin
  if p_status not in ('pending', 'succeeded', 'failed') then
    raise exception 'Unknown refund status %', p_status using errcode = 'PTVAL';
  end if;
  select * into v_refund from paytrust_public.refunds where id = p_refund_id;
  if not found then
    return 'missing';
  end if;
  select * into v_invoice from paytrust_public.invoices where id = v_refund.invoice_id for update;
  select * into v_tx from paytrust_public.payment_transactions where id = v_refund.payment_transaction_id for update;
  select * into v_refund from paytrust_public.refunds where id = p_refund_id for update;
  if v_refund.status <> 'pending' then
    return 'stale: already ' || v_refund.status;
  end if;

  if p_status = 'pending' then
    update paytrust_public.refunds
       set gateway_reference = coalesce(p_gateway_reference, gateway_reference),
           gateway_status = coalesce(p_gateway_status, gateway_status)
     where id = v_refund.id;
    return 'pending';
  end if;

  if p_status = 'failed' then
    update paytrust_public.refunds
       set status = 'failed', failed_at = now(), failure_reason = left(coalesce(p_reason, 'refused by the gateway'), 1000),
           gateway_reference = coalesce(p_gateway_reference, gateway_reference),
           gateway_status = coalesce(p_gateway_status, gateway_status)
     where id = v_refund.id returning * into v_refund;
    perform paytrust_private.audit('refund.failed', v_refund.id::text,
      jsonb_build_object('tenant_id', v_refund.tenant_id, 'reason', left(v_refund.failure_reason, 200)));
    perform paytrust_private.emit_refund_event(v_refund, 'refund.failed');
    return 'failed';
  end if;

  update paytrust_public.refunds
     set status = 'succeeded', succeeded_at = now(),
         gateway_reference = coalesce(p_gateway_reference, gateway_reference),
         gateway_status = coalesce(p_gateway_status, gateway_status)
   where id = v_refund.id returning * into v_refund;
  -- A payment fully given back is 'refunded' (the highest status rank: no later webhook moves it back).
  update paytrust_public.payment_transactions t
     set amount_refunded = t.amount_refunded + v_refund.amount,
         status = case when t.amount_refunded + v_refund.amount >= t.paid_amount and t.status in ('paid', 'settled')
                       then 'refunded' else t.status end
   where t.id = v_tx.id;
  -- A paid invoice whose collected money all went back says so.
  update paytrust_public.invoices i
     set amount_refunded = i.amount_refunded + v_refund.amount,
         status = case when i.status = 'paid' and i.amount_refunded + v_refund.amount >= i.amount_paid
                       then 'refunded' else i.status end
   where i.id = v_invoice.id;
  perform paytrust_private.audit('refund.succeeded', v_refund.id::text,
    jsonb_build_object('tenant_id', v_refund.tenant_id, 'amount', v_refund.amount::text));
  perform paytrust_private.emit_refund_event(v_refund, 'refund.succeeded');
  return 'succeeded';
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- A Midtrans notification about a refund (transaction_status refund /
-- partial_refund) is only a hint: every pending refund of that payment is
-- checked again through the gateway's API by gateway__refund, never applied
-- from the notification itself.
create or replace function paytrust_private.tg_webhook_events__refund_hint() returns trigger as $$
declare
  v_refund record;
begin
  for v_refund in
    select r.id from paytrust_public.refunds r
     where r.payment_transaction_id = new.transaction_id and r.status = 'pending'
  loop
    perform graphile_worker.add_job('gateway__refund', json_build_object('refundId', v_refund.id),
      job_key => 'gateway__refund:' || v_refund.id, job_key_mode => 'replace', max_attempts => 10);
  end loop;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _800_refund_hint on paytrust_public.webhook_events;
create trigger _800_refund_hint after insert on paytrust_public.webhook_events
  for each row
  when (new.transaction_id is not null and new.gateway = 'midtrans'
        and new.payload ->> 'transaction_status' in ('refund', 'partial_refund'))
  execute procedure paytrust_private.tg_webhook_events__refund_hint();

-- ============================================================================
-- 2. A fully refunded invoice: status 'refunded' (from paid only; final)
-- ============================================================================

do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
              where conname = 'invoices_status_check' and conrelid = 'paytrust_public.invoices'::regclass
                and pg_get_constraintdef(oid) not like '%refunded%') then
    alter table paytrust_public.invoices drop constraint invoices_status_check;
  end if;
  if not exists (select 1 from pg_catalog.pg_constraint
                  where conname = 'invoices_status_check' and conrelid = 'paytrust_public.invoices'::regclass) then
    alter table paytrust_public.invoices add constraint invoices_status_check
      check (status in ('open', 'pending', 'partially_paid', 'paid', 'expired', 'cancelled', 'refunded'));
  end if;
end;
$$;

-- 000002's lifecycle plus paid → refunded (docs/money.md).
create or replace function paytrust_private.invoice_transition_allowed(p_from text, p_to text) returns boolean as $$
  select p_from = p_to or (p_from, p_to) in (
    ('open', 'pending'), ('open', 'cancelled'), ('open', 'expired'), ('open', 'partially_paid'), ('open', 'paid'),
    ('pending', 'partially_paid'), ('pending', 'paid'), ('pending', 'expired'),
    ('partially_paid', 'paid'),
    ('expired', 'partially_paid'), ('expired', 'paid'), ('expired', 'pending'),
    ('paid', 'refunded')
  );
$$ language sql immutable;

-- Tax by rate stays recognised when a paid invoice is refunded (refunds are
-- reported separately: docs/money.md "Refunds").
create or replace function paytrust_private.tg_invoices__report() returns trigger as $$
begin
  delete from paytrust_private.report_paid_invoice_taxes where invoice_id = new.id;
  if new.status in ('paid', 'refunded') and new.paid_at is not null then
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

-- ============================================================================
-- 3. Reports: refunds and net figures
--    collected = paid_amount of transactions paid, settled or refunded (a
--    refund does not undo the collection: it is its own line), on the paid_at
--    day; refunds = Σ succeeded refunds on their succeeded_at UTC day.
-- ============================================================================

-- Same columns as 000005 (names, types, order), three more at the end. UNION
-- ALL + GROUP BY (not a full join) so a tenant filter still reaches the indexes.
create or replace view paytrust_private.report_revenue_by_day as
  select x.tenant_id, x.day, x.currency, x.gateway,
         sum(x.transaction_count)::integer as transaction_count,
         sum(x.invoice_count)::integer as invoice_count,
         sum(x.gross_amount) as gross_amount,
         sum(x.refund_count)::integer as refund_count,
         sum(x.refunded_amount) as refunded_amount,
         sum(x.gross_amount) - sum(x.refunded_amount) as net_amount
    from (
      select t.tenant_id, (t.paid_at at time zone 'UTC')::date as day, t.currency, t.gateway,
             count(*)::integer as transaction_count, count(distinct t.invoice_id)::integer as invoice_count,
             sum(t.paid_amount) as gross_amount, 0 as refund_count, 0::numeric as refunded_amount
        from paytrust_public.payment_transactions t
       where t.status in ('paid', 'settled', 'refunded')
       group by t.tenant_id, (t.paid_at at time zone 'UTC')::date, t.currency, t.gateway
      union all
      select r.tenant_id, (r.succeeded_at at time zone 'UTC')::date, r.currency, r.gateway,
             0, 0, 0::numeric, count(*)::integer, sum(r.amount)
        from paytrust_public.refunds r
       where r.status = 'succeeded'
       group by r.tenant_id, (r.succeeded_at at time zone 'UTC')::date, r.currency, r.gateway
    ) x
   group by x.tenant_id, x.day, x.currency, x.gateway;
comment on view paytrust_private.report_revenue_by_day is E'All tenants; read paytrust_reporting.revenue_by_day.';

create or replace view paytrust_reporting.revenue_by_day with (security_barrier) as
  select r.* from paytrust_private.report_revenue_by_day r
   where not (select paytrust_reporting.sees_all_tenants())
     and r.tenant_id = (select paytrust_reporting.viewer_tenant_id())
  union all
  select r.* from paytrust_private.report_revenue_by_day r
   where (select paytrust_reporting.sees_all_tenants());
revoke all on paytrust_reporting.revenue_by_day from public;
grant select on paytrust_reporting.revenue_by_day to paytrust_tenant, paytrust_admin, paytrust_analyst;
comment on view paytrust_reporting.revenue_by_day is
  E'Collected and refunded money per tenant, UTC day, currency and gateway: gross = paid_amount of payment transactions paid, settled or refunded (overpayments included) on their day of payment; refunds = succeeded refunds on the day they succeeded; net = gross − refunded. Amounts in minor units of currency; never summed across currencies. Tenants see their own rows; analysts and admins every tenant.';
comment on column paytrust_reporting.revenue_by_day.day is E'UTC calendar day of paid_at (collections) and of succeeded_at (refunds).';
comment on column paytrust_reporting.revenue_by_day.transaction_count is E'Paid, settled or refunded payment transactions paid that day.';
comment on column paytrust_reporting.revenue_by_day.invoice_count is E'Distinct invoices those transactions pay.';
comment on column paytrust_reporting.revenue_by_day.gross_amount is E'Σ paid_amount, minor units of currency.';
comment on column paytrust_reporting.revenue_by_day.refund_count is E'Refunds that succeeded that day.';
comment on column paytrust_reporting.revenue_by_day.refunded_amount is E'Σ amount of those refunds, minor units.';
comment on column paytrust_reporting.revenue_by_day.net_amount is E'gross_amount − refunded_amount, minor units (may be negative on a day with refunds and few payments).';

do $$
begin
  if not exists (select 1 from pg_catalog.pg_attribute
                  where attrelid = 'paytrust_public.financial_report_row'::regclass and attname = 'refunds'
                    and not attisdropped) then
    alter type paytrust_public.financial_report_row add attribute refunds bigint;
  end if;
  if not exists (select 1 from pg_catalog.pg_attribute
                  where attrelid = 'paytrust_public.financial_report_row'::regclass and attname = 'refund_count'
                    and not attisdropped) then
    alter type paytrust_public.financial_report_row add attribute refund_count integer;
  end if;
  if not exists (select 1 from pg_catalog.pg_attribute
                  where attrelid = 'paytrust_public.financial_report_row'::regclass and attname = 'net_after_refunds'
                    and not attisdropped) then
    alter type paytrust_public.financial_report_row add attribute net_after_refunds bigint;
  end if;
end;
$$;
comment on column paytrust_public.financial_report_row.gross is
  E'@notNull\nCollected: Σ paid amount of paid, settled or refunded payment transactions paid in the period (overpayments included; refunds are not deducted here).';
comment on column paytrust_public.financial_report_row.refunds is
  E'@notNull\nΣ refunds that succeeded in the period (given back to customers).';
comment on column paytrust_public.financial_report_row.refund_count is E'@notNull\nRefunds that succeeded in the period.';
comment on column paytrust_public.financial_report_row.net_after_refunds is
  E'@notNull\ngross − serviceFee − refunds: what stays with the merchant (tax and service fee are not given back by a refund; docs/money.md).';

create or replace function paytrust_public.financial_report("from" date, "to" date, currency text default null)
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
         and t.status in ('paid', 'settled', 'refunded')
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
    ), refunded as (
      select r.currency, r.gateway, sum(r.amount)::bigint as refunds, count(*)::integer as refund_count
        from paytrust_public.refunds r
       where r.tenant_id = v_tenant
         and r.status = 'succeeded'
         and (r.succeeded_at at time zone 'UTC')::date between "from" and "to"
         and (financial_report.currency is null or r.currency = financial_report.currency)
       group by r.currency, r.gateway
    ), cd as (
      select coalesce(c.currency, d.currency) as currency, coalesce(c.gateway, d.gateway) as gateway,
             coalesce(c.gross, 0) as gross, coalesce(d.tax, 0) as tax, coalesce(d.service_fee, 0) as service_fee,
             coalesce(c.invoice_count, 0) as invoice_count, coalesce(c.transaction_count, 0) as transaction_count,
             coalesce(d.installment_count, 0) as installment_count
        from collected c
        full join completed d on d.currency = c.currency and d.gateway = c.gateway
    )
    select coalesce(x.currency, r.currency), coalesce(x.gateway, r.gateway),
           coalesce(x.gross, 0)::bigint,
           coalesce(x.tax, 0)::bigint,
           coalesce(x.service_fee, 0)::bigint,
           (coalesce(x.gross, 0) - coalesce(x.service_fee, 0))::bigint,
           coalesce(x.invoice_count, 0),
           coalesce(x.transaction_count, 0),
           coalesce(x.installment_count, 0),
           coalesce(r.refunds, 0)::bigint,
           coalesce(r.refund_count, 0),
           (coalesce(x.gross, 0) - coalesce(x.service_fee, 0) - coalesce(r.refunds, 0))::bigint
      from cd x
      full join refunded r on r.currency = x.currency and r.gateway = x.gateway
     order by 1, 2;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp
  set work_mem to '64MB';
comment on function paytrust_public.financial_report(date, date, text) is
  E'The tenant''s money for the UTC days from..to (inclusive), one row per currency × gateway (optionally one currency): gross = collected (paid, settled and refunded transactions, overpayments included), tax and serviceFee = the shares of the installments completed in the period, net = gross − serviceFee; refunds = refunds that succeeded in the period, netAfterRefunds = net − refunds; invoiceCount = invoices that received money, with transaction, installment and refund counts. Amounts are BigInt minor units and never add currencies. Tenant keys only (PTTEN); from after to, or a period over 5 years, is PTVAL; an unknown currency PTCUR. Tax per rate: financialTaxReport.';

-- ============================================================================
-- 4. Editing an invoice until a payment starts
-- ============================================================================

-- replaceInvoiceLineItems: the new lines go through insert_invoice itself (the
-- function createInvoice uses: every check, line_tax, service_fee,
-- split_installments) inside a subtransaction that is always rolled back; its
-- results are then written onto the invoice. No rule is copied here.
-- The plan keeps its installment count and due dates and its proportions:
-- an equal split stays equal, a weighted one keeps the old principals'
-- proportions. The fee follows the gateway's current configuration, as for a
-- new invoice.
create or replace function paytrust_public.replace_invoice_line_items(
  invoice_id uuid,
  line_items paytrust_public.invoice_line[]
) returns paytrust_public.invoices as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_invoice paytrust_public.invoices;
  v_principals bigint[];
  v_due_dates date[];
  v_weights numeric[];
  v_count integer;
  v_tmp paytrust_public.invoices;
  v_lines jsonb;
  v_plan jsonb;
begin
  select * into v_invoice from paytrust_public.invoices i
   where i.id = replace_invoice_line_items.invoice_id and i.tenant_id = v_tenant
   for update;
  if not found then
    raise exception 'Invoice % not found', invoice_id using errcode = 'PTNFD';
  end if;
  if v_invoice.payment_initiated_at is not null then
    raise exception 'Invoice % is immutable once a payment is initiated; create a supplementary invoice instead',
      v_invoice.id using errcode = 'PTIMM';
  end if;
  if v_invoice.status <> 'open' then
    raise exception 'Invoice % is %; its lines cannot change', v_invoice.id, v_invoice.status using errcode = 'PTSTS';
  end if;

  select array_agg(s.principal order by s.number), array_agg(s.due_date order by s.number), count(*)
    into v_principals, v_due_dates, v_count
    from paytrust_public.installments s where s.invoice_id = v_invoice.id;
  -- Equal split (every share but the last equal, the last the remainder) → equal weights.
  if v_count = 1 or (
       (select count(distinct p) from unnest(v_principals[1:v_count - 1]) p) = 1
       and v_principals[v_count] - v_principals[1] between 0 and v_count - 1
       and v_principals[1] = div(v_invoice.subtotal, v_count)) then
    v_weights := array_fill(1::numeric, array[v_count]);
  elsif (select bool_and(p > 0) from unnest(v_principals) p) then
    v_weights := v_principals::numeric[];
  else
    v_weights := array_fill(1::numeric, array[v_count]);
  end if;

  begin
    v_tmp := paytrust_private.insert_invoice(
      v_tenant, v_invoice.parent_invoice_id, v_invoice.currency, v_invoice.gateway, v_invoice.customer_name,
      v_invoice.customer_email, line_items, v_invoice.description, v_invoice.due_date, v_count, 30, v_weights,
      v_due_dates, v_invoice.external_ref, null, null);
    select jsonb_agg(to_jsonb(l) order by l.position) into v_lines
      from paytrust_public.line_items l where l.invoice_id = v_tmp.id;
    select jsonb_agg(to_jsonb(s) order by s.number) into v_plan
      from paytrust_public.installments s where s.invoice_id = v_tmp.id;
    raise exception 'rollback' using errcode = 'PTRBK';
  exception when sqlstate 'PTRBK' then
    null; -- the probe invoice is gone; v_tmp, v_lines and v_plan keep its figures
  end;

  delete from paytrust_public.line_items l where l.invoice_id = v_invoice.id;
  delete from paytrust_public.installments s where s.invoice_id = v_invoice.id;
  insert into paytrust_public.line_items
    (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
  select v_tenant, v_invoice.id, l.position, l.description, l.quantity, l.unit_price, l.tax_rate, l.line_amount,
         l.tax_amount
    from jsonb_populate_recordset(null::paytrust_public.line_items, v_lines) l;
  insert into paytrust_public.installments
    (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
  select v_tenant, v_invoice.id, s.number, s.due_date, s.principal, s.tax_amount, s.fee_amount, s.total
    from jsonb_populate_recordset(null::paytrust_public.installments, v_plan) s;
  update paytrust_public.invoices i
     set subtotal = v_tmp.subtotal, tax_total = v_tmp.tax_total, service_fee = v_tmp.service_fee,
         total = v_tmp.total, fee_percent = v_tmp.fee_percent, fee_fixed = v_tmp.fee_fixed
   where i.id = v_invoice.id
  returning * into v_invoice;
  perform paytrust_private.audit('invoice.replace_line_items', v_invoice.id::text,
    jsonb_build_object('lines', jsonb_array_length(v_lines), 'total', v_invoice.total::text));
  return v_invoice;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.replace_invoice_line_items(uuid, paytrust_public.invoice_line[])
  to paytrust_tenant;
comment on function paytrust_public.replace_invoice_line_items(uuid, paytrust_public.invoice_line[]) is
  E'@resultFieldName invoice\nReplaces all line items of an open invoice on which no payment was initiated, and recomputes subtotal, tax, service fee (the gateway''s current configuration) and installments exactly as createInvoice does (same checks and error codes). The plan keeps its installment count, due dates and proportions. After a payment was initiated: PTIMM (use createSupplementaryInvoice); a cancelled invoice: PTSTS.';

-- updateInvoice: a cancelled invoice is final; a new dueDate before payment
-- moves every installment by the same number of days (new dueDate − old
-- dueDate, or − installment 1's due date when the invoice had none), so
-- installment 1 falls due on the new dueDate and the intervals stay
-- (docs/money.md, "Editing until a payment starts").
create or replace function paytrust_private.tg_invoices__editable() returns trigger as $$
begin
  if old.status = 'cancelled' and (
       new.description is distinct from old.description or new.customer_name is distinct from old.customer_name
    or new.customer_email is distinct from old.customer_email or new.due_date is distinct from old.due_date
    or new.external_ref is distinct from old.external_ref) then
    raise exception 'Invoice % is cancelled and can no longer change', old.id using errcode = 'PTSTS';
  end if;
  return new;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _250_editable on paytrust_public.invoices;
create trigger _250_editable before update on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg_invoices__editable();

create or replace function paytrust_private.tg_invoices__shift_due_dates() returns trigger as $$
declare
  v_days integer;
begin
  if new.payment_initiated_at is not null or new.due_date is null then
    return null;
  end if;
  v_days := new.due_date - coalesce(old.due_date,
    (select s.due_date from paytrust_public.installments s where s.invoice_id = new.id and s.number = 1));
  if coalesce(v_days, 0) <> 0 then
    update paytrust_public.installments s set due_date = s.due_date + v_days where s.invoice_id = new.id;
  end if;
  return null;
end;
-- The tenant may update the invoice's due_date, not installments: SECURITY DEFINER.
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _260_shift_due_dates on paytrust_public.invoices;
create trigger _260_shift_due_dates after update of due_date on paytrust_public.invoices
  for each row when (old.due_date is distinct from new.due_date)
  execute procedure paytrust_private.tg_invoices__shift_due_dates();

-- ============================================================================
-- 5. Idempotency keys on initiatePayment and createSupplementaryInvoice
--    (createInvoice's rules: same key + same input → the same object; other
--    input → PTIDM; concurrent requests with one key serialised by an
--    advisory lock; keys kept as long as the object)
-- ============================================================================

alter table paytrust_public.payment_transactions
  add column if not exists idempotency_key text check (length(idempotency_key) between 1 and 255);
alter table paytrust_public.payment_transactions add column if not exists idempotency_hash text;
create unique index if not exists payment_transactions_idempotency_key_idx
  on paytrust_public.payment_transactions (tenant_id, idempotency_key) where idempotency_key is not null;
comment on column paytrust_public.payment_transactions.idempotency_hash is E'@behavior -*';
comment on column paytrust_public.payment_transactions.idempotency_key is
  E'The idempotencyKey initiatePayment was called with, if any.';

-- initiate_payment: the rules stay in the 2-argument function (000003, and
-- whatever later migrations make of it), moved once into paytrust_private; the
-- exposed function adds the key around it. Guarded, so a re-run (or a later
-- file re-creating the 2-argument function) moves the newest version.
do $$
begin
  if to_regprocedure('paytrust_public.initiate_payment(uuid, integer)') is not null then
    drop function if exists paytrust_private.initiate_payment(uuid, integer);
    alter function paytrust_public.initiate_payment(uuid, integer) set schema paytrust_private;
  end if;
end;
$$;
revoke execute on function paytrust_private.initiate_payment(uuid, integer) from paytrust_tenant;
comment on function paytrust_private.initiate_payment(uuid, integer) is
  E'The rules of initiatePayment (paytrust_public.initiate_payment adds the idempotency key around it).';

create or replace function paytrust_public.initiate_payment(
  invoice_id uuid,
  installment_number integer default null,
  idempotency_key text default null
) returns paytrust_public.payment_transactions as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_hash text;
  v_existing paytrust_public.payment_transactions;
  v_tx paytrust_public.payment_transactions;
begin
  if idempotency_key is not null then
    if length(idempotency_key) not between 1 and 255 then
      raise exception 'idempotencyKey must be 1 to 255 characters' using errcode = 'PTVAL';
    end if;
    v_hash := md5(jsonb_build_array('initiate_payment', invoice_id, installment_number)::text);
    perform pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':payment:' || idempotency_key, 0));
    select * into v_existing from paytrust_public.payment_transactions t
     where t.tenant_id = v_tenant and t.idempotency_key = initiate_payment.idempotency_key;
    if found then
      if v_existing.idempotency_hash = v_hash then
        return v_existing;
      end if;
      raise exception 'idempotencyKey "%" was already used with different input', idempotency_key
        using errcode = 'PTIDM';
    end if;
  end if;
  v_tx := paytrust_private.initiate_payment(invoice_id, installment_number);
  if idempotency_key is not null then
    update paytrust_public.payment_transactions t
       set idempotency_key = initiate_payment.idempotency_key, idempotency_hash = v_hash
     where t.id = v_tx.id
    returning * into v_tx;
  end if;
  return v_tx;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.initiate_payment(uuid, integer, text) to paytrust_tenant;
comment on function paytrust_public.initiate_payment(uuid, integer, text) is
  E'@resultFieldName paymentTransaction\nStarts collecting an installment (default: the next unpaid one). Returns at once with checkoutUrl, PayTrust''s hosted link that forwards the customer to the gateway''s checkout page as soon as the gateway has created it. Replaying an idempotencyKey with the same input returns the same attempt (whatever its status now); other input PTIDM.';

-- create_supplementary_invoice gains idempotency_key (the invoices' key space,
-- shared with createInvoice: a key used there is PTIDM here).
drop function if exists paytrust_public.create_supplementary_invoice(uuid, paytrust_public.invoice_line[], text,
  date, integer, integer, numeric[], date[], text);
create or replace function paytrust_public.create_supplementary_invoice(
  parent_invoice_id uuid,
  line_items paytrust_public.invoice_line[],
  description text default null,
  due_date date default null,
  installment_count integer default 1,
  installment_interval_days integer default 30,
  installment_weights numeric[] default null,
  installment_due_dates date[] default null,
  external_ref text default null,
  idempotency_key text default null
) returns paytrust_public.invoices as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_hash text;
  v_existing paytrust_public.invoices;
  v_parent paytrust_public.invoices;
  v_invoice paytrust_public.invoices;
begin
  if idempotency_key is not null then
    if length(idempotency_key) not between 1 and 255 then
      raise exception 'idempotencyKey must be 1 to 255 characters' using errcode = 'PTVAL';
    end if;
    v_hash := md5(jsonb_build_array('supplementary', parent_invoice_id, to_jsonb(line_items), description, due_date,
      installment_count, installment_interval_days, installment_weights, installment_due_dates, external_ref)::text);
    -- the same lock key as create_invoice: one key space for invoices
    perform pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':' || idempotency_key, 0));
    select * into v_existing from paytrust_public.invoices i
     where i.tenant_id = v_tenant and i.idempotency_key = create_supplementary_invoice.idempotency_key;
    if found then
      if v_existing.idempotency_hash = v_hash then
        return v_existing;
      end if;
      raise exception 'idempotencyKey "%" was already used with different input', idempotency_key
        using errcode = 'PTIDM';
    end if;
  end if;
  select * into v_parent from paytrust_public.invoices i
   where i.id = create_supplementary_invoice.parent_invoice_id and i.tenant_id = v_tenant;
  if not found then
    raise exception 'Invoice % not found', parent_invoice_id using errcode = 'PTNFD';
  end if;
  if v_parent.payment_initiated_at is null then
    raise exception 'Invoice % has no payment initiated yet; it can still be cancelled and re-issued', v_parent.id
      using errcode = 'PTPAR';
  end if;
  if v_parent.status = 'cancelled' then
    raise exception 'Invoice % is cancelled', v_parent.id using errcode = 'PTPAR';
  end if;
  v_invoice := paytrust_private.insert_invoice(
    v_tenant, v_parent.id, v_parent.currency, v_parent.gateway, v_parent.customer_name, v_parent.customer_email,
    line_items, coalesce(description, 'Supplement to invoice ' || v_parent.number), due_date, installment_count,
    installment_interval_days, installment_weights, installment_due_dates, external_ref, idempotency_key, v_hash);
  perform paytrust_private.audit('invoice.create_supplementary', v_invoice.id::text,
    jsonb_build_object('parent_invoice_id', v_parent.id, 'total', v_invoice.total::text));
  return v_invoice;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.create_supplementary_invoice(uuid, paytrust_public.invoice_line[], text,
  date, integer, integer, numeric[], date[], text, text) to paytrust_tenant;
comment on function paytrust_public.create_supplementary_invoice(uuid, paytrust_public.invoice_line[], text,
  date, integer, integer, numeric[], date[], text, text) is
  E'@resultFieldName invoice\nAdds charges to an invoice that can no longer change: a new invoice in the same currency, gateway and customer, linked by parentInvoiceId. Replaying an idempotencyKey with the same input returns the same invoice; other input (or a key createInvoice used) PTIDM.';
