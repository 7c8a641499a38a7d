--! Previous: sha1:79885e770e9d19580f17b7d1999bcc972ffd8192
--! Hash: sha1:f3dc8b2a5b6e2ad629f08fa4d8eea45411f5bb62
--! Message: Money moves only on a confirmed gateway status; permanent webhook errors

--! split: 250-payment-confirmation.sql
-- Issue 14 items 5, 6, 14; issue 15 item 2 (refund notifications confirmed).
--   1. gateway charges: which gateway payment (Xendit invoice, Midtrans order) brought money in
--   2. apply_webhook_event(id, confirmed): money moves only on the status API's word
--   3. permanent failures: failed at once, listed in failedWebhooks; codes, never SQL text
--   4. refund notifications: a hint that re-checks the refund through the gateway's API
--   5. the sweeper: exhausted jobs are not alive; what they leave is surfaced

-- ============================================================================
-- 1. Gateway charges applied to an attempt
-- ============================================================================

-- One row per gateway payment whose money was applied: Xendit invoice id,
-- Midtrans order_id (Midtrans charges an order at most once). A second paid
-- Xendit invoice for one attempt is a second row, recorded as overpayment.
create table if not exists paytrust_private.gateway_charges (
  transaction_id    uuid not null references paytrust_public.payment_transactions on delete cascade,
  gateway_charge_id text not null check (length(gateway_charge_id) between 1 and 300),
  tenant_id         uuid not null references paytrust_public.tenants on delete cascade,
  amount            bigint not null check (amount >= 0),
  webhook_event_id  bigint references paytrust_public.webhook_events on delete set null,
  applied_at        timestamptz not null default now(),
  primary key (transaction_id, gateway_charge_id)
);
create index if not exists gateway_charges_tenant_idx on paytrust_private.gateway_charges (tenant_id);
alter table paytrust_private.gateway_charges enable row level security;
comment on table paytrust_private.gateway_charges is
  E'@behavior -*\nGateway payments whose money was applied to an attempt (Xendit invoice id, Midtrans order_id): a second paid invoice for one attempt is overpayment, never dropped, never applied twice.';

-- Attempts paid before this table existed: their gateway reference is the charge.
insert into paytrust_private.gateway_charges (transaction_id, gateway_charge_id, tenant_id, amount)
select t.id, case when t.gateway = 'midtrans' then t.external_id else coalesce(t.gateway_reference, t.external_id) end,
       t.tenant_id, t.paid_amount
  from paytrust_public.payment_transactions t
 where t.status in ('paid', 'settled', 'refunded') and t.paid_amount > 0
   -- only attempts with no charge recorded (a re-run must not add the reference of an unpaid invoice)
   and not exists (select 1 from paytrust_private.gateway_charges c where c.transaction_id = t.id)
on conflict do nothing;

-- ============================================================================
-- 2. Confirmation
-- ============================================================================

-- The gateway's id of the payment a payload is about (see gateway_charges).
create or replace function paytrust_private.gateway_charge_id(p_gateway text, p_payload jsonb) returns text as $$
  select case p_gateway when 'xendit' then p_payload ->> 'id' else p_payload ->> 'order_id' end;
$$ language sql immutable;

-- A notification that could move nothing whatever the gateway says: its status
-- is not above the attempt's, and it brings no money not applied yet (a
-- PENDING after PAID, a repeated PAID for the same invoice). No status API call.
create or replace function paytrust_private.webhook_claim_is_stale(
  p_tx paytrust_public.payment_transactions, p_gateway text, p_payload jsonb, p_claimed text
) returns boolean as $$
  select paytrust_private.payment_status_rank(p_claimed) <= paytrust_private.payment_status_rank(p_tx.status)
     and (p_claimed not in ('paid', 'settled')
          or exists (select 1 from paytrust_private.gateway_charges c
                      where c.transaction_id = p_tx.id
                        and c.gateway_charge_id = coalesce(paytrust_private.gateway_charge_id(p_gateway, p_payload), p_tx.external_id)));
$$ language sql stable;

