#!/bin/sh
# Runs once, when the db volume is first created (docker-entrypoint-initdb.d): the PayTrust owner
# role, NOT a superuser. It owns the paytrust database; `paytrust migrate` (the migrate service,
# with ROOT_DATABASE_URL as the superuser) creates the other roles and the schema as it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_password="$PAYTRUST_DB_PASSWORD" <<'SQL'
create role paytrust login nosuperuser nocreatedb nocreaterole password :'owner_password';
create database paytrust owner paytrust;
SQL
