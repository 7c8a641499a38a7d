--! Previous: sha1:6a36a7429e7353fdd37f856304c4ac32588c19fa
--! Hash: sha1:79885e770e9d19580f17b7d1999bcc972ffd8192
--! Message: Attempts end: expires_at, expiry, cancel_payment, reconciliation cursor

--! split: 200-payment-safety.sql
-- Issue 14 item 4, attempts end:
--   1. expires_at on every payment attempt (PAYTRUST_CHECKOUT_EXPIRY_MINUTES, sent to the gateway)
--   2. expire_overdue_payments: the payment__expire_overdue cron expires overdue attempts
--   3. cancel_payment (cancelPayment): a pending attempt cancelled, at the gateway too
--   4. reconciliation walks every pending attempt (a cursor), not the same oldest 100

-- ============================================================================
-- 1. expires_at
-- ============================================================================

-- The checkout lifetime in minutes: the request's `paytrust.checkout_expiry_minutes`
-- (pgSettings from PAYTRUST_CHECKOUT_EXPIRY_MINUTES, validated at start-up),
-- 1440 when unset (SQL callers, tooling). A bad value fails closed.
create or replace function paytrust_private.checkout_expiry_minutes() returns integer as $$
declare
  v_raw text := nullif(current_setting('paytrust.checkout_expiry_minutes', true), '');
begin
  if v_raw is null then
    return 1440;
  end if;
  if v_raw !~ '^[0-9]{1,6}$' or v_raw::integer not between 1 and 525600 then
    raise exception 'paytrust.checkout_expiry_minutes must be a whole number of minutes from 1 to 525600, not "%"',
      left(v_raw, 20) using errcode = 'PTENV';
  end if;
  return v_raw::integer;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.checkout_expiry_minutes() is
  'Minutes a new payment attempt stays payable (paytrust.checkout_expiry_minutes, default 1440).';

alter table paytrust_public.payment_transactions add column if not exists expires_at timestamptz;
-- Attempts made before the column existed: the default lifetime from their creation
-- (an attempt abandoned long ago is overdue at once and expired by the next cron run).
update paytrust_public.payment_transactions
   set expires_at = created_at + interval '1440 minutes'
 where expires_at is null;
alter table paytrust_public.payment_transactions alter column expires_at set not null;
comment on column paytrust_public.payment_transactions.expires_at is
  E'When this attempt stops being payable: set at initiation (PAYTRUST_CHECKOUT_EXPIRY_MINUTES, default 1440 minutes) and sent to the gateway (Xendit invoice_duration, Midtrans expiry). A pending attempt past it is expired by PayTrust and its installment can be paid again; money that still arrives later is recorded.';

-- Computed in the database, in the transaction that creates the attempt.
create or replace function paytrust_private.tg_payment_transactions__expires_at() returns trigger as $$
begin
  new.expires_at := coalesce(new.expires_at, now() + make_interval(mins => paytrust_private.checkout_expiry_minutes()));
  return new;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _050_expires_at on paytrust_public.payment_transactions;
create trigger _050_expires_at before insert on paytrust_public.payment_transactions
  for each row execute procedure paytrust_private.tg_payment_transactions__expires_at();

create index if not exists payment_transactions_pending_expiry_idx
  on paytrust_public.payment_transactions (expires_at) where status = 'pending';
-- The reconciliation cursor's order (section 4).
create index if not exists payment_transactions_pending_cursor_idx
  on paytrust_public.payment_transactions (created_at, id) where status = 'pending';

