--! Previous: sha1:932bf0442b1194997a3b1f4a93357cf3513db5da
--! Hash: sha1:52575b4b1f2c5ef5c80d3b11698002d24d4c4f63
--! Message: payments: transactions, webhook events, status application, retries

-- ============================================================================
-- 1. Payment transactions: one row per attempt at a gateway
-- ============================================================================

create table paytrust_public.payment_transactions (
  id                   uuid primary key default gen_random_uuid(),
  tenant_id            uuid not null references paytrust_public.tenants on delete cascade,
  invoice_id           uuid not null references paytrust_public.invoices on delete restrict,
  installment_id       uuid not null references paytrust_public.installments on delete restrict,
  installment_number   smallint not null,
  gateway              text not null check (gateway in ('xendit', 'midtrans')),
  currency             text not null references paytrust_public.currencies,
  -- what this attempt asks the customer to pay, minor units
  amount               bigint not null check (amount between 1 and paytrust_public.max_amount()),
  -- what the gateway reported as paid, minor units
  paid_amount          bigint not null default 0 check (paid_amount >= 0),
  status               text not null default 'pending'
                         check (status in ('pending', 'paid', 'settled', 'failed', 'expired', 'cancelled', 'refunded')),
  -- Xendit external_id / Midtrans order_id: unique per attempt, so a retried
  -- gateway call can find (and reuse) what an earlier try created.
  external_id          text not null unique,
  gateway_reference    text,
  gateway_checkout_url text,
  -- PayTrust's hosted link (/pay/:id) that forwards to the gateway's page once it exists
  checkout_url         text,
  gateway_status       text,
  failure_reason       text check (length(failure_reason) <= 1000),
  iso20022_status      text not null default 'PDNG' check (iso20022_status in ('PDNG', 'ACSP', 'ACSC', 'RJCT')),
  iso20022_reason      text check (iso20022_reason ~ '^[A-Z0-9]{1,4}$'),
  paid_at              timestamptz,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  constraint payment_transactions_same_tenant_invoice foreign key (invoice_id, tenant_id)
    references paytrust_public.invoices (id, tenant_id),
  constraint payment_transactions_same_tenant_installment foreign key (installment_id, tenant_id)
    references paytrust_public.installments (id, tenant_id)
);
-- At most one live attempt per installment (the concurrency backstop of initiate_payment).
create unique index payment_transactions_one_live_idx on paytrust_public.payment_transactions (installment_id)
  where status = 'pending';
create index payment_transactions_invoice_idx on paytrust_public.payment_transactions (invoice_id);
create index payment_transactions_tenant_created_idx on paytrust_public.payment_transactions (tenant_id, created_at desc);
create index payment_transactions_pending_idx on paytrust_public.payment_transactions (created_at) where status = 'pending';
alter table paytrust_public.payment_transactions enable row level security;
create policy all_own on paytrust_public.payment_transactions for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
grant select on paytrust_public.payment_transactions to paytrust_tenant;
comment on table paytrust_public.payment_transactions is E'@behavior -insert -update -delete\nOne attempt to collect an installment through a gateway. Poll it (paymentTransaction(id)) for status changes.';
comment on constraint payment_transactions_invoice_id_fkey on paytrust_public.payment_transactions is
  E'@foreignFieldName paymentTransactions';
comment on constraint payment_transactions_installment_id_fkey on paytrust_public.payment_transactions is
  E'@foreignFieldName paymentTransactions';
create trigger _100_timestamps before insert or update on paytrust_public.payment_transactions
  for each row execute procedure paytrust_private.tg__timestamps();

-- Status order: a status only ever moves to a higher rank, so duplicate and
-- out-of-order webhooks (PAID then PENDING, SETTLED then PAID) change nothing.
-- A failed/expired attempt can still become paid: late money is never lost.
create function paytrust_private.payment_status_rank(p_status text) returns integer as $$
  select case p_status
    when 'pending' then 0
    when 'failed' then 1 when 'expired' then 1 when 'cancelled' then 1
    when 'paid' then 2
    when 'settled' then 3
    when 'refunded' then 4
  end;
$$ language sql immutable strict;

