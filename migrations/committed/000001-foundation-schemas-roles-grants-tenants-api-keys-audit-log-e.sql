--! Previous: -
--! Hash: sha1:a27b2127544e8b976f32d8740489c12033bab9f0
--! Message: foundation: schemas, roles' grants, tenants, api keys, audit log, errors

-- ============================================================================
-- 1. Schemas
--    paytrust_public    : exposed by PostGraphile
--    paytrust_private   : secrets and internals, never exposed, no grants
--    paytrust_reporting : views for analysts
-- Roles (cluster-wide, created by `paytrust migrate` before migrations run):
--    paytrust_authenticator (LOGIN NOINHERIT) -> paytrust_tenant | paytrust_admin
--    paytrust_analyst (SELECT on paytrust_reporting only)
-- ============================================================================

drop schema if exists paytrust_public cascade;
drop schema if exists paytrust_private cascade;
drop schema if exists paytrust_reporting cascade;

create schema paytrust_public;
create schema paytrust_private;
create schema paytrust_reporting;

revoke all on schema public from public;
revoke all on schema paytrust_private from public;
alter default privileges revoke all on sequences from public;
alter default privileges revoke all on functions from public;

grant usage on schema paytrust_public to paytrust_tenant, paytrust_admin;
grant usage on schema paytrust_reporting to paytrust_tenant, paytrust_admin, paytrust_analyst;

create extension if not exists pgcrypto with schema public;

