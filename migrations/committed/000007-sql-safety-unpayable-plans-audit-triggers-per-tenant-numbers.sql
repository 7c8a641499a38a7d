--! Previous: sha1:edf014d49db4e3b6e2f379c826415d7e0078224e
--! Hash: sha1:62007daad794fb53a820e699c016ea0f8289fa7d
--! Message: SQL safety: unpayable plans, audit triggers, per-tenant numbers, analyst limits, runtime role

--! split: 100-sql-safety.sql
-- Issue 14, items 7 (unpayable plans), 8 (audit in SQL), 9 (per-tenant invoice
-- numbers), 10 (analyst logins), 13 (least privilege at run time).
-- Roles (created by `paytrust migrate`, src/db/bootstrap.ts ensureRoles):
--   paytrust_runtime (LOGIN, BYPASSRLS, not the owner): worker, webhook
--   receivers, /pay/:id, key lookups. It can read and write rows, never DDL.

-- ============================================================================
-- 7. Unpayable plans are refused: no installment may total 0
--    (in the split itself, so create_invoice, supplementary invoices and any
--    re-split refuse alike; an attempt's amount must be >= 1)
-- ============================================================================

create or replace function paytrust_public.split_installments(
  subtotal bigint, tax_total bigint, service_fee bigint, weights numeric[]
) returns table (number integer, principal bigint, tax_amount bigint, fee_amount bigint, total bigint) as $$
declare
  v_count integer := coalesce(array_length(weights, 1), 0);
  v_sum numeric;
  v_principal_left bigint := subtotal;
  v_tax_left bigint := tax_total;
  v_fee_left bigint := service_fee;
  i integer;
begin
  if v_count < 1 or v_count > 12 then
    raise exception 'An invoice has 1 to 12 installments, not %', v_count using errcode = 'PTINS';
  end if;
  if exists (select 1 from unnest(weights) w where w is null or w <= 0 or w = 'NaN'::numeric or w = 'Infinity'::numeric) then
    raise exception 'Installment weights must all be positive' using errcode = 'PTWGT';
  end if;
  select sum(w) into v_sum from unnest(weights) w;
  for i in 1 .. v_count loop
    number := i;
    if i < v_count then
      -- div() truncates exactly; '/' would first round to numeric's display precision.
      principal := paytrust_public.round_minor(div(subtotal * weights[i], v_sum), 'down');
      tax_amount := paytrust_public.round_minor(div(tax_total * weights[i], v_sum), 'down');
      fee_amount := paytrust_public.round_minor(div(service_fee * weights[i], v_sum), 'down');
    else
      principal := v_principal_left;
      tax_amount := v_tax_left;
      fee_amount := v_fee_left;
    end if;
    v_principal_left := v_principal_left - principal;
    v_tax_left := v_tax_left - tax_amount;
    v_fee_left := v_fee_left - fee_amount;
    total := principal + tax_amount + fee_amount;
    -- A payment attempt needs at least 1 minor unit: a 0 installment could never be paid.
    if total = 0 then
      raise exception 'Installment % of % would total 0 and could never be paid: use fewer installments or other installmentWeights',
        i, v_count using errcode = 'PTWGT';
    end if;
    return next;
  end loop;
end;
$$ language plpgsql immutable parallel safe;

-- ============================================================================
-- 9. Per-tenant invoice numbers: 1, 2, 3… per tenant (reference follows).
--    One counter row per tenant, bumped by an upsert: concurrent invoices of
--    one tenant queue on that row only, other tenants never wait.
-- ============================================================================

create table if not exists paytrust_private.invoice_counters (
  tenant_id   uuid primary key references paytrust_public.tenants on delete cascade,
  last_number bigint not null check (last_number >= 1)
);
comment on table paytrust_private.invoice_counters is
  E'The last invoice number issued per tenant (trigger _050_number on invoices).';

alter table paytrust_public.invoices alter column number drop identity if exists;
-- Invoices that exist keep their numbers; the counters continue after them.
insert into paytrust_private.invoice_counters as c (tenant_id, last_number)
  select tenant_id, max(number) from paytrust_public.invoices group by tenant_id
  on conflict (tenant_id) do update set last_number = greatest(c.last_number, excluded.last_number);

do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint
                  where conname = 'invoices_tenant_number_key'
                    and conrelid = 'paytrust_public.invoices'::regclass) then
    alter table paytrust_public.invoices
      add constraint invoices_tenant_number_key unique (tenant_id, number);
  end if;