-- Short, stable error text for webhook_events.last_error / outcome (tenants read them).
create or replace function paytrust_private.webhook_error_text(p_code text, p_message text) returns text as $$
  select left(coalesce(p_code, 'PTWHE') || ': ' || regexp_replace(coalesce(p_message, ''), '[\r\n\t]+', ' ', 'g'), 300);
$$ language sql immutable;

-- What webhook__process must ask the gateway before apply_webhook_event(id, confirmed):
-- {confirm: false} when there is nothing to confirm (already final, unknown
-- transaction, unrecognised status, or a reconciliation report that comes from
-- the status API itself). Raises PTCCY / PTAMT / PTWHM on a notification that
-- can never be applied (the worker fails it at once).
create or replace function paytrust_private.webhook_confirmation_request(p_webhook_event_id bigint) returns jsonb as $$
declare
  v_event paytrust_public.webhook_events;
  v_tx paytrust_public.payment_transactions;
  v_claim record;
begin
  select * into v_event from paytrust_public.webhook_events where id = p_webhook_event_id;
  if not found or v_event.status <> 'received' or v_event.transaction_id is null
     or v_event.source = 'reconciliation' then
    return jsonb_build_object('confirm', false);
  end if;
  select * into v_tx from paytrust_public.payment_transactions where id = v_event.transaction_id;
  select * into v_claim from paytrust_private.normalise_gateway_status(v_event.gateway, v_event.payload, v_tx.currency);
  if v_claim.status is null
     or paytrust_private.webhook_claim_is_stale(v_tx, v_event.gateway, v_event.payload, v_claim.status) then
    return jsonb_build_object('confirm', false);
  end if;
  return jsonb_build_object(
    'confirm', true,
    'gateway', v_tx.gateway,
    'externalId', v_tx.external_id,
    'gatewayReference', v_tx.gateway_reference,
    -- Xendit: the invoice the callback is about (GET /v2/invoices/{id}); Midtrans: the order.
    'gatewayChargeId', coalesce(paytrust_private.gateway_charge_id(v_event.gateway, v_event.payload), v_tx.external_id),
    'claimedStatus', v_claim.status);
end;
$$ language plpgsql stable;
comment on function paytrust_private.webhook_confirmation_request(bigint) is
  'What webhook__process asks the gateway''s status API before applying a notification.';

-- A notification the gateway's status API contradicts (or a payment the
-- gateway never charged): recorded, nothing moves.
create or replace function paytrust_private.contradict_webhook_event(
  p_event paytrust_public.webhook_events, p_detail text
) returns text as $$
begin
  update paytrust_public.webhook_events
     set status = 'ignored', outcome = left('contradicted: ' || p_detail, 300),
         last_error = paytrust_private.webhook_error_text('PTCNF', p_detail),
         processed_at = now(), attempts = attempts + 1
   where id = p_event.id;
  insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
  values ('webhook.contradicted', p_event.tenant_id, p_event.id::text, 'worker',
          jsonb_build_object('gateway', p_event.gateway, 'transaction_id', p_event.transaction_id,
                             'detail', left(p_detail, 200)));
  return 'contradicted';
end;
$$ language plpgsql volatile;