-- PayTrust status → ISO 20022 pain.002 TxSts (+ reason code).
create function paytrust_private.iso20022_status(p_status text, out code text, out reason text) as $$
  select case p_status
           when 'pending' then 'PDNG' when 'paid' then 'ACSP' when 'settled' then 'ACSC'
           when 'refunded' then 'ACSC' else 'RJCT' end,
         case p_status
           when 'expired' then 'DS24'   -- time-out: the payment window elapsed
           when 'cancelled' then 'CUST' -- cancelled by the customer / requested by customer
           when 'failed' then 'NARR'    -- reason in failure_reason
           else null end;
$$ language sql immutable strict;

-- ============================================================================
-- 2. initiate_payment: checks in SQL, attempt row and gateway job in ONE transaction
-- ============================================================================

create function paytrust_public.initiate_payment(invoice_id uuid, installment_number integer default null)
returns paytrust_public.payment_transactions as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_invoice paytrust_public.invoices;
  v_installment paytrust_public.installments;
  v_tx paytrust_public.payment_transactions;
  v_id uuid := gen_random_uuid();
  v_base text := nullif(current_setting('paytrust.public_base_url', true), '');
begin
  -- Lock order everywhere: invoice, then installment, then transaction.
  select * into v_invoice from paytrust_public.invoices i
   where i.id = initiate_payment.invoice_id and i.tenant_id = v_tenant
   for update;
  if not found then
    raise exception 'Invoice % not found', invoice_id using errcode = 'PTNFD';
  end if;
  if v_invoice.status in ('paid', 'cancelled') then
    raise exception 'Invoice % is %; nothing to pay', v_invoice.id, v_invoice.status using errcode = 'PTSTS';
  end if;
  if not exists (select 1 from paytrust_public.gateway_configurations c
                  where c.gateway = v_invoice.gateway and c.currency = v_invoice.currency and c.enabled) then
    raise exception 'Gateway % does not accept % at the moment', v_invoice.gateway, v_invoice.currency
      using errcode = 'PTGWC';
  end if;

  if initiate_payment.installment_number is null then
    select * into v_installment from paytrust_public.installments i
     where i.invoice_id = v_invoice.id and i.status = 'pending'
     order by i.number limit 1
     for update;
  else
    select * into v_installment from paytrust_public.installments i
     where i.invoice_id = v_invoice.id and i.number = initiate_payment.installment_number
     for update;
    if not found then
      raise exception 'Invoice % has no installment %', v_invoice.id, initiate_payment.installment_number
        using errcode = 'PTNFD';
    end if;
  end if;
  if v_installment.id is null or v_installment.status = 'paid' then
    raise exception 'Installment % of invoice % is already paid', coalesce(v_installment.number, 0), v_invoice.id
      using errcode = 'PTSTS';
  end if;
  if not paytrust_public.installment_can_start(v_invoice.id, v_installment.number) then
    raise exception 'Installment % cannot start before installments 1..% are paid',
      v_installment.number, v_installment.number - 1 using errcode = 'PTSEQ';
  end if;
  if exists (select 1 from paytrust_public.payment_transactions t
              where t.installment_id = v_installment.id and t.status = 'pending') then
    raise exception 'Installment % already has a payment in progress', v_installment.number using errcode = 'PTLIV';
  end if;

  update paytrust_public.invoices
     set payment_initiated_at = coalesce(payment_initiated_at, now()),
         status = case when status in ('open', 'expired') then 'pending' else status end
   where id = v_invoice.id;

  insert into paytrust_public.payment_transactions (
    id, tenant_id, invoice_id, installment_id, installment_number, gateway, currency, amount, external_id, checkout_url
  ) values (
    v_id, v_tenant, v_invoice.id, v_installment.id, v_installment.number, v_invoice.gateway, v_invoice.currency,
    v_installment.total - v_installment.paid_amount,
    'pt-' || replace(v_id::text, '-', ''),
    case when v_base is not null then v_base || '/pay/' || v_id end
  ) returning * into v_tx;

  perform graphile_worker.add_job(
    'gateway__create_payment',
    json_build_object('transactionId', v_tx.id),
    job_key => 'gateway__create_payment:' || v_tx.id,
    max_attempts => 8
  );
  perform paytrust_private.audit('payment.initiate', v_tx.id::text,
    jsonb_build_object('invoice_id', v_invoice.id, 'installment', v_installment.number, 'amount', v_tx.amount::text));
  return v_tx;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.initiate_payment(uuid, integer) to paytrust_tenant;