-- ============================================================================
-- 2. Request context: who is calling (set by PostGraphile's pgSettings)
-- ============================================================================

create function paytrust_public.current_tenant_id() returns uuid as $$
  select nullif(current_setting('paytrust.tenant_id', true), '')::uuid;
$$ language sql stable;
grant execute on function paytrust_public.current_tenant_id() to paytrust_tenant, paytrust_admin;
comment on function paytrust_public.current_tenant_id() is
  E'The tenant of the API key making this request (null for admin keys).';

-- current_setting('role') is the role PostGraphile switched to (SET LOCAL
-- ROLE), and it stays the caller's role inside SECURITY DEFINER functions
-- (unlike current_user). In the public schema because RLS policies call it
-- as the tenant/admin role, which has no access to paytrust_private.
create function paytrust_public.is_admin() returns boolean as $$
  select coalesce(current_setting('role', true), '') = 'paytrust_admin';
$$ language sql stable;
grant execute on function paytrust_public.is_admin() to paytrust_tenant, paytrust_admin, paytrust_analyst;
comment on function paytrust_public.is_admin() is E'@behavior -*';

create function paytrust_private.current_api_key_id() returns uuid as $$
  select nullif(current_setting('paytrust.api_key_id', true), '')::uuid;
$$ language sql stable;

-- Raises unless the caller is a platform administrator.
create function paytrust_private.assert_admin() returns void as $$
begin
  if not paytrust_public.is_admin() then
    raise exception 'This operation needs an admin API key' using errcode = 'PTADM';
  end if;
end;
$$ language plpgsql stable;

-- Raises unless there is a tenant in the request context; returns it.
create function paytrust_private.require_tenant() returns uuid as $$
declare
  v_tenant uuid := paytrust_public.current_tenant_id();
begin
  if v_tenant is null then
    raise exception 'This operation needs a tenant API key' using errcode = 'PTTEN';
  end if;
  return v_tenant;
end;
$$ language plpgsql stable;

create function paytrust_private.tg__timestamps() returns trigger as $$
begin
  new.created_at := case when tg_op = 'INSERT' then now() else old.created_at end;
  new.updated_at := case when tg_op = 'UPDATE' and old.updated_at >= now()
                         then old.updated_at + interval '1 millisecond' else now() end;
  return new;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

-- ============================================================================
-- 3. Tenants
-- ============================================================================

create table paytrust_public.tenants (
  id                    uuid primary key default gen_random_uuid(),
  name                  text not null check (length(name) between 1 and 200),
  -- creditor data for ISO 20022 documents; placeholders are used when null
  legal_name            text check (length(legal_name) <= 140),
  account_iban          text check (account_iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$'),
  account_number        text check (length(account_number) between 1 and 34),
  bank_bic              text check (bank_bic ~ '^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$'),
  -- requests per minute per API key; null = the platform default
  rate_limit_per_minute integer check (rate_limit_per_minute between 1 and 1000000),
  created_at            timestamptz not null default now(),
  updated_at            timestamptz not null default now()
);
alter table paytrust_public.tenants enable row level security;
create trigger _100_timestamps before insert or update on paytrust_public.tenants
  for each row execute procedure paytrust_private.tg__timestamps();

create policy select_own on paytrust_public.tenants for select
  using (id = (select paytrust_public.current_tenant_id()) or (select paytrust_public.is_admin()));
create policy admin_update on paytrust_public.tenants for update
  using ((select paytrust_public.is_admin()));

grant select on paytrust_public.tenants to paytrust_tenant, paytrust_admin;
grant update (name, legal_name, account_iban, account_number, bank_bic, rate_limit_per_minute)
  on paytrust_public.tenants to paytrust_admin;

comment on table paytrust_public.tenants is E'@behavior -insert -delete\nA merchant using PayTrust. A tenant key sees only its own tenant (createTenant adds one).';

-- ============================================================================
-- 4. API keys (private: the argon2id hash never leaves this schema)
--    Key format: pt_live_<prefix>_<secret>; <prefix> is a non-secret lookup id.
-- ============================================================================

create table paytrust_private.api_keys (
  id            uuid primary key default gen_random_uuid(),
  tenant_id     uuid references paytrust_public.tenants on delete cascade,
  role          text not null check (role in ('tenant', 'admin')),
  name          text not null check (length(name) between 1 and 200),
  prefix        text not null unique check (prefix ~ '^[a-z0-9]{12}$'),
  secret_hash   text not null check (secret_hash like '$argon2id$%'),
  rotated_from  uuid references paytrust_private.api_keys on delete set null,
  created_at    timestamptz not null default now(),
  last_used_at  timestamptz,
  expires_at    timestamptz,
  revoked_at    timestamptz,
  constraint tenant_keys_have_tenant check ((role = 'tenant') = (tenant_id is not null))
);
create index on paytrust_private.api_keys (tenant_id);
alter table paytrust_private.api_keys enable row level security;
-- No policies and no grants: only the owner (auth middleware, CLI, SECURITY
-- DEFINER functions) reads this table.

-- Every change to a key tells every server process to drop its cached
-- verification at once (revocation, expiry changes, rotation).
create function paytrust_private.tg_api_keys__notify() returns trigger as $$
begin
  perform pg_notify('paytrust_api_keys', coalesce(new.prefix, old.prefix));
  return null;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _900_notify after update or delete on paytrust_private.api_keys
  for each row execute procedure paytrust_private.tg_api_keys__notify();

-- The non-secret view of keys for platform operators.
create view paytrust_public.api_keys with (security_barrier) as
  select id, tenant_id, role, name, prefix, rotated_from, created_at, last_used_at,
         expires_at, revoked_at
    from paytrust_private.api_keys
   where paytrust_public.is_admin();
comment on view paytrust_public.api_keys is E'@primaryKey id\n@foreignKey (tenant_id) references paytrust_public.tenants (id)\n@behavior -insert -update -delete\nAPI keys without their secrets (admin keys only see rows).';
grant select on paytrust_public.api_keys to paytrust_admin;

-- ============================================================================
-- 5. Audit log: append-only; the retention purge is the only delete
-- ============================================================================

create table paytrust_public.audit_events (
  id          bigint primary key generated always as identity,
  occurred_at timestamptz not null default now(),
  action      text not null,
  api_key_id  uuid,
  tenant_id   uuid,
  actor_role  text,
  subject_id  text,
  ip          inet,
  user_agent  text check (length(user_agent) <= 512),
  details     jsonb not null default '{}'
);
create index on paytrust_public.audit_events (occurred_at);
create index on paytrust_public.audit_events (api_key_id, occurred_at);
create index on paytrust_public.audit_events (tenant_id, occurred_at);
create index on paytrust_public.audit_events (action, occurred_at);
alter table paytrust_public.audit_events enable row level security;
create policy admin_select on paytrust_public.audit_events for select
  using ((select paytrust_public.is_admin()));
grant select on paytrust_public.audit_events to paytrust_admin;
comment on table paytrust_public.audit_events is E'@behavior -insert -update -delete -query:resource:list -query:resource:connection\nAppend-only audit log; read it with apiKeyAuditLogs.';

create function paytrust_private.tg_audit_events__append_only() returns trigger as $$
begin
  -- The retention purge may delete, but never anything younger than a day,
  -- even if someone sets the flag by hand.
  if tg_op = 'DELETE' and current_setting('paytrust.audit_purge', true) = 'on'
     and old.occurred_at < now() - interval '1 day' then
    return old;
  end if;
  raise exception 'The audit log is append-only' using errcode = 'PTAUD';
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _100_append_only before update or delete on paytrust_public.audit_events
  for each row execute procedure paytrust_private.tg_audit_events__append_only();
-- TRUNCATE bypasses row triggers; refuse it too.
create trigger _100_no_truncate before truncate on paytrust_public.audit_events
  for each statement execute procedure paytrust_private.tg_audit_events__append_only();

-- Writes one audit row with the request's key, tenant, IP and user agent.
create function paytrust_private.audit(p_action text, p_subject_id text, p_details jsonb default '{}')
returns void as $$
  insert into paytrust_public.audit_events
    (action, api_key_id, tenant_id, actor_role, subject_id, ip, user_agent, details)
  values (
    p_action,
    paytrust_private.current_api_key_id(),
    coalesce((p_details->>'tenant_id')::uuid, paytrust_public.current_tenant_id()),
    nullif(current_setting('paytrust.role', true), ''),
    p_subject_id,
    nullif(current_setting('paytrust.ip', true), '')::inet,
    left(nullif(current_setting('paytrust.user_agent', true), ''), 512),
    coalesce(p_details, '{}')
  );
$$ language sql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- Retention: deletes audit rows older than p_keep (called by the cron task).
create function paytrust_private.purge_audit_events(p_keep interval) returns bigint as $$
declare
  v_count bigint;
begin
  if p_keep < interval '1 day' then
    raise exception 'Audit retention must be at least one day' using errcode = 'PTVAL';
  end if;
  perform set_config('paytrust.audit_purge', 'on', true);
  delete from paytrust_public.audit_events where occurred_at < now() - p_keep;
  get diagnostics v_count = row_count;
  perform set_config('paytrust.audit_purge', 'off', true);
  return v_count;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create function paytrust_public.api_key_audit_logs(
  api_key_id uuid default null,
  tenant_id uuid default null,
  action text default null,
  occurred_after timestamptz default null,
  occurred_before timestamptz default null
) returns setof paytrust_public.audit_events as $$
  select e.*
    from paytrust_public.audit_events e
   where (api_key_audit_logs.api_key_id is null or e.api_key_id = api_key_audit_logs.api_key_id)
     and (api_key_audit_logs.tenant_id is null or e.tenant_id = api_key_audit_logs.tenant_id)
     and (api_key_audit_logs.action is null or e.action = api_key_audit_logs.action)
     and (occurred_after is null or e.occurred_at >= occurred_after)
     and (occurred_before is null or e.occurred_at < occurred_before)
   order by e.occurred_at desc, e.id desc;
$$ language sql stable;
comment on function paytrust_public.api_key_audit_logs(uuid, uuid, text, timestamptz, timestamptz) is
  E'@sortable\nThe audit log, newest first, filtered by key, tenant, action and time range (admin keys only; RLS).';
grant execute on function paytrust_public.api_key_audit_logs(uuid, uuid, text, timestamptz, timestamptz) to paytrust_admin;

-- ============================================================================
-- 6. Platform administration (admin keys)
-- ============================================================================

create function paytrust_public.create_tenant(name text) returns paytrust_public.tenants as $$
declare
  v_tenant paytrust_public.tenants;
begin
  perform paytrust_private.assert_admin();
  if name is null or length(trim(name)) = 0 then
    raise exception 'A tenant needs a name' using errcode = 'PTVAL';
  end if;
  insert into paytrust_public.tenants (name) values (trim(name)) returning * into v_tenant;
  perform paytrust_private.audit('tenant.create', v_tenant.id::text,
    jsonb_build_object('tenant_id', v_tenant.id, 'name', v_tenant.name));
  return v_tenant;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.create_tenant(text) to paytrust_admin;
comment on function paytrust_public.create_tenant(text) is E'@resultFieldName tenant\nCreates a tenant (admin keys only). Create its keys with createApiKey.';

-- Called by the auth layer (owner pool) after an argon2 verification;
-- last_used_at is only written once a minute to keep the hot path cheap.
create function paytrust_private.touch_api_key(p_id uuid) returns void as $$
  update paytrust_private.api_keys set last_used_at = now()
   where id = p_id and (last_used_at is null or last_used_at < now() - interval '1 minute');
$$ language sql volatile;
