--! Previous: sha1:37f91d6f6169c7ac7755d27fad1e06c3dfd6852a
--! Hash: sha1:a88f3b246042311c4ed858c4f0083805aa77848d
--! Message: createInvoice: no key of its own from invoices to currencies

-- Issue 17, item 3: one foreign-key check less per invoice, the same integrity.
--
-- invoices.currency → currencies is implied by two keys that stay:
-- gateway_takes_currency, (gateway, currency) → gateway_configurations, says
-- the pair is configured, and gateway_configurations_currency_fkey says a
-- configured currency exists. Deleting a currency was and stays refused while
-- a configuration names it, and a configuration while an invoice names it.
-- What goes is one key check per invoice: an SPI query and a KEY SHARE lock on
-- the currency's row, which every concurrent createInvoice in that currency
-- shares (a MultiXact on the busiest row of the schema). Measured with
-- callgrind on createInvoice's transaction (docs/benchmarks.md, "Where the
-- rest goes"): about 38,000 instructions of 3.47 million.
--
-- The API keeps Invoice.currencyDetails: the relation is declared with a
-- @foreignKey smart tag of the same name (the pattern of 000017), without
-- the backward Currency.invoicesByCurrency list the key never had
-- (invoices.currency has no index of its own, so PostGraphile left it out).
--
-- Idempotent: the drop and the comment look at the catalog first.

alter table paytrust_public.invoices drop constraint if exists invoices_currency_fkey;

do $$
declare
  v_tag text := '@foreignKey (currency) references paytrust_public.currencies (code)|@fieldName currencyDetails|@behavior -list -connection';
  v_comment text := coalesce(obj_description('paytrust_public.invoices'::regclass, 'pg_class'), '');
begin
  if position(v_tag in v_comment) = 0 then
    execute format('comment on table paytrust_public.invoices is %L', v_tag || E'\n' || v_comment);
  end if;
end;
$$;