-- The gateway request of an attempt (000003's, plus createdAt and expiresAt:
-- the gateway's checkout expires when PayTrust's attempt does).
create or replace function paytrust_private.gateway_payment_request(p_transaction_id uuid) returns jsonb as $$
  with tx as (
    select t.*, i.customer_name, i.customer_email, i.description, i.total as invoice_total,
           i.installment_count, i.subtotal, i.tax_total, i.service_fee, i.number as invoice_number,
           c.exponent
      from paytrust_public.payment_transactions t
      join paytrust_public.invoices i on i.id = t.invoice_id
      join paytrust_public.currencies c on c.code = t.currency
     where t.id = p_transaction_id
  ), items as (
    -- The whole invoice in one attempt: its lines, tax and fee.
    select l.position as ord, left(l.description, 50) as name, l.quantity, l.unit_price as price
      from paytrust_public.line_items l join tx on l.invoice_id = tx.invoice_id
     where tx.amount = tx.invoice_total and l.unit_price > 0
    union all
    select 10001, 'Tax', 1, tx.tax_total from tx where tx.amount = tx.invoice_total and tx.tax_total > 0
    union all
    select 10002, 'Service fee', 1, tx.service_fee from tx where tx.amount = tx.invoice_total and tx.service_fee > 0
    union all
    -- An installment (or a remainder): one line for exactly the amount.
    select 1, left(format('Installment %s of %s, INV-%s', tx.installment_number, tx.installment_count,
                          lpad(tx.invoice_number::text, 8, '0')), 50), 1, tx.amount
      from tx where tx.amount <> tx.invoice_total
  )
  select jsonb_build_object(
    'transactionId', tx.id,
    'status', tx.status,
    'gateway', tx.gateway,
    'externalId', tx.external_id,
    'gatewayReference', tx.gateway_reference,
    'currency', tx.currency,
    'exponent', tx.exponent,
    'amountMinor', tx.amount::text,
    'description', left(coalesce(tx.description, format('Invoice INV-%s', lpad(tx.invoice_number::text, 8, '0'))), 250),
    'customer', jsonb_build_object('name', tx.customer_name, 'email', tx.customer_email),
    'items', (select coalesce(jsonb_agg(jsonb_build_object('name', name, 'quantity', quantity,
                                                           'priceMinor', price::text) order by ord), '[]')
                from items),
    'createdAt', to_char(tx.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'expiresAt', to_char(tx.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  ) from tx;
$$ language sql stable;

-- 000003's, plus: a charge the gateway created for an attempt cancelled
-- meanwhile (cancelPayment while the create call was in flight) is closed at
-- the gateway too.
create or replace function paytrust_private.record_gateway_payment(p_transaction_id uuid, p_reference text, p_checkout_url text)
returns void as $$
declare
  v_status text;
begin
  update paytrust_public.payment_transactions
     set gateway_reference = p_reference,
         gateway_checkout_url = p_checkout_url,
         checkout_url = coalesce(checkout_url, p_checkout_url)
   where id = p_transaction_id
  returning status into v_status;
  if v_status = 'cancelled' then
    perform graphile_worker.add_job('gateway__cancel_payment', json_build_object('transactionId', p_transaction_id),
      job_key => 'gateway__cancel_payment:' || p_transaction_id, job_key_mode => 'replace', max_attempts => 10);
  end if;
end;
$$ language plpgsql volatile;

-- ============================================================================
-- 2. Overdue attempts expire (cron task payment__expire_overdue)
-- ============================================================================

-- Expires at most p_limit pending attempts whose expires_at has passed, under
-- the row locks apply_webhook_event takes (invoice → installment →
-- transaction). A row another transaction holds is skipped and taken on the
-- next run. The installment is free again (no pending attempt: initiatePayment
-- works); the _900_events trigger writes payment.expired (outbox); a PAID
-- notification arriving later still moves the money (status rank: expired <
-- paid), applied to the installment or recorded as overpayment.
-- Returns how many attempts it expired.
create or replace function paytrust_private.expire_overdue_payments(p_limit integer default 500) returns integer as $$
declare
  v_row record;
  v_invoice paytrust_public.invoices;
  v_tx paytrust_public.payment_transactions;
  v_iso record;
  v_count integer := 0;
begin
  select * into v_iso from paytrust_private.iso20022_status('expired');
  for v_row in
    select t.id, t.invoice_id, t.installment_id
      from paytrust_public.payment_transactions t
     where t.status = 'pending' and t.expires_at <= now()
     order by t.expires_at, t.id
     limit least(greatest(coalesce(p_limit, 500), 1), 5000)
  loop
    select * into v_invoice from paytrust_public.invoices where id = v_row.invoice_id for update skip locked;
    continue when not found;
    perform 1 from paytrust_public.installments where id = v_row.installment_id for update;
    select * into v_tx from paytrust_public.payment_transactions where id = v_row.id for update;
    continue when v_tx.status <> 'pending' or v_tx.expires_at > now();

    update paytrust_public.payment_transactions
       set status = 'expired', iso20022_status = v_iso.code, iso20022_reason = v_iso.reason,
           failure_reason = coalesce(failure_reason, 'The checkout expired (expiresAt passed) before it was paid')
     where id = v_tx.id;
    -- As an EXPIRED webhook does: an invoice nothing was paid on, with no other attempt running.
    if v_invoice.status = 'pending' and v_invoice.amount_paid = 0
       and not exists (select 1 from paytrust_public.payment_transactions t
                        where t.invoice_id = v_invoice.id and t.status = 'pending' and t.id <> v_tx.id) then
      update paytrust_public.invoices set status = 'expired' where id = v_invoice.id;
    end if;
    perform paytrust_private.audit('payment.status_change', v_tx.id::text,
      jsonb_build_object('tenant_id', v_tx.tenant_id, 'from', 'pending', 'to', 'expired',
                         'reason', 'expires_at passed', 'expires_at', v_tx.expires_at));
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function paytrust_private.expire_overdue_payments(integer) from public;
comment on function paytrust_private.expire_overdue_payments(integer) is
  'Expires up to p_limit overdue pending payment attempts (cron task payment__expire_overdue); returns how many.';

-- ============================================================================
-- 3. cancelPayment
-- ============================================================================

create or replace function paytrust_public.cancel_payment(payment_transaction_id uuid)
returns paytrust_public.payment_transactions as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_tx paytrust_public.payment_transactions;
  v_iso record;
begin
  select * into v_tx from paytrust_public.payment_transactions t
   where t.id = cancel_payment.payment_transaction_id and t.tenant_id = v_tenant;
  if not found then
    raise exception 'Payment transaction % not found', payment_transaction_id using errcode = 'PTNFD';
  end if;
  -- Lock order everywhere: invoice, then installment, then transaction.
  perform 1 from paytrust_public.invoices where id = v_tx.invoice_id for update;
  perform 1 from paytrust_public.installments where id = v_tx.installment_id for update;
  select * into v_tx from paytrust_public.payment_transactions where id = v_tx.id for update;
  if v_tx.status in ('paid', 'settled', 'refunded') then
    raise exception 'Payment transaction % is %: the money was received, it cannot be cancelled (refund it instead)',
      v_tx.id, v_tx.status using errcode = 'PTSTS';
  end if;
  if v_tx.status <> 'pending' then
    return v_tx; -- cancelled already, expired or failed: it has ended (idempotent)
  end if;

  select * into v_iso from paytrust_private.iso20022_status('cancelled');
  update paytrust_public.payment_transactions
     set status = 'cancelled', iso20022_status = v_iso.code, iso20022_reason = v_iso.reason,
         failure_reason = 'Cancelled by the merchant (cancelPayment)'
   where id = v_tx.id
  returning * into v_tx;
  -- At the gateway too (Xendit expire-invoice, Midtrans cancel); before the
  -- charge exists gateway__create_payment sees the status and creates nothing.
  perform graphile_worker.add_job('gateway__cancel_payment', json_build_object('transactionId', v_tx.id),
    job_key => 'gateway__cancel_payment:' || v_tx.id, job_key_mode => 'replace', max_attempts => 10);
  perform paytrust_private.audit('payment.cancel', v_tx.id::text,
    jsonb_build_object('tenant_id', v_tx.tenant_id, 'invoice_id', v_tx.invoice_id,
                       'installment', v_tx.installment_number, 'from', 'pending', 'to', 'cancelled'));
  return v_tx;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function paytrust_public.cancel_payment(uuid) from public;
grant execute on function paytrust_public.cancel_payment(uuid) to paytrust_tenant;
comment on function paytrust_public.cancel_payment(uuid) is
  E'@resultFieldName paymentTransaction\nCancels a pending payment attempt, at the gateway too (Xendit expires the invoice, Midtrans cancels the order), so its installment can be paid again with initiatePayment. Cancelling an attempt that has already ended (cancelled, expired, failed) returns it unchanged; a paid one is refused (PTSTS: refund it instead). Money the gateway still reports later is recorded, never dropped.';

-- What gateway__cancel_payment needs of an attempt.
create or replace function paytrust_private.gateway_cancel_request(p_transaction_id uuid) returns jsonb as $$
  select jsonb_build_object('transactionId', t.id, 'status', t.status, 'gateway', t.gateway,
                            'externalId', t.external_id, 'gatewayReference', t.gateway_reference)
    from paytrust_public.payment_transactions t where t.id = p_transaction_id;
$$ language sql stable;
comment on function paytrust_private.gateway_cancel_request(uuid) is
  'The attempt gateway__cancel_payment cancels at its gateway.';

-- ============================================================================
-- 4. Reconciliation walks every pending attempt
-- ============================================================================

-- Where the last reconciliation run stopped, in (created_at, id) order of the
-- pending attempts; the next run continues after it and wraps around.
create table if not exists paytrust_private.reconcile_cursor (
  singleton       boolean primary key default true check (singleton),
  last_created_at timestamptz,
  last_id         uuid,
  updated_at      timestamptz not null default now()
);
insert into paytrust_private.reconcile_cursor (singleton) values (true) on conflict do nothing;
comment on table paytrust_private.reconcile_cursor is
  'Where gateway__reconcile stopped: successive runs visit every pending attempt, oldest first, then wrap around.';

-- Attempts with a gateway charge but no final status for longer than
-- p_older_than, at most p_limit, continuing after the cursor (and wrapping
-- around), which moves to the last one returned.
create or replace function paytrust_private.transactions_to_reconcile(p_older_than interval, p_limit integer default 100)
returns table (id uuid, gateway text, external_id text, gateway_reference text) as $$
#variable_conflict use_column
declare
  v_limit integer := least(greatest(coalesce(p_limit, 100), 1), 1000);
  v_cursor paytrust_private.reconcile_cursor;
  v_row record;
  v_count integer := 0;
  v_last_created_at timestamptz;
  v_last_id uuid;
begin
  insert into paytrust_private.reconcile_cursor (singleton) values (true) on conflict do nothing;
  select * into v_cursor from paytrust_private.reconcile_cursor c where c.singleton for update;
  for v_row in
    select t.id, t.gateway, t.external_id, t.gateway_reference, t.created_at
      from paytrust_public.payment_transactions t
     where t.status = 'pending' and t.gateway_reference is not null and t.updated_at < now() - p_older_than
       and (v_cursor.last_id is null or (t.created_at, t.id) > (v_cursor.last_created_at, v_cursor.last_id))
     order by t.created_at, t.id
     limit v_limit
  loop
    id := v_row.id; gateway := v_row.gateway; external_id := v_row.external_id;
    gateway_reference := v_row.gateway_reference;
    v_last_created_at := v_row.created_at; v_last_id := v_row.id; v_count := v_count + 1;
    return next;
  end loop;
  if v_count < v_limit and v_cursor.last_id is not null then
    -- The end was reached: wrap around to the oldest.
    for v_row in
      select t.id, t.gateway, t.external_id, t.gateway_reference, t.created_at
        from paytrust_public.payment_transactions t
       where t.status = 'pending' and t.gateway_reference is not null and t.updated_at < now() - p_older_than
         and (t.created_at, t.id) <= (v_cursor.last_created_at, v_cursor.last_id)
       order by t.created_at, t.id
       limit v_limit - v_count
    loop
      id := v_row.id; gateway := v_row.gateway; external_id := v_row.external_id;
      gateway_reference := v_row.gateway_reference;
      v_last_created_at := v_row.created_at; v_last_id := v_row.id; v_count := v_count + 1;
      return next;
    end loop;
  end if;
  -- Nothing due: the cursor stays (the next run with due attempts continues from it).
  if v_count > 0 then
    update paytrust_private.reconcile_cursor c
       set last_created_at = v_last_created_at, last_id = v_last_id, updated_at = now()
     where c.singleton;
  end if;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.transactions_to_reconcile(interval, integer) is
  'The next batch of pending attempts gateway__reconcile asks the gateways about (a cursor: every one is visited in turn).';

-- The worker connects as the runtime role (default privileges cover new
-- objects; explicit here so a re-run on an older database grants them too).
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'paytrust_runtime') then
    return;
  end if;
  grant select, insert, update on paytrust_private.reconcile_cursor to paytrust_runtime;
  grant execute on function paytrust_private.expire_overdue_payments(integer),
    paytrust_private.transactions_to_reconcile(interval, integer),
    paytrust_private.gateway_cancel_request(uuid),
    paytrust_private.gateway_payment_request(uuid),
    paytrust_private.record_gateway_payment(uuid, text, text),
    paytrust_private.checkout_expiry_minutes() to paytrust_runtime;
end;
$$;
