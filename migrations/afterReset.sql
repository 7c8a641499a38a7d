-- Run by `graphile-migrate reset` (and for the shadow database by `commit`),
-- as the superuser (ROOT_DATABASE_URL) on the freshly created database, before
-- the committed migrations. Idempotent: roles are cluster-wide and may exist.
-- The same roles as src/db/bootstrap.ts ensureRoles (which `paytrust migrate`
-- and `npm start` run, and which also sets the login passwords).
do $$
begin
  if not exists (select 1 from pg_roles where rolname = ':DATABASE_TENANT') then
    create role :DATABASE_TENANT nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = ':DATABASE_ADMIN') then
    create role :DATABASE_ADMIN nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = ':DATABASE_ANALYST') then
    create role :DATABASE_ANALYST nologin;
  end if;
  if not exists (select 1 from pg_roles where rolname = ':DATABASE_AUTHENTICATOR') then
    create role :DATABASE_AUTHENTICATOR login noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = ':DATABASE_RUNTIME') then
    create role :DATABASE_RUNTIME login noinherit;
  end if;
end
$$;
alter role :DATABASE_RUNTIME with login nosuperuser nocreatedb nocreaterole noreplication bypassrls;
grant :DATABASE_TENANT, :DATABASE_ADMIN to :DATABASE_AUTHENTICATOR;

-- Extensions the migrations use (pgcrypto is trusted, but a reset should not
-- depend on that).
create extension if not exists pgcrypto with schema public;

-- Nobody but the owner connects by default; the API and worker roles may.
revoke all on database :DATABASE_NAME from public;
grant connect, temporary on database :DATABASE_NAME to :DATABASE_OWNER, :DATABASE_AUTHENTICATOR, :DATABASE_RUNTIME, :DATABASE_ANALYST;