comment on function paytrust_public.initiate_payment(uuid, integer) is
  E'@resultFieldName paymentTransaction\nStarts collecting an installment (default: the next unpaid one). Returns at once with checkoutUrl, PayTrust''s hosted link that forwards the customer to the gateway''s checkout page as soon as the gateway has created it.';

-- ============================================================================
-- 3. What the gateway__create_payment task reads and writes
-- ============================================================================

-- The gateway request for an attempt, with item lines whose Σ price × quantity
-- equals the amount exactly (Midtrans refuses anything else).
create function paytrust_private.gateway_payment_request(p_transaction_id uuid) returns jsonb as $$
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
                from items)
  ) from tx;
$$ language sql stable;

create function paytrust_private.record_gateway_payment(p_transaction_id uuid, p_reference text, p_checkout_url text)
returns void as $$
  update paytrust_public.payment_transactions
     set gateway_reference = p_reference,
         gateway_checkout_url = p_checkout_url,
         checkout_url = coalesce(checkout_url, p_checkout_url)
   where id = p_transaction_id;
$$ language sql volatile;

-- A permanent gateway refusal (or retries exhausted): the attempt fails, the
-- installment is free for a new attempt, and the invoice is never left locked.
create function paytrust_private.fail_payment_transaction(p_transaction_id uuid, p_reason text) returns void as $$
declare
  v_tx paytrust_public.payment_transactions;
begin
  select t.* into v_tx from paytrust_public.payment_transactions t where t.id = p_transaction_id;
  if not found then return; end if;
  perform 1 from paytrust_public.invoices where id = v_tx.invoice_id for update;
  update paytrust_public.payment_transactions t
     set status = 'failed', iso20022_status = 'RJCT', iso20022_reason = 'NARR', failure_reason = left(p_reason, 1000)
   where t.id = p_transaction_id and t.status = 'pending';
  if found then
    perform paytrust_private.audit('payment.status_change', p_transaction_id::text,
      jsonb_build_object('tenant_id', v_tx.tenant_id, 'from', 'pending', 'to', 'failed', 'reason', left(p_reason, 200)));
  end if;
end;
$$ language plpgsql volatile;

-- ============================================================================
-- 4. Webhook events: verified deliveries, deduplicated, processed by the worker
-- ============================================================================

create table paytrust_public.webhook_events (
  id             bigint primary key generated always as identity,
  gateway        text not null check (gateway in ('xendit', 'midtrans')),
  -- the gateway's identity of this event (dedup key with gateway and tenant)
  event_id       text not null check (length(event_id) between 1 and 300),
  tenant_id      uuid references paytrust_public.tenants on delete cascade,
  transaction_id uuid references paytrust_public.payment_transactions on delete cascade,
  source         text not null default 'webhook' check (source in ('webhook', 'reconciliation')),
  -- the verified body, minus signatures
  payload        jsonb not null,
  status         text not null default 'received' check (status in ('received', 'processed', 'ignored', 'failed')),
  outcome        text,
  attempts       integer not null default 0,
  last_error     text,
  received_at    timestamptz not null default now(),
  processed_at   timestamptz,
  constraint webhook_events_dedup unique nulls not distinct (gateway, event_id, tenant_id)
);
create index webhook_events_status_idx on paytrust_public.webhook_events (status, received_at) where status in ('received', 'failed');
create index webhook_events_tenant_idx on paytrust_public.webhook_events (tenant_id, received_at);
create index webhook_events_transaction_idx on paytrust_public.webhook_events (transaction_id);
alter table paytrust_public.webhook_events enable row level security;
create policy select_own_or_admin on paytrust_public.webhook_events for select
  using (tenant_id = (select paytrust_public.current_tenant_id()) or (select paytrust_public.is_admin()));
grant select on paytrust_public.webhook_events to paytrust_tenant, paytrust_admin;
comment on table paytrust_public.webhook_events is E'@behavior -insert -update -delete\nGateway notifications as received (signatures removed), one row per distinct event.';
comment on constraint webhook_events_transaction_id_fkey on paytrust_public.webhook_events is
  E'@foreignFieldName webhookEvents';