end;
$$;
alter table paytrust_public.invoices drop constraint if exists invoices_number_key;
comment on constraint invoices_tenant_number_key on paytrust_public.invoices is E'@behavior -*';

create or replace function paytrust_private.tg_invoices__number() returns trigger as $$
begin
  if tg_op = 'UPDATE' then
    new.number := old.number; -- a number, once issued, never changes
    return new;
  end if;
  insert into paytrust_private.invoice_counters as c (tenant_id, last_number)
  values (new.tenant_id, 1)
  on conflict (tenant_id) do update set last_number = c.last_number + 1
  returning c.last_number into new.number;
  return new;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
drop trigger if exists _050_number on paytrust_public.invoices;
create trigger _050_number before insert or update of number on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg_invoices__number();

comment on column paytrust_public.invoices.number is
  E'The invoice''s number within its tenant: 1, 2, 3… (`reference` is INV- and this number).';

-- invoiceByNumber(number): the caller's own invoice with that number.
create or replace function paytrust_public.invoice_by_number(number bigint) returns paytrust_public.invoices as $$
  select i.* from paytrust_public.invoices i
   where i.tenant_id = paytrust_public.current_tenant_id() and i.number = invoice_by_number.number;
$$ language sql stable strict;
grant execute on function paytrust_public.invoice_by_number(bigint) to paytrust_tenant;
comment on function paytrust_public.invoice_by_number(bigint) is
  E'Your invoice with this number (numbers count 1, 2, 3… per tenant), or null.';

-- ============================================================================
-- 8. Audit every critical change in SQL: a trigger, so no path skips it.
--    Rows go to the append-only paytrust_public.audit_events (PTAUD), read by
--    admins with apiKeyAuditLogs (action = 'tenant.update', …). details:
--    {"old": {changed columns}, "new": {changed columns}, "db_user", "db_role"}.
--    Actor: the request's API key (paytrust.api_key_id) and role
--    (paytrust.role), else 'db:<session user>' for changes made in SQL.
-- ============================================================================

create or replace function paytrust_private.audit_change(
  p_action text, p_subject_id text, p_tenant_id uuid, p_old jsonb, p_new jsonb
) returns void as $$
  insert into paytrust_public.audit_events
    (action, api_key_id, tenant_id, actor_role, subject_id, ip, user_agent, details)
  values (
    p_action,
    paytrust_private.current_api_key_id(),
    p_tenant_id,
    coalesce(nullif(current_setting('paytrust.role', true), ''), 'db:' || session_user),
    p_subject_id,
    nullif(current_setting('paytrust.ip', true), '')::inet,
    left(nullif(current_setting('paytrust.user_agent', true), ''), 512),
    jsonb_build_object('old', p_old, 'new', p_new, 'db_user', session_user::text,
                       'db_role', coalesce(nullif(current_setting('role', true), ''), 'none'))
  );
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- Writes the audit row of one row change (p_old / p_new: the row images
-- without the omitted columns). An update that changes nothing writes no row.
create or replace function paytrust_private.audit_row_change(
  p_prefix text, p_op text, p_table text, p_old jsonb, p_new jsonb
) returns void as $$
declare
  v_row jsonb := coalesce(p_new, p_old);
  v_old_changes jsonb;
  v_new_changes jsonb;
begin
  select coalesce(jsonb_object_agg(k, p_old -> k), '{}'), coalesce(jsonb_object_agg(k, p_new -> k), '{}')
    into v_old_changes, v_new_changes
    from jsonb_object_keys(v_row) k
   where (p_old -> k) is distinct from (p_new -> k);
  if p_op = 'UPDATE' and v_new_changes = '{}' then
    return;
  end if;
  perform paytrust_private.audit_change(
    p_prefix || '.' || lower(p_op),
    case when p_table = 'gateway_configurations' then (v_row ->> 'gateway') || '/' || (v_row ->> 'currency')
         else v_row ->> 'id' end,
    case when p_table = 'tenants' then (v_row ->> 'id')::uuid else (v_row ->> 'tenant_id')::uuid end,
    case when p_op = 'INSERT' then null else v_old_changes end,
    case when p_op = 'DELETE' then null else v_new_changes end);
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- tg_argv[0]: the action's prefix ('tenant' → 'tenant.update'); tg_argv[1..]:
-- columns never recorded nor compared (timestamps, secret hashes).
create or replace function paytrust_private.tg__audit_change() returns trigger as $$
declare
  v_omit text[] := coalesce(tg_argv[1:], '{}');