-- Applies one stored event with what the gateway's status API answered
-- (p_confirmed: Xendit's invoice object, Midtrans's status response; null when
-- the gateway knows no such payment). Row locks (invoice → installment →
-- transaction → event) make concurrent deliveries and retries safe; the rank
-- rule makes duplicates and stale events no-ops; money moves only on the
-- first confirmed charge, with the confirmed amount. A notification the API
-- contradicts moves nothing.
create or replace function paytrust_private.apply_webhook_event(p_webhook_event_id bigint, p_confirmed jsonb)
returns text as $$
declare
  v_event paytrust_public.webhook_events;
  v_tx paytrust_public.payment_transactions;
  v_installment paytrust_public.installments;
  v_invoice paytrust_public.invoices;
  v_claim record;
  v_norm record;
  v_iso record;
  v_confirmed jsonb;
  v_charge text;
  v_new_charge boolean;
  v_due bigint;
  v_applied bigint;
  v_excess bigint;
  v_outcome text;
  v_refund record;
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
  if v_event.status in ('processed', 'ignored', 'failed') then
    return v_event.status; -- already applied (or given up) by an earlier attempt
  end if;

  -- What the notification claims (its currency and amount checked: PTCCY / PTAMT).
  select * into v_claim from paytrust_private.normalise_gateway_status(v_event.gateway, v_event.payload, v_tx.currency);
  if v_claim.status is null then
    update paytrust_public.webhook_events
       set status = 'ignored', outcome = left('unrecognised status ' || coalesce(v_claim.gateway_status, 'null'), 300),
           processed_at = now(), attempts = attempts + 1
     where id = v_event.id;
    return 'ignored';
  end if;

  if paytrust_private.webhook_claim_is_stale(v_tx, v_event.gateway, v_event.payload, v_claim.status) then
    update paytrust_public.webhook_events
       set status = 'processed', outcome = format('stale: %s after %s', v_claim.status, v_tx.status),
           processed_at = now(), attempts = attempts + 1, last_error = null
     where id = v_event.id;
    return 'stale';
  end if;

  -- What the gateway's status API says. A reconciliation report is the API's own answer.
  v_confirmed := case when v_event.source = 'reconciliation' then v_event.payload else p_confirmed end;
  if v_confirmed is null or jsonb_typeof(v_confirmed) <> 'object' then
    return paytrust_private.contradict_webhook_event(v_event,
      format('notification says %s; the gateway has no such payment', v_claim.status));
  end if;
  -- The answer must be about this attempt (and, for Xendit, the notified invoice).
  if (v_event.gateway = 'xendit' and (v_confirmed ->> 'external_id' is distinct from v_tx.external_id
        or (v_event.payload ? 'id' and v_confirmed ->> 'id' is distinct from v_event.payload ->> 'id')))
     or (v_event.gateway = 'midtrans' and v_confirmed ->> 'order_id' is distinct from v_tx.external_id) then
    return paytrust_private.contradict_webhook_event(v_event, 'the status API answered about another payment');
  end if;
  select * into v_norm from paytrust_private.normalise_gateway_status(v_event.gateway, v_confirmed, v_tx.currency);
  if v_norm.status is null then
    return paytrust_private.contradict_webhook_event(v_event,
      format('notification says %s; the gateway says %s', v_claim.status, coalesce(v_norm.gateway_status, 'nothing')));
  end if;
  if not (v_norm.status = v_claim.status
          or (v_claim.status in ('paid', 'settled') and v_norm.status in ('paid', 'settled'))) then
    return paytrust_private.contradict_webhook_event(v_event,
      format('notification says %s; the gateway says %s', v_claim.status, v_norm.gateway_status));
  end if;
  if v_norm.status in ('paid', 'settled') and v_norm.paid_amount is null then
    raise exception 'The gateway confirmed a payment without an amount' using errcode = 'PTWHM';
  end if;

  -- A confirmed refund: the refunds themselves are settled through the refund
  -- API (gateway__refund → record_refund_result), never from the notification.
  if v_norm.status = 'refunded' then
    for v_refund in
      select r.id from paytrust_public.refunds r where r.payment_transaction_id = v_tx.id and r.status = 'pending'
    loop
      perform graphile_worker.add_job('gateway__refund', json_build_object('refundId', v_refund.id),
        job_key => 'gateway__refund:' || v_refund.id, job_key_mode => 'replace', max_attempts => 10);
    end loop;
    update paytrust_public.webhook_events
       set status = 'processed', outcome = 'refund confirmed by the gateway; pending refunds re-checked through its refund API',
           processed_at = now(), attempts = attempts + 1, last_error = null
     where id = v_event.id;
    return 'refund hint';
  end if;

  v_charge := coalesce(paytrust_private.gateway_charge_id(v_event.gateway, v_confirmed), v_tx.external_id);
  v_new_charge := v_norm.status in ('paid', 'settled') and not exists (
    select 1 from paytrust_private.gateway_charges c where c.transaction_id = v_tx.id and c.gateway_charge_id = v_charge);

  if v_new_charge and v_tx.status in ('paid', 'settled', 'refunded') then
    -- A second gateway payment for an attempt already paid: all of it is overpayment.
    insert into paytrust_private.gateway_charges (transaction_id, gateway_charge_id, tenant_id, amount, webhook_event_id)
    values (v_tx.id, v_charge, v_tx.tenant_id, v_norm.paid_amount, v_event.id);
    update paytrust_public.payment_transactions set paid_amount = paid_amount + v_norm.paid_amount where id = v_tx.id;
    update paytrust_public.invoices
       set amount_paid = amount_paid + v_norm.paid_amount,
           overpayment_amount = overpayment_amount + v_norm.paid_amount
     where id = v_invoice.id;
    perform paytrust_private.audit('payment.overpayment', v_tx.id::text,
      jsonb_build_object('tenant_id', v_tx.tenant_id, 'gateway_charge_id', v_charge,
                         'amount', v_norm.paid_amount::text, 'webhook_event_id', v_event.id));
    v_outcome := format('second gateway payment %s: %s recorded as overpayment', left(v_charge, 60), v_norm.paid_amount);
  elsif paytrust_private.payment_status_rank(v_norm.status) <= paytrust_private.payment_status_rank(v_tx.status) then
    v_outcome := format('stale: %s after %s', v_norm.status, v_tx.status);
  else
    select * into v_iso from paytrust_private.iso20022_status(v_norm.status);
    update paytrust_public.payment_transactions
       set status = v_norm.status,
           gateway_status = v_norm.gateway_status,
           iso20022_status = v_iso.code,
           iso20022_reason = v_iso.reason,
           failure_reason = coalesce(v_norm.reason, failure_reason)
     where id = v_tx.id;
    v_outcome := format('%s → %s (confirmed)', v_tx.status, v_norm.status);

    if v_new_charge then
      -- Money arrives once per charge: what the installment still needed, and overpayment.
      insert into paytrust_private.gateway_charges (transaction_id, gateway_charge_id, tenant_id, amount, webhook_event_id)
      values (v_tx.id, v_charge, v_tx.tenant_id, v_norm.paid_amount, v_event.id);
      v_due := greatest(v_installment.total - v_installment.paid_amount, 0);
      v_applied := least(v_norm.paid_amount, v_due);
      v_excess := v_norm.paid_amount - v_applied;
      update paytrust_public.payment_transactions
         set paid_amount = paid_amount + v_norm.paid_amount, paid_at = coalesce(paid_at, now())
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
                         'webhook_event_id', v_event.id, 'confirmed_by', 'status_api'));
  end if;

  update paytrust_public.webhook_events
     set status = 'processed', outcome = left(v_outcome, 300), processed_at = now(), attempts = attempts + 1,
         last_error = null
   where id = v_event.id;
  return v_outcome;