create table paytrust_public.webhook_retry_log (
  id               bigint primary key generated always as identity,
  webhook_event_id bigint not null references paytrust_public.webhook_events on delete cascade,
  attempt          integer not null,
  max_attempts     integer not null,
  error            text not null,
  created_at       timestamptz not null default now()
);
create index on paytrust_public.webhook_retry_log (webhook_event_id);
alter table paytrust_public.webhook_retry_log enable row level security;
create policy admin_select on paytrust_public.webhook_retry_log for select using ((select paytrust_public.is_admin()));
grant select on paytrust_public.webhook_retry_log to paytrust_admin;
comment on table paytrust_public.webhook_retry_log is E'@behavior -insert -update -delete\nEvery failed processing attempt of a webhook event.';
comment on constraint webhook_retry_log_webhook_event_id_fkey on paytrust_public.webhook_retry_log is
  E'@foreignFieldName retryLog';

-- Stores a verified event once and queues its processing, in one statement's
-- transaction. Duplicates (same gateway, event id, tenant) change nothing.
create function paytrust_private.receive_webhook(
  p_gateway text, p_event_id text, p_external_id text, p_payload jsonb, p_source text default 'webhook',
  p_max_attempts integer default 10
) returns table (webhook_event_id bigint, duplicate boolean, known_transaction boolean) as $$
declare
  v_tx paytrust_public.payment_transactions;
  v_id bigint;
begin
  -- The gateway must match: a Midtrans-signed event can never touch a Xendit attempt.
  select * into v_tx from paytrust_public.payment_transactions
   where external_id = p_external_id and gateway = p_gateway;
  insert into paytrust_public.webhook_events (gateway, event_id, tenant_id, transaction_id, source, payload, status, outcome)
  values (p_gateway, p_event_id, v_tx.tenant_id, v_tx.id, p_source,
          -- signatures are verified already; they are not kept
          p_payload - 'signature_key',
          case when v_tx.id is null then 'ignored' else 'received' end,
          case when v_tx.id is null then 'unknown transaction' end)
  on conflict on constraint webhook_events_dedup do nothing
  returning id into v_id;
  if v_id is null then
    return query select e.id, true, v_tx.id is not null from paytrust_public.webhook_events e
      where e.gateway = p_gateway and e.event_id = p_event_id and e.tenant_id is not distinct from v_tx.tenant_id;
    return;
  end if;
  if v_tx.id is not null then
    perform graphile_worker.add_job('webhook__process', json_build_object('webhookEventId', v_id),
      job_key => 'webhook__process:' || v_id, max_attempts => p_max_attempts);
  end if;
  return query select v_id, false, v_tx.id is not null;
end;
$$ language plpgsql volatile;

-- Converts a gateway's major-unit amount ("145000.00", 12.5) to minor units,
-- refusing fractions the currency cannot hold.
create function paytrust_private.major_to_minor(p_amount text, p_currency text) returns bigint as $$
declare
  v_exponent integer;
  v_value numeric;
begin
  select exponent into v_exponent from paytrust_public.currencies where code = p_currency;
  if v_exponent is null then
    raise exception 'Unknown currency %', p_currency using errcode = 'PTCUR';
  end if;
  begin
    v_value := p_amount::numeric * (10::numeric ^ v_exponent);
  exception when others then
    raise exception 'Not an amount: %', left(p_amount, 50) using errcode = 'PTAMT';
  end;
  if v_value <> trunc(v_value) or v_value < 0 or v_value > paytrust_public.max_amount() then
    raise exception 'Amount % is not a valid % amount', left(p_amount, 50), p_currency using errcode = 'PTAMT';
  end if;
  return v_value::bigint;
end;
$$ language plpgsql stable;

-- A gateway's status, normalised: PayTrust status and the paid amount (minor units).
create function paytrust_private.normalise_gateway_status(p_gateway text, p_payload jsonb, p_currency text,
  out status text, out paid_amount bigint, out gateway_status text, out reason text) as $$
