--! Previous: sha1:5734bb2e83e73e43ba07bc0c4e5127f7174e88d0
--! Hash: sha1:99796fee248fa98c9e38dddec4e42473b7281af8
--! Message: paytrust_hidden: helpers the API must not expose

--! split: 800-hidden-schema.sql
-- ============================================================================
-- paytrust_hidden: helpers the API roles call but PostGraphile never sees
-- (graphile/starter's app_hidden). PostGraphile exposes paytrust_public only
-- (src/plugins/preset.ts); what used to sit there behind `@behavior -*` lives
-- here instead:
--   paytrust_hidden.is_admin()                        RLS policies, assert_admin
--   paytrust_hidden.api_key_issue(...)                createApiKey (src/plugins/apiKeys.ts)
--   paytrust_hidden.api_key_rotate(...)               rotateApiKey (src/plugins/apiKeys.ts)
--   paytrust_hidden.invoices_iso20022_data(invoices)  src/plugins/iso20022.ts, src/routes/documents.ts
--   paytrust_hidden.create_webhook_endpoint(...)      src/plugins/webhookEndpoints.ts
--   paytrust_hidden.update_webhook_endpoint(...)      src/plugins/webhookEndpoints.ts
--   paytrust_hidden.rotate_webhook_endpoint_secret()  src/plugins/webhookEndpoints.ts
-- The last three are (re)created in paytrust_public by 300-merchant-webhooks.sql,
-- which runs first: this file moves every paytrust_public function whose comment
-- carries `@behavior -*` on each run, replacing the copy moved last time.
-- Moving keeps the function's oid, so RLS policies and views that call it
-- follow; PL/pgSQL bodies name it in text and are redefined below.
-- ============================================================================

create schema if not exists paytrust_hidden;
revoke all on schema paytrust_hidden from public;
grant usage on schema paytrust_hidden to paytrust_tenant, paytrust_admin;
comment on schema paytrust_hidden is
  'Helpers the API roles may call (RLS policies, plugins, routes) but PostGraphile does not expose.';

do $$
declare
  v_fn record;
begin
  for v_fn in
    select p.oid, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) as args
      from pg_catalog.pg_proc p
      join pg_catalog.pg_description d
        on d.objoid = p.oid and d.classoid = 'pg_catalog.pg_proc'::regclass and d.objsubid = 0
     where p.pronamespace = 'paytrust_public'::regnamespace
       and d.description ~ '^@behavior -\*(\s|$)'
  loop
    -- A copy moved by an earlier run of this folder: the one in paytrust_public is newer.
    execute format('drop function if exists paytrust_hidden.%I(%s)', v_fn.proname, v_fn.args);
    execute format('alter function paytrust_public.%I(%s) set schema paytrust_hidden', v_fn.proname, v_fn.args);
  end loop;
  -- Outside the exposed schema the smart tag means nothing: keep the description only.
  for v_fn in
    select p.oid, d.description
      from pg_catalog.pg_proc p
      join pg_catalog.pg_description d
        on d.objoid = p.oid and d.classoid = 'pg_catalog.pg_proc'::regclass and d.objsubid = 0
     where p.pronamespace = 'paytrust_hidden'::regnamespace
       and d.description ~ '^@behavior -\*'
  loop
    execute format('comment on function %s is %L', v_fn.oid::regprocedure,
      nullif(regexp_replace(v_fn.description, '^@behavior -\*\n?', ''), ''));
  end loop;
end;
$$;

-- The runtime role (worker, routes) calls them too, like everything in paytrust_public.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'paytrust_runtime') then
    raise notice 'Role paytrust_runtime is missing: run paytrust migrate';
    return;
  end if;
  grant usage on schema paytrust_hidden to paytrust_runtime;
  grant execute on all functions in schema paytrust_hidden to paytrust_runtime;
  alter default privileges in schema paytrust_hidden grant execute on functions to paytrust_runtime;
end;
$$;

comment on function paytrust_hidden.is_admin() is
  'True when the request runs as the platform admin role (RLS policies, assert_admin).';
comment on function paytrust_hidden.invoices_iso20022_data(paytrust_public.invoices) is
  'Everything the pain.001 / pain.002 renderers need, as JSON (Iso20022Invoice in src/iso20022/types.ts); reads through RLS.';

-- PL/pgSQL names functions in text: point the callers at the new schema.
create or replace function paytrust_private.assert_admin() returns void as $$
begin
  if not paytrust_hidden.is_admin() then
    raise exception 'This operation needs an admin API key' using errcode = 'PTADM';
  end if;
end;
$$ language plpgsql stable;