end;
$$ language plpgsql volatile;
comment on function paytrust_private.apply_webhook_event(bigint, jsonb) is
  'Applies a stored webhook event with what the gateway''s status API confirmed (webhook__process).';

-- The one-argument form takes the event's own payload as the gateway's
-- confirmed answer: for callers that confirmed it themselves (SQL tooling,
-- tests that play the worker). Only the owner and the runtime role can call
-- it; webhook__process never does: it always passes the status API's answer.
create or replace function paytrust_private.apply_webhook_event(p_webhook_event_id bigint) returns text as $$
  select paytrust_private.apply_webhook_event(p_webhook_event_id,
    (select e.payload from paytrust_public.webhook_events e where e.id = p_webhook_event_id));
$$ language sql volatile;
comment on function paytrust_private.apply_webhook_event(bigint) is
  'Applies a stored event taking its own payload as confirmed (tooling and tests; the worker confirms through the status API).';

-- ============================================================================
-- 3. Permanent failures and readable errors
-- ============================================================================

-- A notification that can never be applied (PTCCY, PTAMT, PTWHM, or its
-- retries exhausted): failed at once, with its code, in failedWebhooks.
create or replace function paytrust_private.fail_webhook_event(
  p_webhook_event_id bigint, p_code text, p_message text, p_attempt integer default null
) returns void as $$
declare
  v_error text := paytrust_private.webhook_error_text(p_code, p_message);
