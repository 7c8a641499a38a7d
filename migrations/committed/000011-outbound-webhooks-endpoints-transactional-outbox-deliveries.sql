--! Previous: sha1:f3dc8b2a5b6e2ad629f08fa4d8eea45411f5bb62
--! Hash: sha1:fa5399c965daaaeeed75f815f69140ca35eceb9f
--! Message: Outbound webhooks: endpoints, transactional outbox, deliveries

--! split: 300-merchant-webhooks.sql
--
-- Outbound webhooks (a transactional outbox) and live-status notifications:
--   paytrust_public.webhook_endpoints          the tenant's receivers (RLS; written through functions)
--   paytrust_private.webhook_endpoint_secrets  signing secrets (never readable by tenants)
--   paytrust_public.outbound_events            one row per event, written in the transaction of the change
--   paytrust_public.webhook_deliveries         one row per delivery attempt (webhookDeliveries)
--   paytrust_private.emit_event(tenant_id, type, data) → event id: the one entry point (refunds call it too)
-- and pg_notify('invoice:<id>' / 'payment_transaction:<id>', id) for GraphQL subscriptions.

-- ============================================================================
-- 1. Endpoints and their secrets
-- ============================================================================

-- The event types a tenant can subscribe to ('*' = all of them).
create or replace function paytrust_public.webhook_event_types() returns text[] as $$
  select array['invoice.paid', 'invoice.partially_paid', 'invoice.overpaid', 'invoice.cancelled',
               'payment.succeeded', 'payment.failed', 'payment.expired',
               'refund.succeeded', 'refund.failed']::text[];
$$ language sql immutable;
grant execute on function paytrust_public.webhook_event_types() to paytrust_tenant, paytrust_admin;
comment on function paytrust_public.webhook_event_types() is
  E'The event types a webhook endpoint can subscribe to (eventTypes may also be ["*"] for all).';