begin
  if p_gateway = 'xendit' then
    gateway_status := upper(p_payload ->> 'status');
    status := case gateway_status
      when 'PENDING' then 'pending' when 'PAID' then 'paid' when 'SETTLED' then 'settled'
      when 'EXPIRED' then 'expired' end;
    if p_payload ? 'currency' and p_payload ->> 'currency' <> p_currency then
      raise exception 'Webhook currency % does not match the transaction''s %', p_payload ->> 'currency', p_currency
        using errcode = 'PTCCY';
    end if;
    if status in ('paid', 'settled') then
      paid_amount := paytrust_private.major_to_minor(coalesce(p_payload ->> 'paid_amount', p_payload ->> 'amount'), p_currency);
    end if;
  elsif p_gateway = 'midtrans' then
    gateway_status := lower(p_payload ->> 'transaction_status');
    -- Paid only with status_code 200, capture/settlement and fraud_status accept.
    status := case
      when gateway_status = 'capture' and p_payload ->> 'status_code' = '200'
           and coalesce(p_payload ->> 'fraud_status', 'accept') = 'accept' then 'paid'
      when gateway_status = 'settlement' and p_payload ->> 'status_code' = '200'
           and coalesce(p_payload ->> 'fraud_status', 'accept') = 'accept' then 'settled'
      when gateway_status = 'capture' and p_payload ->> 'fraud_status' = 'challenge' then 'pending'
      when gateway_status = 'pending' then 'pending'
      when gateway_status in ('deny', 'failure') then 'failed'
      when gateway_status = 'capture' and p_payload ->> 'fraud_status' = 'deny' then 'failed'
      when gateway_status = 'cancel' then 'cancelled'
      when gateway_status = 'expire' then 'expired'
      when gateway_status in ('refund', 'partial_refund') then 'refunded'
    end;
    -- The signature covers order_id, status_code and gross_amount but not
    -- transaction_status: a status must agree with its status_code, or a
    -- captured notification could be replayed with another status.
    if not coalesce((p_payload ->> 'status_code') = any (case gateway_status
         when 'capture' then array['200', '201'] when 'settlement' then array['200']
         when 'pending' then array['201'] when 'deny' then array['202'] when 'failure' then array['202']
         when 'cancel' then array['200'] when 'expire' then array['407']
         when 'refund' then array['200'] when 'partial_refund' then array['200'] end), false) then
      status := null;
    end if;
    if p_payload ? 'currency' and p_payload ->> 'currency' <> p_currency then
      raise exception 'Webhook currency % does not match the transaction''s %', p_payload ->> 'currency', p_currency
        using errcode = 'PTCCY';
    end if;
    if status in ('paid', 'settled') then
      paid_amount := paytrust_private.major_to_minor(p_payload ->> 'gross_amount', p_currency);
    end if;
    if status = 'failed' then
      reason := left(coalesce(p_payload ->> 'status_message', gateway_status), 200);
    end if;
  end if;
end;
$$ language plpgsql stable;

-- Applies one stored event. Row locks (invoice → installment → transaction →
-- event) make concurrent deliveries and the worker's retries safe; the rank
-- rule makes duplicates and stale events no-ops; money moves only on the
-- first transition into paid/settled.
create function paytrust_private.apply_webhook_event(p_webhook_event_id bigint) returns text as $$
declare
  v_event paytrust_public.webhook_events;
  v_tx paytrust_public.payment_transactions;
  v_installment paytrust_public.installments;
  v_invoice paytrust_public.invoices;
  v_norm record;
  v_iso record;
  v_due bigint;
  v_applied bigint;
  v_excess bigint;
  v_outcome text;