begin
  insert into paytrust_public.webhook_retry_log (webhook_event_id, attempt, max_attempts, error)
  select e.id, coalesce(p_attempt, e.attempts + 1), coalesce(p_attempt, e.attempts + 1), v_error
    from paytrust_public.webhook_events e where e.id = p_webhook_event_id and e.status = 'received';
  update paytrust_public.webhook_events
     set status = 'failed', attempts = coalesce(p_attempt, attempts + 1), last_error = v_error,
         outcome = left('failed: ' || v_error, 300)
   where id = p_webhook_event_id and status = 'received';
  if found then
    insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
    select 'webhook.failed', e.tenant_id, e.id::text, 'worker',
           jsonb_build_object('code', p_code, 'error', left(v_error, 200), 'permanent', true)
      from paytrust_public.webhook_events e where e.id = p_webhook_event_id;
  end if;
end;
$$ language plpgsql volatile;
comment on function paytrust_private.fail_webhook_event(bigint, text, text, integer) is
  'Marks a webhook event failed at once with a code and a short message (permanent errors, exhausted jobs).';

-- Every failure written with a code and a short message (the worker passes
-- "PTxxx: message"); anything else is replaced by a generic text.
create or replace function paytrust_private.record_webhook_failure(
  p_webhook_event_id bigint, p_attempt integer, p_max_attempts integer, p_error text
) returns void as $$
declare
  v_error text := case when p_error ~ '^PT[A-Z0-9]{3,10}: ' then left(p_error, 300)
                       else 'PTWHE: processing failed (details in the worker log)' end;
begin
  insert into paytrust_public.webhook_retry_log (webhook_event_id, attempt, max_attempts, error)
  values (p_webhook_event_id, p_attempt, p_max_attempts, v_error);
  update paytrust_public.webhook_events
     set attempts = p_attempt, last_error = v_error,
         status = case when p_attempt >= p_max_attempts then 'failed' else status end,
         outcome = case when p_attempt >= p_max_attempts then left('failed: ' || v_error, 300) else outcome end
   where id = p_webhook_event_id and status = 'received';
  if p_attempt >= p_max_attempts then
    insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
    select 'webhook.failed', e.tenant_id, e.id::text, 'worker', jsonb_build_object('attempts', p_attempt, 'error', left(v_error, 200))
      from paytrust_public.webhook_events e where e.id = p_webhook_event_id;
  end if;
end;
$$ language plpgsql volatile;

-- Failed events already stored with raw error text: rewritten to the code form.
update paytrust_public.webhook_events
   set last_error = 'PTWHE: processing failed (details in the worker log)'
 where last_error is not null and last_error !~ '^PT[A-Z0-9]{3,10}: ';

-- ============================================================================
-- 4. Refund notifications (Xendit refund callbacks)
-- ============================================================================

-- Stores a verified refund notification once and re-checks the refund through
-- the gateway's refund API (gateway__refund); the notification itself never
-- marks a refund succeeded. Unknown refunds are stored as ignored.
create or replace function paytrust_private.receive_refund_webhook(
  p_gateway text, p_event_id text, p_refund_external_id text, p_payload jsonb
) returns table (webhook_event_id bigint, duplicate boolean, known_refund boolean) as $$
declare
  v_refund_id uuid;
  v_tenant_id uuid;
  v_transaction_id uuid;
  v_refund_status text;
  v_id bigint;
begin
  select r.id, r.tenant_id, r.payment_transaction_id, r.status
    into v_refund_id, v_tenant_id, v_transaction_id, v_refund_status
    from paytrust_public.refunds r
   where r.external_id = p_refund_external_id and r.gateway = p_gateway;
  insert into paytrust_public.webhook_events (gateway, event_id, tenant_id, transaction_id, source, payload, status, outcome, processed_at)
  values (p_gateway, p_event_id, v_tenant_id, v_transaction_id, 'webhook', p_payload,
          case when v_refund_id is null then 'ignored' else 'processed' end,
          case when v_refund_id is null then 'unknown refund'
               else 'refund notification: re-checked through the gateway''s refund API' end,
          now())
  on conflict on constraint webhook_events_dedup do nothing
  returning id into v_id;
  if v_id is null then
    return query select e.id, true, v_refund_id is not null from paytrust_public.webhook_events e
      where e.gateway = p_gateway and e.event_id = p_event_id and e.tenant_id is not distinct from v_tenant_id;
    return;
  end if;
  if v_refund_status = 'pending' then
    perform graphile_worker.add_job('gateway__refund', json_build_object('refundId', v_refund_id),
      job_key => 'gateway__refund:' || v_refund_id, job_key_mode => 'replace', max_attempts => 10);
  end if;
  return query select v_id, false, v_refund_id is not null;
