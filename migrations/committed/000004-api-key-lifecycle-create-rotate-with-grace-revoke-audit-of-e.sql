--! Previous: sha1:52575b4b1f2c5ef5c80d3b11698002d24d4c4f63
--! Hash: sha1:3ecd0b0c06f281e89427d0e0612771eddda93138
--! Message: API key lifecycle: create, rotate with grace, revoke; audit of each; cache invalidation

-- ============================================================================
-- API key lifecycle (admin keys only)
--   createApiKey / rotateApiKey : GraphQL plugin (src/plugins/apiKeys.ts). The
--     secret is generated and argon2id-hashed in TypeScript, then written
--     through paytrust_public.api_key_issue / api_key_rotate below, which are
--     hidden from GraphQL (@behavior -*) and executable by paytrust_admin only.
--   revokeApiKey                : paytrust_public.revoke_api_key (generated mutation).
--   apiKeys / apiKey(id)        : the paytrust_public.api_keys view (foundation).
-- Every change to paytrust_private.api_keys fires the foundation's NOTIFY
-- trigger, so every server process drops its cached verification at once.
-- ============================================================================

-- Never null in the table; say so in the view's GraphQL type.
comment on column paytrust_public.api_keys.role is E'@notNull\n`tenant` or `admin`.';
comment on column paytrust_public.api_keys.name is E'@notNull\nA label chosen by the operator.';
comment on column paytrust_public.api_keys.prefix is
  E'@notNull\nThe non-secret lookup id inside the key (`pt_live_<prefix>_<secret>`).';
comment on column paytrust_public.api_keys.created_at is E'@notNull';
comment on column paytrust_public.api_keys.rotated_from is E'The key this one replaced (rotateApiKey).';
comment on column paytrust_public.api_keys.expires_at is
  E'When the key stops working (set by rotateApiKey: now + grace). Null: no expiry.';
comment on column paytrust_public.api_keys.revoked_at is E'When the key was revoked. Null: not revoked.';

-- Maximum rotation grace: 30 days.
create function paytrust_private.max_rotation_grace_seconds() returns integer as $$
  select 2592000;
$$ language sql immutable;

-- Inserts a tenant key whose secret was hashed by the API layer.
create function paytrust_public.api_key_issue(
  p_tenant_id uuid, p_name text, p_prefix text, p_secret_hash text
) returns uuid as $$
declare
  v_id uuid;
begin
  perform paytrust_private.assert_admin();
  if p_name is null or length(trim(p_name)) = 0 or length(trim(p_name)) > 200 then
    raise exception 'An API key needs a name of 1 to 200 characters' using errcode = 'PTVAL';
  end if;
  if p_tenant_id is null or not exists (select 1 from paytrust_public.tenants t where t.id = p_tenant_id) then
    raise exception 'Tenant % does not exist', p_tenant_id using errcode = 'PTNFD';
  end if;
  insert into paytrust_private.api_keys (tenant_id, role, name, prefix, secret_hash)
  values (p_tenant_id, 'tenant', trim(p_name), p_prefix, p_secret_hash)
  returning id into v_id;
  perform paytrust_private.audit('api_key.create', v_id::text,
    jsonb_build_object('tenant_id', p_tenant_id, 'name', trim(p_name), 'prefix', p_prefix, 'role', 'tenant'));
  return v_id;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function paytrust_public.api_key_issue(uuid, text, text, text) from public;
grant execute on function paytrust_public.api_key_issue(uuid, text, text, text) to paytrust_admin;
comment on function paytrust_public.api_key_issue(uuid, text, text, text) is
  E'@behavior -*\nInternal: used by the createApiKey mutation, which hashes the secret.';

-- Replaces a key: the successor gets the same tenant, role and name; the old
-- key expires after the grace period (0 = at once) and can no longer be
-- rotated again. Returns the successor's id.
create function paytrust_public.api_key_rotate(
  p_id uuid, p_grace_seconds integer, p_prefix text, p_secret_hash text
) returns uuid as $$
declare
  v_old paytrust_private.api_keys;
  v_new_id uuid;
  v_expires timestamptz;