begin
  select * into v_event from paytrust_public.webhook_events where id = p_webhook_event_id;
  if not found then
    return 'missing';
  end if;
  if v_event.transaction_id is null then
    update paytrust_public.webhook_events set status = 'ignored', outcome = 'unknown transaction', processed_at = now()
     where id = v_event.id and status <> 'processed';
    return 'ignored';
  end if;

  select * into v_tx from paytrust_public.payment_transactions where id = v_event.transaction_id;
  select * into v_invoice from paytrust_public.invoices where id = v_tx.invoice_id for update;
  select * into v_installment from paytrust_public.installments where id = v_tx.installment_id for update;
  select * into v_tx from paytrust_public.payment_transactions where id = v_event.transaction_id for update;
  select * into v_event from paytrust_public.webhook_events where id = p_webhook_event_id for update;
  if v_event.status in ('processed', 'ignored') then
    return v_event.status; -- already applied by an earlier attempt
  end if;

  select * into v_norm from paytrust_private.normalise_gateway_status(v_event.gateway, v_event.payload, v_tx.currency);
  if v_norm.status is null then
    update paytrust_public.webhook_events
       set status = 'ignored', outcome = 'unrecognised status ' || coalesce(v_norm.gateway_status, 'null'),
           processed_at = now(), attempts = attempts + 1
     where id = v_event.id;
    return 'ignored';
  end if;

  if paytrust_private.payment_status_rank(v_norm.status) <= paytrust_private.payment_status_rank(v_tx.status) then
    v_outcome := format('stale: %s after %s', v_norm.status, v_tx.status);
  else
    select * into v_iso from paytrust_private.iso20022_status(v_norm.status);
    update paytrust_public.payment_transactions
       set status = v_norm.status,
           gateway_status = v_norm.gateway_status,
           iso20022_status = case when v_norm.status = 'refunded' then iso20022_status else v_iso.code end,
           iso20022_reason = case when v_norm.status = 'refunded' then iso20022_reason else v_iso.reason end,
           failure_reason = coalesce(v_norm.reason, failure_reason)
     where id = v_tx.id;
    v_outcome := format('%s → %s', v_tx.status, v_norm.status);

    if v_norm.status in ('paid', 'settled') and v_tx.status not in ('paid', 'settled') then
      -- Money arrives once: split into what the installment still needed and overpayment.
      v_due := greatest(v_installment.total - v_installment.paid_amount, 0);
      v_applied := least(v_norm.paid_amount, v_due);
      v_excess := v_norm.paid_amount - v_applied;
      update paytrust_public.payment_transactions
         set paid_amount = v_norm.paid_amount, paid_at = now()
       where id = v_tx.id;
      update paytrust_public.installments
         set paid_amount = paid_amount + v_applied,
             status = case when paid_amount + v_applied >= total then 'paid' else status end,
             paid_at = case when paid_amount + v_applied >= total then now() else paid_at end
       where id = v_installment.id;
      update paytrust_public.invoices i
         set amount_paid = amount_paid + v_norm.paid_amount,
             overpayment_amount = overpayment_amount + v_excess,
             status = case
               when not exists (select 1 from paytrust_public.installments x
                                 where x.invoice_id = i.id and x.status <> 'paid') then 'paid'
               else 'partially_paid' end,
             paid_at = case
               when not exists (select 1 from paytrust_public.installments x
                                 where x.invoice_id = i.id and x.status <> 'paid') then now()
               else paid_at end
       where id = v_invoice.id;
      v_outcome := v_outcome || format(' (applied %s, overpaid %s)', v_applied, v_excess);
    elsif v_norm.status = 'expired' and v_invoice.status = 'pending' and v_invoice.amount_paid = 0
          and not exists (select 1 from paytrust_public.payment_transactions t
                           where t.invoice_id = v_invoice.id and t.status = 'pending' and t.id <> v_tx.id) then
      update paytrust_public.invoices set status = 'expired' where id = v_invoice.id;
    end if;
    perform paytrust_private.audit('payment.status_change', v_tx.id::text,
      jsonb_build_object('tenant_id', v_tx.tenant_id, 'from', v_tx.status, 'to', v_norm.status,
                         'webhook_event_id', v_event.id));
  end if;

  update paytrust_public.webhook_events
     set status = 'processed', outcome = v_outcome, processed_at = now(), attempts = attempts + 1, last_error = null
   where id = v_event.id;
  return v_outcome;
end;
$$ language plpgsql volatile;

-- Called by the worker when processing fails; after the last attempt the
-- event is marked failed and shows in failedWebhooks.
create function paytrust_private.record_webhook_failure(
  p_webhook_event_id bigint, p_attempt integer, p_max_attempts integer, p_error text
) returns void as $$
begin
  insert into paytrust_public.webhook_retry_log (webhook_event_id, attempt, max_attempts, error)
  values (p_webhook_event_id, p_attempt, p_max_attempts, left(p_error, 2000));
  update paytrust_public.webhook_events
     set attempts = p_attempt, last_error = left(p_error, 2000),
         status = case when p_attempt >= p_max_attempts then 'failed' else status end
   where id = p_webhook_event_id and status = 'received';
  if p_attempt >= p_max_attempts then
    insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
    select 'webhook.failed', e.tenant_id, e.id::text, 'worker', jsonb_build_object('attempts', p_attempt, 'error', left(p_error, 200))
      from paytrust_public.webhook_events e where e.id = p_webhook_event_id;
  end if;
end;
$$ language plpgsql volatile;

create function paytrust_public.failed_webhooks() returns setof paytrust_public.webhook_events as $$
begin
  perform paytrust_private.assert_admin();
  return query select * from paytrust_public.webhook_events where status = 'failed' order by received_at;