begin
  perform paytrust_private.audit_row_change(tg_argv[0], tg_op, tg_table_name,
    case when tg_op <> 'INSERT' then to_jsonb(old) - v_omit end,
    case when tg_op <> 'DELETE' then to_jsonb(new) - v_omit end);
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- API keys: createApiKey, rotateApiKey and revokeApiKey already write their
-- own row (api_key.create / rotate / revoke, with the key's details). At
-- commit (deferred), a change such a row covers in this transaction (same
-- occurred_at = now()) is not written twice; every other change (CLI, SQL,
-- a future path) gets its api_key.insert / update / delete row.
create or replace function paytrust_private.tg_api_keys__audit_change() returns trigger as $$
declare
  v_id text := coalesce(new.id, old.id)::text;
begin
  if exists (select 1 from paytrust_public.audit_events e
              where e.occurred_at = now() and e.action like 'api_key.%' and not (e.details ? 'db_user')
                and (e.subject_id = v_id or e.details ->> 'new_api_key_id' = v_id)) then
    return null;
  end if;
  perform paytrust_private.audit_row_change('api_key', tg_op, tg_table_name,
    case when tg_op <> 'INSERT' then to_jsonb(old) - '{secret_hash,last_used_at}'::text[] end,
    case when tg_op <> 'DELETE' then to_jsonb(new) - '{secret_hash,last_used_at}'::text[] end);
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- Tenants: bank details, legal name, rate limit… (creation: 'tenant.create' by create_tenant).
drop trigger if exists _950_audit on paytrust_public.tenants;
create trigger _950_audit after update or delete on paytrust_public.tenants
  for each row execute procedure paytrust_private.tg__audit_change('tenant', 'updated_at', 'created_at');
-- Gateway fees and switches.
drop trigger if exists _950_audit on paytrust_public.gateway_configurations;
create trigger _950_audit after insert or update or delete on paytrust_public.gateway_configurations
  for each row execute procedure paytrust_private.tg__audit_change('gateway_configuration', 'updated_at');
-- Invoices: every update (edits, cancellation, payment progress) and delete
-- (creation: 'invoice.create' by create_invoice).
drop trigger if exists _950_audit on paytrust_public.invoices;
create trigger _950_audit after update or delete on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg__audit_change('invoice', 'updated_at', 'created_at', 'idempotency_hash');
-- API keys: issue, revoke, expiry, delete; never the hash; last_used_at alone is no change.
drop trigger if exists _950_audit on paytrust_private.api_keys;
create constraint trigger _950_audit after insert or update or delete on paytrust_private.api_keys
  deferrable initially deferred
  for each row execute procedure paytrust_private.tg_api_keys__audit_change();

-- Tenants read the audit trail of their own invoices (Invoice.auditEvents);
-- admins read everything through apiKeyAuditLogs.
create or replace function paytrust_public.invoices_audit_events(invoice paytrust_public.invoices)
returns setof paytrust_public.audit_events as $$
  select e.* from paytrust_public.audit_events e
   where e.tenant_id = invoice.tenant_id and e.subject_id = invoice.id::text
     and e.tenant_id = paytrust_public.current_tenant_id()
     and e.action like 'invoice.%'
   order by e.occurred_at, e.id;
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.invoices_audit_events(paytrust_public.invoices) to paytrust_tenant;
comment on function paytrust_public.invoices_audit_events(paytrust_public.invoices) is
  E'The audit trail of this invoice, oldest first: creation, every change (old and new values) and cancellation.';
create index if not exists audit_events_subject_idx on paytrust_public.audit_events (subject_id, occurred_at);

-- ============================================================================
-- 13. Checks that used to trust a custom GUC. Anyone may SET any custom
--     setting (paytrust.*), so a setting alone proves nothing: it must also be
--     the table owner running (i.e. one of the owner's SECURITY DEFINER
--     functions set it). The runtime role is not the owner.
-- ============================================================================

create or replace function paytrust_private.is_table_owner(p_table regclass) returns boolean as $$
  select exists (select 1 from pg_catalog.pg_class c where c.oid = p_table and c.relowner = (
    select r.oid from pg_catalog.pg_roles r where r.rolname = current_user));
$$ language sql stable;

-- Audit retention: only purge_audit_events (SECURITY DEFINER, owner) may delete.
create or replace function paytrust_private.tg_audit_events__append_only() returns trigger as $$
begin
  -- The retention purge may delete, but never anything younger than a day.
  if tg_op = 'DELETE' and current_setting('paytrust.audit_purge', true) = 'on'
     and paytrust_private.is_table_owner(tg_relid)
     and old.occurred_at < now() - interval '1 day' then
    return old;
  end if;
  raise exception 'The audit log is append-only' using errcode = 'PTAUD';
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

-- The line-item / installment sum checks are skipped only for children that
-- insert_invoice inserts as the owner (inside create_invoice & co.).
create or replace function paytrust_private.inserting_with_invoice(p_invoice_id uuid) returns boolean as $$
  select coalesce(current_setting('paytrust.inserting_invoice', true), '') = p_invoice_id::text
     and paytrust_private.is_table_owner('paytrust_public.invoices'::regclass);
$$ language sql stable;

-- ============================================================================
-- 10. Analyst logins (src/db/analyst.ts): limits the role cannot lift.
--   * read-only by grants: SELECT on paytrust_reporting only, no TEMP (revoked
--     from PUBLIC per database by createAnalyst), no large objects (000005);
--     default_transaction_read_only is a convenience, not the guard;
--   * timeouts: set on the role, and ENFORCED by enforce_analyst_limits()
--     (the worker calls it every few seconds): statements running longer than
--     the analyst's limit are cancelled, sessions idle in a transaction
--     longer than theirs terminated, whatever the session SET;
--   * connection limit: a role attribute (changing it needs CREATEROLE);
--   * pg_notify and advisory locks: EXECUTE revoked from PUBLIC, granted to
--     the PayTrust roles only (analysts cannot notify the key-cache channel
--     nor take or hold the start-up lock).
-- ============================================================================

create table if not exists paytrust_private.analyst_limits (
  role_name                    name primary key,
  statement_timeout            interval not null check (statement_timeout > interval '0'),
  idle_in_transaction_timeout  interval not null check (idle_in_transaction_timeout > interval '0'),
  updated_at                   timestamptz not null default now()
);
comment on table paytrust_private.analyst_limits is
  E'The limits of each analyst login, as createAnalyst set them (analysts cannot change this table; they can SET their session''s GUCs, which is why enforce_analyst_limits exists).';

create or replace function paytrust_private.enforce_analyst_limits()
returns table (pid integer, role_name name, action text) as $$
declare
  v_row record;
begin
  for v_row in
    select a.pid, a.usename, a.state, now() - a.query_start as running, now() - a.state_change as idle,
           l.statement_timeout, l.idle_in_transaction_timeout
      from pg_catalog.pg_stat_activity a
      join paytrust_private.analyst_limits l on l.role_name = a.usename
     where a.backend_type = 'client backend' and a.pid <> pg_backend_pid()
  loop
    if v_row.state = 'active' and v_row.running > v_row.statement_timeout then
      if pg_cancel_backend(v_row.pid) then
        pid := v_row.pid; role_name := v_row.usename; action := 'cancelled';
        return next;
      end if;
    elsif v_row.state in ('idle in transaction', 'idle in transaction (aborted)')
          and v_row.idle > v_row.idle_in_transaction_timeout then
      if pg_terminate_backend(v_row.pid) then
        pid := v_row.pid; role_name := v_row.usename; action := 'terminated';
        return next;
      end if;
    end if;
  end loop;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.enforce_analyst_limits() is
  E'Cancels analyst statements past their statement timeout and ends analyst sessions idle in a transaction past theirs (limits from analyst_limits). Needs an owner that is a superuser or member of pg_read_all_stats and pg_signal_backend.';

-- The key-cache channel. LISTEN and NOTIFY (the SQL commands) need no
-- privilege at all in PostgreSQL, even in a read-only transaction, so a fixed
-- channel name lets any login read key prefixes as they change and flood
-- invalidations. The channel's name is a per-database secret instead, readable
-- through key_cache_channel() by the owner and the runtime role only (channel
-- names of other sessions are not visible to analysts).
create table if not exists paytrust_private.internal_settings (
  name  text primary key,
  value text not null
);
comment on table paytrust_private.internal_settings is E'Internal per-database settings (no grants).';
insert into paytrust_private.internal_settings (name, value)
  values ('key_cache_channel', 'paytrust_api_keys_' || encode(public.gen_random_bytes(12), 'hex'))
  on conflict (name) do nothing;

create or replace function paytrust_private.key_cache_channel() returns text as $$
  select value from paytrust_private.internal_settings where name = 'key_cache_channel';
$$ language sql stable security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.key_cache_channel() is
  E'The LISTEN/NOTIFY channel of the API key cache (src/auth/keyVerifier.ts).';

create or replace function paytrust_private.tg_api_keys__notify() returns trigger as $$
begin
  perform pg_notify(paytrust_private.key_cache_channel(), coalesce(new.prefix, old.prefix));
  return null;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

create or replace function paytrust_private.tg_tenants__notify_rate_limit() returns trigger as $$
begin
  perform pg_notify(paytrust_private.key_cache_channel(), k.prefix)
     from paytrust_private.api_keys k
    where k.tenant_id = new.id;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

do $$
declare
  v_roles text := 'paytrust_tenant, paytrust_admin, paytrust_authenticator, paytrust_runtime, '
                  || quote_ident(current_user);
  v_fn text;
begin
  if not (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    raise notice 'Not a superuser: as one, revoke execute on pg_notify(text, text) and the pg_*advisory* functions from public and grant them to the PayTrust roles (see migrations/current/100-sql-safety.sql)';
    return;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'paytrust_runtime') then
    raise notice 'Role paytrust_runtime is missing: run paytrust migrate';
    return;
  end if;
  for v_fn in
    select p.oid::regprocedure::text from pg_catalog.pg_proc p
     where p.pronamespace = 'pg_catalog'::regnamespace
       and (p.proname like 'pg\_%advisory\_%' or p.proname = 'pg_notify')
  loop
    execute format('revoke execute on function %s from public', v_fn);
    execute format('grant execute on function %s to %s', v_fn, v_roles);
  end loop;
end;
$$;

-- ============================================================================
-- 13. The runtime role: rows, not structure. Not the owner, so it cannot
--     ALTER/DROP anything, disable triggers or pass the owner-only checks
--     above; BYPASSRLS (set by ensureRoles) because it serves every tenant's
--     webhooks and jobs. The audit log is append-only for it (INSERT only).
-- ============================================================================

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'paytrust_runtime') then
    raise notice 'Role paytrust_runtime is missing: run paytrust migrate';
    return;
  end if;
  grant usage on schema paytrust_public, paytrust_private to paytrust_runtime;
  grant select, insert, update, delete on all tables in schema paytrust_public, paytrust_private to paytrust_runtime;
  grant usage, select on all sequences in schema paytrust_public, paytrust_private to paytrust_runtime;
  grant execute on all functions in schema paytrust_public, paytrust_private to paytrust_runtime;
  -- What later migrations create (as the owner) is granted the same way.
  alter default privileges in schema paytrust_public, paytrust_private
    grant select, insert, update, delete on tables to paytrust_runtime;
  alter default privileges in schema paytrust_public, paytrust_private
    grant usage, select on sequences to paytrust_runtime;
  alter default privileges in schema paytrust_public, paytrust_private
    grant execute on functions to paytrust_runtime;
  revoke update, delete, truncate on paytrust_public.audit_events from paytrust_runtime;
  -- Kept by definer functions and triggers only.
  revoke all on paytrust_private.analyst_limits, paytrust_private.internal_settings,
    paytrust_private.invoice_counters from paytrust_runtime;
end;
$$;
