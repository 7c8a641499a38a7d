--! Previous: sha1:62007daad794fb53a820e699c016ea0f8289fa7d
--! Hash: sha1:6a36a7429e7353fdd37f856304c4ac32588c19fa
--! Message: GraphQL API: lean root, lookup by idempotency key

--! split: 150-graphql-api.sql
-- Issue 16, item 3 (a lean root). The lookups and updates that would ask
-- callers for their own tenant id (unique keys that include tenant_id) are
-- hidden by src/plugins/leanRoot.ts, whatever migration adds them; here: the
-- lookup by idempotency key that needs no tenant id, and relation names.

-- invoiceByIdempotencyKey(idempotencyKey): the caller's own invoice created with that key.
create or replace function paytrust_public.invoice_by_idempotency_key(idempotency_key text)
returns paytrust_public.invoices as $$
  select i.* from paytrust_public.invoices i
   where i.tenant_id = paytrust_public.current_tenant_id()
     and i.idempotency_key = invoice_by_idempotency_key.idempotency_key;
$$ language sql stable strict;
grant execute on function paytrust_public.invoice_by_idempotency_key(text) to paytrust_tenant;
comment on function paytrust_public.invoice_by_idempotency_key(text) is
  E'Your invoice created with this `idempotencyKey` (createInvoice), or null.';

-- currencyByCurrency → currencyDetails; Currency.gatewayConfigurationsByCurrency → gatewayConfigurations.
do $$
declare
  v_fk record;
begin
  for v_fk in
    select * from (values
      ('paytrust_public.invoices', 'invoices_currency_fkey',
       E'@fieldName currencyDetails'),
      ('paytrust_public.payment_transactions', 'payment_transactions_currency_fkey',
       E'@fieldName currencyDetails'),
      ('paytrust_public.gateway_configurations', 'gateway_configurations_currency_fkey',
       E'@fieldName currencyDetails\n@foreignFieldName gatewayConfigurations')
    ) as t(tbl, conname, tags)
  loop
    if exists (select 1 from pg_catalog.pg_constraint
                where conname = v_fk.conname and conrelid = to_regclass(v_fk.tbl)) then
      execute format('comment on constraint %I on %s is %L', v_fk.conname, v_fk.tbl, v_fk.tags);
    end if;
  end loop;
end;
$$;