begin
  perform paytrust_private.assert_admin();
  if p_grace_seconds is null or p_grace_seconds < 0
     or p_grace_seconds > paytrust_private.max_rotation_grace_seconds() then
    raise exception 'graceSeconds must be between 0 and %', paytrust_private.max_rotation_grace_seconds()
      using errcode = 'PTVAL';
  end if;
  select * into v_old from paytrust_private.api_keys k where k.id = p_id for update;
  if not found then
    raise exception 'API key % does not exist', p_id using errcode = 'PTNFD';
  end if;
  if v_old.revoked_at is not null then
    raise exception 'API key % is revoked; create a new key instead', p_id using errcode = 'PTKEY';
  end if;
  if v_old.expires_at is not null and v_old.expires_at <= now() then
    raise exception 'API key % has expired; create a new key instead', p_id using errcode = 'PTKEY';
  end if;
  if exists (select 1 from paytrust_private.api_keys k where k.rotated_from = p_id) then
    raise exception 'API key % was already rotated; rotate its successor', p_id using errcode = 'PTKEY';
  end if;

  insert into paytrust_private.api_keys (tenant_id, role, name, prefix, secret_hash, rotated_from)
  values (v_old.tenant_id, v_old.role, v_old.name, p_prefix, p_secret_hash, v_old.id)
  returning id into v_new_id;

  v_expires := now() + make_interval(secs => p_grace_seconds);
  if v_old.expires_at is not null and v_old.expires_at < v_expires then
    v_expires := v_old.expires_at;
  end if;
  -- Fires the NOTIFY trigger: every process re-reads the old key's expiry.
  update paytrust_private.api_keys set expires_at = v_expires where id = v_old.id;

  perform paytrust_private.audit('api_key.rotate', v_old.id::text,
    jsonb_build_object('tenant_id', v_old.tenant_id, 'role', v_old.role, 'prefix', v_old.prefix,
                       'new_api_key_id', v_new_id, 'new_prefix', p_prefix,
                       'grace_seconds', p_grace_seconds, 'expires_at', v_expires));
  return v_new_id;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function paytrust_public.api_key_rotate(uuid, integer, text, text) from public;
grant execute on function paytrust_public.api_key_rotate(uuid, integer, text, text) to paytrust_admin;
comment on function paytrust_public.api_key_rotate(uuid, integer, text, text) is
  E'@behavior -*\nInternal: used by the rotateApiKey mutation, which hashes the new secret.';

-- Revokes a key at once (idempotent: revoking a revoked key changes nothing).
create function paytrust_public.revoke_api_key(id uuid) returns paytrust_public.api_keys as $$
declare
  v_key paytrust_private.api_keys;
  v_row paytrust_public.api_keys;
begin
  perform paytrust_private.assert_admin();
  select * into v_key from paytrust_private.api_keys k where k.id = revoke_api_key.id for update;
  if not found then
    raise exception 'API key % does not exist', revoke_api_key.id using errcode = 'PTNFD';
  end if;
  if v_key.revoked_at is null then
    -- Fires the NOTIFY trigger: every process forgets the key now.
    update paytrust_private.api_keys k set revoked_at = now() where k.id = v_key.id;
    perform paytrust_private.audit('api_key.revoke', v_key.id::text,
      jsonb_build_object('tenant_id', v_key.tenant_id, 'role', v_key.role, 'prefix', v_key.prefix,
                         'name', v_key.name));
  end if;
  select k.id, k.tenant_id, k.role, k.name, k.prefix, k.rotated_from, k.created_at, k.last_used_at,
         k.expires_at, k.revoked_at
    into v_row
    from paytrust_private.api_keys k where k.id = v_key.id;
  return v_row;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
revoke all on function paytrust_public.revoke_api_key(uuid) from public;
grant execute on function paytrust_public.revoke_api_key(uuid) to paytrust_admin;
comment on function paytrust_public.revoke_api_key(uuid) is
  E'@resultFieldName apiKey\nRevokes an API key at once, on every server (admin keys only).';

-- A tenant's rate limit is part of every cached key verification: tell every
-- process to re-read that tenant's keys when the limit changes.
create function paytrust_private.tg_tenants__notify_rate_limit() returns trigger as $$
begin
  perform pg_notify('paytrust_api_keys', k.prefix)
     from paytrust_private.api_keys k
    where k.tenant_id = new.id;
  return null;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
create trigger _900_notify_rate_limit after update of rate_limit_per_minute on paytrust_public.tenants
  for each row when (old.rate_limit_per_minute is distinct from new.rate_limit_per_minute)
  execute procedure paytrust_private.tg_tenants__notify_rate_limit();