end;
$$ language plpgsql volatile;
comment on function paytrust_private.receive_refund_webhook(text, text, text, jsonb) is
  'Stores a verified refund notification and queues gateway__refund to confirm it through the refund API.';

-- ============================================================================
-- 5. The sweeper: exhausted jobs are not alive
-- ============================================================================

-- A job is alive when it can still run: attempts left and not locked by a
-- worker that stopped answering. What an exhausted or dead job leaves behind
-- is re-queued (attempts left) or surfaced: a webhook event whose job ran out
-- of attempts is failed (failedWebhooks), an attempt whose gateway charge was
-- never created after every try is failed (the installment is free again).
create or replace function paytrust_private.sweep_stalled_work(p_stalled_after interval default interval '45 seconds')
returns table (kind text, subject text) as $$
declare
  v_row record;
begin
  for v_row in
    select e.id,
           exists (select 1 from graphile_worker.jobs j
                    where j.key = 'webhook__process:' || e.id and j.attempts >= j.max_attempts) as exhausted,
           (select max(j.attempts) from graphile_worker.jobs j where j.key = 'webhook__process:' || e.id) as attempts
      from paytrust_public.webhook_events e
     where e.status = 'received' and e.transaction_id is not null and e.received_at < now() - p_stalled_after
       and not exists (select 1 from graphile_worker.jobs j
                        where j.key = 'webhook__process:' || e.id and j.attempts < j.max_attempts
                          and (j.locked_at is null or j.locked_at > now() - p_stalled_after))
  loop
    if v_row.exhausted then
      perform paytrust_private.fail_webhook_event(v_row.id, 'PTWHX',
        'processing attempts exhausted without an answer', v_row.attempts);
      kind := 'webhook_event_failed';
    else
      perform graphile_worker.add_job('webhook__process', json_build_object('webhookEventId', v_row.id),
        job_key => 'webhook__process:' || v_row.id, job_key_mode => 'replace', max_attempts => 10);
      kind := 'webhook_event';
    end if;
    subject := v_row.id::text;
    return next;
  end loop;
  for v_row in
    select t.id,
           exists (select 1 from graphile_worker.jobs j
                    where j.key = 'gateway__create_payment:' || t.id and j.attempts >= j.max_attempts) as exhausted
      from paytrust_public.payment_transactions t
     where t.status = 'pending' and t.gateway_reference is null and t.created_at < now() - p_stalled_after
       and not exists (select 1 from graphile_worker.jobs j
                        where j.key = 'gateway__create_payment:' || t.id and j.attempts < j.max_attempts
                          and (j.locked_at is null or j.locked_at > now() - p_stalled_after))
  loop
    if v_row.exhausted then
      perform paytrust_private.fail_payment_transaction(v_row.id,
        'PTWHX: the gateway charge could not be created (every attempt used)');
      kind := 'payment_transaction_failed';
    else
      perform graphile_worker.add_job('gateway__create_payment', json_build_object('transactionId', v_row.id),
        job_key => 'gateway__create_payment:' || v_row.id, job_key_mode => 'replace', max_attempts => 8);
      kind := 'payment_transaction';
    end if;
    subject := v_row.id::text;
    return next;
  end loop;
end;
$$ language plpgsql volatile;
comment on function paytrust_private.sweep_stalled_work(interval) is
  'Re-queues work a dead worker left; fails (and so lists) what exhausted jobs left behind (maintenance__sweep_stalled).';