end;
$$ language plpgsql stable security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.failed_webhooks() to paytrust_admin;
comment on function paytrust_public.failed_webhooks() is E'Webhook events whose processing failed after every retry (admin keys only).';

create function paytrust_public.retry_webhook(id bigint) returns paytrust_public.webhook_events as $$
declare
  v_event paytrust_public.webhook_events;
begin
  perform paytrust_private.assert_admin();
  update paytrust_public.webhook_events e set status = 'received', last_error = null
   where e.id = retry_webhook.id and e.status = 'failed'
   returning * into v_event;
  if not found then
    raise exception 'Webhook event % is not a failed event', retry_webhook.id using errcode = 'PTNFD';
  end if;
  perform graphile_worker.add_job('webhook__process', json_build_object('webhookEventId', v_event.id),
    job_key => 'webhook__process:' || v_event.id, job_key_mode => 'replace', max_attempts => 10);
  perform paytrust_private.audit('webhook.retry', v_event.id::text, jsonb_build_object('tenant_id', v_event.tenant_id));
  return v_event;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.retry_webhook(bigint) to paytrust_admin;
comment on function paytrust_public.retry_webhook(bigint) is
  E'@resultFieldName webhookEvent\nQueues a failed webhook event for processing again (admin keys only).';

-- ============================================================================
-- 5. Recovery: the database is the source of truth, jobs are re-derivable
-- ============================================================================

-- A worker killed mid-job keeps its job locked (graphile-worker releases such
-- locks only after hours). Every minute the sweeper re-queues what such a
-- worker left behind: webhook events still 'received' and attempts still
-- waiting for their gateway charge, when no job exists for them or their job
-- has been locked longer than p_stalled_after. Duplicated work is harmless:
-- apply_webhook_event and the gateway adapters are idempotent.
create function paytrust_private.sweep_stalled_work(p_stalled_after interval default interval '45 seconds')
returns table (kind text, subject text) as $$
declare
  v_row record;
begin
  for v_row in
    select e.id from paytrust_public.webhook_events e
     where e.status = 'received' and e.transaction_id is not null and e.received_at < now() - p_stalled_after
       and not exists (select 1 from graphile_worker.jobs j
                        where j.key = 'webhook__process:' || e.id
                          and (j.locked_at is null or j.locked_at > now() - p_stalled_after))
  loop
    perform graphile_worker.add_job('webhook__process', json_build_object('webhookEventId', v_row.id),
      job_key => 'webhook__process:' || v_row.id, job_key_mode => 'replace', max_attempts => 10);
    kind := 'webhook_event'; subject := v_row.id::text;
    return next;
  end loop;
  for v_row in
    select t.id from paytrust_public.payment_transactions t
     where t.status = 'pending' and t.gateway_reference is null and t.created_at < now() - p_stalled_after
       and not exists (select 1 from graphile_worker.jobs j
                        where j.key = 'gateway__create_payment:' || t.id
                          and (j.locked_at is null or j.locked_at > now() - p_stalled_after))
  loop
    perform graphile_worker.add_job('gateway__create_payment', json_build_object('transactionId', v_row.id),
      job_key => 'gateway__create_payment:' || v_row.id, job_key_mode => 'replace', max_attempts => 8);
    kind := 'payment_transaction'; subject := v_row.id::text;
    return next;
  end loop;
end;
$$ language plpgsql volatile;

-- Attempts with a gateway charge but no final status for longer than
-- p_older_than: the reconciliation task asks the gateway about them.
create function paytrust_private.transactions_to_reconcile(p_older_than interval, p_limit integer default 100)
returns table (id uuid, gateway text, external_id text, gateway_reference text) as $$
  select t.id, t.gateway, t.external_id, t.gateway_reference
    from paytrust_public.payment_transactions t
   where t.status = 'pending' and t.gateway_reference is not null and t.updated_at < now() - p_older_than
   order by t.updated_at
   limit p_limit;
$$ language sql stable;

-- The tenant-consistency keys are integrity rules, not relations to expose.
comment on constraint payment_transactions_same_tenant_invoice on paytrust_public.payment_transactions is E'@behavior -*';
comment on constraint payment_transactions_same_tenant_installment on paytrust_public.payment_transactions is E'@behavior -*';