create table if not exists paytrust_public.webhook_endpoints (
  id              uuid primary key default gen_random_uuid(),
  tenant_id       uuid not null default paytrust_public.current_tenant_id()
                    references paytrust_public.tenants on delete cascade,
  url             text not null check (length(url) between 8 and 2048),
  event_types     text[] not null check (cardinality(event_types) between 1 and 20),
  enabled         boolean not null default true,
  description     text check (length(description) <= 500),
  -- first failure since the last success; an endpoint failing for 3 days is disabled
  failing_since   timestamptz,
  disabled_at     timestamptz,
  disabled_reason text check (length(disabled_reason) <= 500),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
create index if not exists webhook_endpoints_tenant_idx on paytrust_public.webhook_endpoints (tenant_id);
alter table paytrust_public.webhook_endpoints enable row level security;
drop policy if exists select_own on paytrust_public.webhook_endpoints;
create policy select_own on paytrust_public.webhook_endpoints for select
  using (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists write_own on paytrust_public.webhook_endpoints;
create policy write_own on paytrust_public.webhook_endpoints for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
-- Writes go through the functions below (they validate URLs and event types).
revoke all on paytrust_public.webhook_endpoints from paytrust_tenant;
grant select (id, tenant_id, url, event_types, enabled, description, failing_since, disabled_at,
              disabled_reason, created_at, updated_at)
  on paytrust_public.webhook_endpoints to paytrust_tenant;
comment on table paytrust_public.webhook_endpoints is
  E'@behavior -insert -update -delete\nA URL of the merchant''s that receives signed event notifications (docs/webhooks.md).';
comment on column paytrust_public.webhook_endpoints.event_types is
  E'The event types delivered to this endpoint (see webhookEventTypes), or ["*"] for all.';
comment on column paytrust_public.webhook_endpoints.failing_since is
  E'When deliveries started failing (null while they succeed). After 3 days of failures the endpoint is disabled.';
comment on column paytrust_public.webhook_endpoints.disabled_reason is
  E'Why PayTrust disabled the endpoint (null when enabled or disabled by the merchant).';
drop trigger if exists _100_timestamps on paytrust_public.webhook_endpoints;
create trigger _100_timestamps before insert or update on paytrust_public.webhook_endpoints
  for each row execute procedure paytrust_private.tg__timestamps();

create table if not exists paytrust_private.webhook_endpoint_secrets (
  id          bigint primary key generated always as identity,
  endpoint_id uuid not null references paytrust_public.webhook_endpoints on delete cascade,
  secret      text not null,
  created_at  timestamptz not null default now(),
  -- null: current; otherwise the end of a rotation's grace period
  expires_at  timestamptz
);
create index if not exists webhook_endpoint_secrets_endpoint_idx
  on paytrust_private.webhook_endpoint_secrets (endpoint_id);

create or replace function paytrust_private.new_webhook_secret() returns text as $$
  select 'whsec_' || encode(public.gen_random_bytes(32), 'hex');
$$ language sql volatile;

-- Basic shape checks; DNS and address checks (private, loopback, link-local)
-- are done by the API and again at every delivery (src/outbound/urlPolicy.ts).
create or replace function paytrust_private.check_webhook_endpoint(p_url text, p_event_types text[])
returns void as $$
begin
  if p_url is null or length(p_url) > 2048 or p_url !~ '^https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?([/?][^\s]*)?$'
     or p_url ~ '[\s\x00-\x1f]' then
    raise exception 'Webhook URL must be an absolute http(s) URL without credentials (at most 2048 characters)'
      using errcode = 'PTURL';
  end if;
  if p_event_types is null or cardinality(p_event_types) = 0 or cardinality(p_event_types) > 20
     or array_position(p_event_types, null) is not null
     or not (p_event_types <@ (paytrust_public.webhook_event_types() || '*'::text)) then
    raise exception 'Unknown webhook event type in % (use %, or *)', p_event_types,
      array_to_string(paytrust_public.webhook_event_types(), ', ') using errcode = 'PTEVT';
  end if;
end;
$$ language plpgsql immutable;

-- Called by the createWebhookEndpoint mutation (src/plugins/webhookEndpoints.ts,
-- which validates the URL's addresses first); returns the secret once.
create or replace function paytrust_public.create_webhook_endpoint(
  url text, event_types text[], description text default null, out id uuid, out secret text
) as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
begin
  perform paytrust_private.check_webhook_endpoint(create_webhook_endpoint.url, create_webhook_endpoint.event_types);
  if (select count(*) from paytrust_public.webhook_endpoints e where e.tenant_id = v_tenant) >= 20 then
    raise exception 'A tenant can have at most 20 webhook endpoints' using errcode = 'PTVAL';
  end if;
  insert into paytrust_public.webhook_endpoints (tenant_id, url, event_types, description)
  values (v_tenant, create_webhook_endpoint.url,
          array(select distinct unnest(create_webhook_endpoint.event_types) order by 1),
          create_webhook_endpoint.description)
  returning webhook_endpoints.id into id;
  secret := paytrust_private.new_webhook_secret();
  insert into paytrust_private.webhook_endpoint_secrets (endpoint_id, secret) values (id, secret);
  perform paytrust_private.audit('webhook_endpoint.create', id::text,
    jsonb_build_object('url', create_webhook_endpoint.url, 'event_types', create_webhook_endpoint.event_types));
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.create_webhook_endpoint(text, text[], text) to paytrust_tenant;
comment on function paytrust_public.create_webhook_endpoint(text, text[], text) is
  E'@behavior -*\nUsed by the createWebhookEndpoint mutation.';

-- Null arguments keep the current value. Re-enabling clears the failure state.
create or replace function paytrust_public.update_webhook_endpoint(
  id uuid, url text default null, event_types text[] default null, enabled boolean default null,
  description text default null
) returns paytrust_public.webhook_endpoints as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_endpoint paytrust_public.webhook_endpoints;
begin
  select * into v_endpoint from paytrust_public.webhook_endpoints e
   where e.id = update_webhook_endpoint.id and e.tenant_id = v_tenant for update;
  if not found then
    raise exception 'Webhook endpoint % not found', update_webhook_endpoint.id using errcode = 'PTNFD';
  end if;
  perform paytrust_private.check_webhook_endpoint(coalesce(update_webhook_endpoint.url, v_endpoint.url),
    coalesce(update_webhook_endpoint.event_types, v_endpoint.event_types));
  update paytrust_public.webhook_endpoints e
     set url = coalesce(update_webhook_endpoint.url, e.url),
         event_types = case when update_webhook_endpoint.event_types is null then e.event_types
                            else array(select distinct unnest(update_webhook_endpoint.event_types) order by 1) end,
         description = coalesce(update_webhook_endpoint.description, e.description),
         enabled = coalesce(update_webhook_endpoint.enabled, e.enabled),
         failing_since = case when update_webhook_endpoint.enabled and not e.enabled then null else e.failing_since end,
         disabled_at = case when update_webhook_endpoint.enabled then null
                            when update_webhook_endpoint.enabled = false and e.enabled then now()
                            else e.disabled_at end,
         disabled_reason = case when update_webhook_endpoint.enabled is not null then null else e.disabled_reason end
   where e.id = v_endpoint.id
   returning * into v_endpoint;
  perform paytrust_private.audit('webhook_endpoint.update', v_endpoint.id::text,
    jsonb_strip_nulls(jsonb_build_object('url', update_webhook_endpoint.url, 'event_types', update_webhook_endpoint.event_types,
                                         'enabled', update_webhook_endpoint.enabled)));
  return v_endpoint;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.update_webhook_endpoint(uuid, text, text[], boolean, text) to paytrust_tenant;
comment on function paytrust_public.update_webhook_endpoint(uuid, text, text[], boolean, text) is
  E'@behavior -*\nUsed by the updateWebhookEndpoint mutation.';

-- A new secret; the old ones stay valid for grace_seconds (deliveries carry one v1= signature per valid secret).
create or replace function paytrust_public.rotate_webhook_endpoint_secret(
  id uuid, grace_seconds integer default 86400, out secret text
) as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
begin
  perform 1 from paytrust_public.webhook_endpoints e
   where e.id = rotate_webhook_endpoint_secret.id and e.tenant_id = v_tenant for update;
  if not found then
    raise exception 'Webhook endpoint % not found', rotate_webhook_endpoint_secret.id using errcode = 'PTNFD';
  end if;
  if grace_seconds is null or grace_seconds < 0 or grace_seconds > 7 * 86400 then
    raise exception 'graceSeconds must be between 0 and 604800' using errcode = 'PTVAL';
  end if;
  update paytrust_private.webhook_endpoint_secrets s
     set expires_at = least(coalesce(s.expires_at, 'infinity'), now() + make_interval(secs => grace_seconds))
   where s.endpoint_id = rotate_webhook_endpoint_secret.id;
  delete from paytrust_private.webhook_endpoint_secrets s
   where s.endpoint_id = rotate_webhook_endpoint_secret.id and s.expires_at <= now();
  secret := paytrust_private.new_webhook_secret();
  insert into paytrust_private.webhook_endpoint_secrets (endpoint_id, secret)
  values (rotate_webhook_endpoint_secret.id, secret);
  perform paytrust_private.audit('webhook_endpoint.rotate_secret', rotate_webhook_endpoint_secret.id::text,
    jsonb_build_object('grace_seconds', grace_seconds));
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.rotate_webhook_endpoint_secret(uuid, integer) to paytrust_tenant;
comment on function paytrust_public.rotate_webhook_endpoint_secret(uuid, integer) is
  E'@behavior -*\nUsed by the rotateWebhookEndpointSecret mutation.';

create or replace function paytrust_public.delete_webhook_endpoint(id uuid) returns paytrust_public.webhook_endpoints as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_endpoint paytrust_public.webhook_endpoints;
begin
  delete from paytrust_public.webhook_endpoints e
   where e.id = delete_webhook_endpoint.id and e.tenant_id = v_tenant
   returning * into v_endpoint;
  if not found then
    raise exception 'Webhook endpoint % not found', delete_webhook_endpoint.id using errcode = 'PTNFD';
  end if;
  perform paytrust_private.audit('webhook_endpoint.delete', v_endpoint.id::text, jsonb_build_object('url', v_endpoint.url));
  return v_endpoint;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.delete_webhook_endpoint(uuid) to paytrust_tenant;
comment on function paytrust_public.delete_webhook_endpoint(uuid) is
  E'@resultFieldName webhookEndpoint\nDeletes a webhook endpoint; pending deliveries to it stop. Its delivery log stays (without the endpoint).';

-- ============================================================================
-- 2. The outbox: events and delivery attempts
-- ============================================================================

create table if not exists paytrust_public.outbound_events (
  id         uuid primary key default gen_random_uuid(),
  tenant_id  uuid not null references paytrust_public.tenants on delete cascade,
  type       text not null check (length(type) between 1 and 100),
  -- a snapshot of the object at the time of the change (camelCase, money as strings)
  data       jsonb not null,
  created_at timestamptz not null default now()
);
create index if not exists outbound_events_tenant_created_idx on paytrust_public.outbound_events (tenant_id, created_at desc);
alter table paytrust_public.outbound_events enable row level security;
drop policy if exists select_own on paytrust_public.outbound_events;
create policy select_own on paytrust_public.outbound_events for select
  using (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists write_own on paytrust_public.outbound_events;
create policy write_own on paytrust_public.outbound_events for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
revoke all on paytrust_public.outbound_events from paytrust_tenant;
grant select (id, tenant_id, type, data, created_at) on paytrust_public.outbound_events to paytrust_tenant;
comment on table paytrust_public.outbound_events is
  E'@behavior -insert -update -delete\nAn event delivered to the tenant''s webhook endpoints (written in the transaction of the change it reports).';
comment on column paytrust_public.outbound_events.data is E'The object the event is about, as it was when the event happened.';

create table if not exists paytrust_public.webhook_deliveries (
  id            bigint primary key generated always as identity,
  tenant_id     uuid not null references paytrust_public.tenants on delete cascade,
  event_id      uuid not null references paytrust_public.outbound_events on delete cascade,
  endpoint_id   uuid references paytrust_public.webhook_endpoints on delete set null,
  url           text not null,
  attempt       integer not null check (attempt >= 1),
  status        text not null check (status in ('succeeded', 'failed')),
  status_code   integer,
  duration_ms   integer,
  error         text check (length(error) <= 1000),
  -- the first 4 KB of the receiver's answer
  response_body text check (length(response_body) <= 4096),
  created_at    timestamptz not null default now()
);
create index if not exists webhook_deliveries_tenant_created_idx on paytrust_public.webhook_deliveries (tenant_id, created_at desc);
create index if not exists webhook_deliveries_event_idx on paytrust_public.webhook_deliveries (event_id);
create index if not exists webhook_deliveries_endpoint_idx on paytrust_public.webhook_deliveries (endpoint_id);
alter table paytrust_public.webhook_deliveries enable row level security;
drop policy if exists select_own on paytrust_public.webhook_deliveries;
create policy select_own on paytrust_public.webhook_deliveries for select
  using (tenant_id = (select paytrust_public.current_tenant_id()));
drop policy if exists write_own on paytrust_public.webhook_deliveries;
create policy write_own on paytrust_public.webhook_deliveries for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
revoke all on paytrust_public.webhook_deliveries from paytrust_tenant;
grant select (id, tenant_id, event_id, endpoint_id, url, attempt, status, status_code, duration_ms, error,
              response_body, created_at)
  on paytrust_public.webhook_deliveries to paytrust_tenant;
comment on table paytrust_public.webhook_deliveries is
  E'@behavior -insert -update -delete\nOne attempt to deliver an event to an endpoint: HTTP status, duration, error.';
comment on column paytrust_public.webhook_deliveries.duration_ms is E'How long the receiver took to answer, in milliseconds.';
comment on column paytrust_public.webhook_deliveries.response_body is E'The first 4 KB of the receiver''s answer.';
comment on constraint webhook_deliveries_event_id_fkey on paytrust_public.webhook_deliveries is
  E'@fieldName event\n@foreignFieldName deliveries';
comment on constraint webhook_deliveries_endpoint_id_fkey on paytrust_public.webhook_deliveries is
  E'@fieldName endpoint\n@foreignFieldName deliveries';

-- Queues one delivery job for (event, endpoint). job_key_mode replace: a
-- redelivery or retry supersedes a waiting job for the same pair.
create or replace function paytrust_private.queue_webhook_delivery(
  p_event_id uuid, p_endpoint_id uuid, p_attempt integer, p_run_at timestamptz default now()
) returns void as $$
begin
  perform graphile_worker.add_job(
    'webhook__deliver',
    json_build_object('eventId', p_event_id, 'endpointId', p_endpoint_id, 'attempt', p_attempt),
    run_at => p_run_at,
    job_key => 'webhook__deliver:' || p_event_id || ':' || p_endpoint_id,
    job_key_mode => 'replace',
    -- the task records failures itself and schedules the next attempt; these
    -- retries only cover the task crashing (database errors)
    max_attempts => 5
  );
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- THE entry point for events (refunds call it from their own SQL): writes the
-- event and queues one job per enabled endpoint subscribed to the type, in
-- the caller's transaction. Returns the event id.
create or replace function paytrust_private.emit_event(p_tenant_id uuid, p_type text, p_data jsonb)
returns uuid as $$
declare
  v_id uuid := gen_random_uuid();
  v_endpoint record;
begin
  if not (p_type = any (paytrust_public.webhook_event_types())) then
    raise exception 'Unknown event type %', p_type using errcode = 'PTEVT';
  end if;
  insert into paytrust_public.outbound_events (id, tenant_id, type, data)
  values (v_id, p_tenant_id, p_type, coalesce(p_data, '{}'));
  for v_endpoint in
    select e.id from paytrust_public.webhook_endpoints e
     where e.tenant_id = p_tenant_id and e.enabled
       and (p_type = any (e.event_types) or '*' = any (e.event_types))
  loop
    perform paytrust_private.queue_webhook_delivery(v_id, v_endpoint.id, 1);
  end loop;
  return v_id;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.emit_event(uuid, text, jsonb) is
  'Writes an outbound event (transactional outbox) and queues its deliveries; returns the event id.';

-- The event payloads' "data": snapshots in the API's field names.
create or replace function paytrust_private.invoice_event_data(p paytrust_public.invoices) returns jsonb as $$
  select jsonb_build_object(
    'object', 'invoice', 'id', p.id, 'status', p.status, 'currency', p.currency, 'gateway', p.gateway,
    'subtotal', p.subtotal::text, 'taxTotal', p.tax_total::text, 'serviceFee', p.service_fee::text,
    'total', p.total::text, 'amountPaid', p.amount_paid::text, 'overpaymentAmount', p.overpayment_amount::text,
    'installmentCount', p.installment_count, 'externalRef', p.external_ref, 'parentInvoiceId', p.parent_invoice_id,
    'dueDate', p.due_date, 'paidAt', p.paid_at, 'cancelledAt', p.cancelled_at,
    'createdAt', p.created_at, 'updatedAt', p.updated_at);
$$ language sql stable;

create or replace function paytrust_private.payment_transaction_event_data(p paytrust_public.payment_transactions)
returns jsonb as $$
  select jsonb_build_object(
    'object', 'payment_transaction', 'id', p.id, 'invoiceId', p.invoice_id, 'installmentNumber', p.installment_number,
    'status', p.status, 'gateway', p.gateway, 'currency', p.currency, 'amount', p.amount::text,
    'paidAmount', p.paid_amount::text, 'externalId', p.external_id, 'gatewayReference', p.gateway_reference,
    'failureReason', p.failure_reason, 'iso20022Status', p.iso20022_status, 'paidAt', p.paid_at,
    'createdAt', p.created_at, 'updatedAt', p.updated_at);
$$ language sql stable;

-- ============================================================================
-- 3. Triggers: events and notifications in the transaction of the change
-- ============================================================================

create or replace function paytrust_private.tg_invoices__events() returns trigger as $$
begin
  if new.status is distinct from old.status and new.status in ('paid', 'cancelled') then
    perform paytrust_private.emit_event(new.tenant_id, 'invoice.' || new.status, paytrust_private.invoice_event_data(new));
  elsif new.status = 'partially_paid' and (old.status <> 'partially_paid' or new.amount_paid > old.amount_paid) then
    perform paytrust_private.emit_event(new.tenant_id, 'invoice.partially_paid', paytrust_private.invoice_event_data(new));
  end if;
  if new.overpayment_amount > old.overpayment_amount then
    perform paytrust_private.emit_event(new.tenant_id, 'invoice.overpaid', paytrust_private.invoice_event_data(new));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _900_events on paytrust_public.invoices;
create trigger _900_events after update on paytrust_public.invoices
  for each row
  when (old.status is distinct from new.status or old.amount_paid is distinct from new.amount_paid
        or old.overpayment_amount is distinct from new.overpayment_amount)
  execute procedure paytrust_private.tg_invoices__events();

-- payment.succeeded fires when the money is recorded (paid_at set once, on the
-- first transition into paid/settled), so its data carries paidAmount.
create or replace function paytrust_private.tg_payment_transactions__events() returns trigger as $$
begin
  if old.paid_at is null and new.paid_at is not null then
    perform paytrust_private.emit_event(new.tenant_id, 'payment.succeeded', paytrust_private.payment_transaction_event_data(new));
  end if;
  if new.status is distinct from old.status and new.status in ('failed', 'expired') then
    perform paytrust_private.emit_event(new.tenant_id, 'payment.' || new.status, paytrust_private.payment_transaction_event_data(new));
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _900_events on paytrust_public.payment_transactions;
create trigger _900_events after update on paytrust_public.payment_transactions
  for each row
  when (old.status is distinct from new.status or old.paid_at is distinct from new.paid_at)
  execute procedure paytrust_private.tg_payment_transactions__events();

-- Live status: a per-row topic carrying only the id (the subscriber reads the
-- row under its own role and claims, so RLS decides what it sees).
create or replace function paytrust_private.tg__notify_row() returns trigger as $$
begin
  perform pg_notify(tg_argv[0] || ':' || new.id, new.id::text);
  if tg_table_name = 'payment_transactions' then
    perform pg_notify('invoice:' || new.invoice_id, new.invoice_id::text);
  end if;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
-- Updates only: nobody can be subscribed to a row before its insert commits
-- (its id is first known then), and a NOTIFY in createInvoice would take the
-- cluster-wide notify queue lock at commit while the tenant's invoice counter
-- row is still locked.
drop trigger if exists _910_notify on paytrust_public.invoices;
create trigger _910_notify after update on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg__notify_row('invoice');
drop trigger if exists _910_notify on paytrust_public.payment_transactions;
create trigger _910_notify after update on paytrust_public.payment_transactions
  for each row execute procedure paytrust_private.tg__notify_row('payment_transaction');

-- ============================================================================
-- 4. What the webhook__deliver task reads and writes
-- ============================================================================

-- Everything one delivery needs, or null when there is nothing to deliver
-- (endpoint deleted or disabled, event gone).
create or replace function paytrust_private.webhook_delivery_request(p_event_id uuid, p_endpoint_id uuid)
returns jsonb as $$
  select jsonb_build_object(
    'eventId', ev.id, 'type', ev.type, 'createdAt', ev.created_at, 'data', ev.data,
    'url', ep.url, 'tenantId', ev.tenant_id,
    'secrets', coalesce((select jsonb_agg(s.secret order by s.created_at desc, s.id desc)
                           from paytrust_private.webhook_endpoint_secrets s
                          where s.endpoint_id = ep.id and (s.expires_at is null or s.expires_at > now())), '[]'))
    from paytrust_public.outbound_events ev
    join paytrust_public.webhook_endpoints ep on ep.tenant_id = ev.tenant_id
   where ev.id = p_event_id and ep.id = p_endpoint_id and ep.enabled;
$$ language sql stable;

-- Records one attempt. On failure: marks the endpoint failing, disables it
-- (with an audit row) once it has failed for 3 days, otherwise queues the
-- next attempt after p_retry_in_seconds while the event is younger than 3
-- days. Returns 'delivered', 'retry', 'gave_up', 'disabled' or 'gone'.
create or replace function paytrust_private.record_webhook_delivery(
  p_event_id uuid, p_endpoint_id uuid, p_attempt integer, p_succeeded boolean, p_status_code integer,
  p_duration_ms integer, p_error text, p_response_body text, p_retry_in_seconds integer
) returns text as $$
declare
  v_endpoint paytrust_public.webhook_endpoints;
  v_event paytrust_public.outbound_events;
begin
  select * into v_event from paytrust_public.outbound_events where id = p_event_id;
  select * into v_endpoint from paytrust_public.webhook_endpoints where id = p_endpoint_id for update;
  if v_event.id is null or v_endpoint.id is null then
    return 'gone';
  end if;
  insert into paytrust_public.webhook_deliveries
    (tenant_id, event_id, endpoint_id, url, attempt, status, status_code, duration_ms, error, response_body)
  values (v_event.tenant_id, v_event.id, v_endpoint.id, v_endpoint.url, p_attempt,
          case when p_succeeded then 'succeeded' else 'failed' end, p_status_code, p_duration_ms,
          left(p_error, 1000), left(p_response_body, 4096));
  if p_succeeded then
    update paytrust_public.webhook_endpoints set failing_since = null
     where id = v_endpoint.id and failing_since is not null;
    return 'delivered';
  end if;
  update paytrust_public.webhook_endpoints set failing_since = coalesce(failing_since, now())
   where id = v_endpoint.id returning * into v_endpoint;
  if v_endpoint.failing_since <= now() - interval '3 days' then
    if v_endpoint.enabled then
      update paytrust_public.webhook_endpoints
         set enabled = false, disabled_at = now(), disabled_reason = 'Deliveries failed for 3 days'
       where id = v_endpoint.id;
      insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
      values ('webhook_endpoint.disabled', v_endpoint.tenant_id, v_endpoint.id::text, 'worker',
              jsonb_build_object('url', v_endpoint.url, 'failing_since', v_endpoint.failing_since,
                                 'last_error', left(coalesce(p_error, 'HTTP ' || p_status_code), 200)));
    end if;
    return 'disabled';
  end if;
  if not v_endpoint.enabled or p_retry_in_seconds is null or v_event.created_at <= now() - interval '3 days' then
    return 'gave_up';
  end if;
  -- The last attempt lands at the end of the 3 days (counted from the event, or from the
  -- endpoint's first failure if later), so an endpoint failing throughout is disabled by it.
  perform paytrust_private.queue_webhook_delivery(v_event.id, v_endpoint.id, p_attempt + 1,
    least(now() + make_interval(secs => p_retry_in_seconds),
          greatest(v_event.created_at, v_endpoint.failing_since) + interval '3 days'));
  return 'retry';
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- Sends an event again (same id) to every enabled endpoint subscribed to its type.
create or replace function paytrust_public.redeliver_webhook_event(id uuid) returns paytrust_public.outbound_events as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_event paytrust_public.outbound_events;
  v_endpoint record;
begin
  select * into v_event from paytrust_public.outbound_events ev
   where ev.id = redeliver_webhook_event.id and ev.tenant_id = v_tenant;
  if not found then
    raise exception 'Event % not found', redeliver_webhook_event.id using errcode = 'PTNFD';
  end if;
  for v_endpoint in
    select e.id, coalesce((select max(d.attempt) from paytrust_public.webhook_deliveries d
                            where d.event_id = v_event.id and d.endpoint_id = e.id), 0) + 1 as attempt
      from paytrust_public.webhook_endpoints e
     where e.tenant_id = v_tenant and e.enabled
       and (v_event.type = any (e.event_types) or '*' = any (e.event_types))
  loop
    perform paytrust_private.queue_webhook_delivery(v_event.id, v_endpoint.id, v_endpoint.attempt);
  end loop;
  perform paytrust_private.audit('webhook_event.redeliver', v_event.id::text, jsonb_build_object('type', v_event.type));
  return v_event;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.redeliver_webhook_event(uuid) to paytrust_tenant;
comment on function paytrust_public.redeliver_webhook_event(uuid) is
  E'@resultFieldName outboundEvent\nDelivers an event again, under the same id, to every enabled endpoint subscribed to its type.';

-- Recovery: a worker killed mid-delivery leaves its job locked (graphile-worker
-- frees such locks only after hours). Re-queues deliveries whose job has been
-- locked longer than p_stalled_after (at least 2 minutes, beyond any delivery
-- timeout); a duplicate is harmless (receivers de-duplicate on the event id).
-- For the sweeper (maintenance__sweep_stalled). Returns how many were re-queued.
create or replace function paytrust_private.sweep_stalled_webhook_deliveries(
  p_stalled_after interval default interval '2 minutes'
) returns integer as $$
declare
  v_row record;
  v_count integer := 0;
begin
  for v_row in
    select split_part(j.key, ':', 2)::uuid as event_id, split_part(j.key, ':', 3)::uuid as endpoint_id
      from graphile_worker.jobs j
     where j.task_identifier = 'webhook__deliver'
       and j.key ~ '^webhook__deliver:[0-9a-f-]{36}:[0-9a-f-]{36}$'
       and j.locked_at < now() - greatest(p_stalled_after, interval '2 minutes')
  loop
    perform paytrust_private.queue_webhook_delivery(v_row.event_id, v_row.endpoint_id,
      coalesce((select max(d.attempt) from paytrust_public.webhook_deliveries d
                 where d.event_id = v_row.event_id and d.endpoint_id = v_row.endpoint_id), 0) + 1);
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
