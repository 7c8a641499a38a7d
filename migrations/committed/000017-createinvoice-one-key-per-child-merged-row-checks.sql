--! Previous: sha1:e02282492913f3a3cebed830b8a39cf80c37cd1e
--! Hash: sha1:938872cb14824b549809f5f4f513243ed0d47b90
--! Message: createInvoice: one key per child, merged row checks

-- Issue 17, item 3: fewer integrity checks re-done per createInvoice, the
-- same integrity. Measured with pgbench on createInvoice's own transaction
-- (docs/benchmarks.md, "Constraints checked once"): what the rows' integrity
-- costs per statement is the foreign-key checks (one SPI query per row and
-- key) and the CHECK constraints, which PostgreSQL reads back from the
-- catalog and plans again for every INSERT statement, one by one.
--
--   1. The children's two single-column foreign keys are implied by a third:
--      (invoice_id, tenant_id) → invoices (id, tenant_id) says the invoice
--      exists AND has the row's tenant, and invoices.tenant_id → tenants says
--      that tenant exists. The composite key takes over ON DELETE CASCADE and
--      the GraphQL relations are declared with @foreignKey smart tags of the
--      same names, so the API does not change. Key checks per
--      invoice (1 invoice, 3 lines, 4 installments): 24 → 10.
--   2. max_amount() as a literal in the CHECKs: 000014 section 4 meant to do
--      it, but matched 'paytrust_public.max_amount()' while
--      pg_get_constraintdef printed the name unqualified (the migration's
--      search_path includes paytrust_public), so nothing was replaced and the
--      SQL function was still inlined (its body parsed) for every INSERT.
--   3. The row checks of each table are two or three constraints instead of
--      8 to 15 (<table>_amounts_check, invoices_texts_check; the status lists
--      stay on their own): the same conditions (a CHECK passes unless one of
--      its conditions is false, so AND-ing them changes nothing), fewer
--      expressions to plan per statement. The API
--      reports every CHECK violation as PTVAL whatever its name
--      (src/plugins/maskError.ts).
--
-- Idempotent: every step looks at the catalog first.

-- ============================================================================
-- 1. Children: one foreign key to their invoice, which also carries the tenant
-- ============================================================================

do $$
declare
  v_table text;
  v_field text;
  v_tags text;
  v_comment text;
begin
  foreach v_table in array array['line_items', 'installments'] loop
    v_field := case v_table when 'line_items' then 'lineItems' else 'installments' end;
    if exists (select 1 from pg_catalog.pg_constraint
                where conrelid = format('paytrust_public.%I', v_table)::regclass
                  and conname = v_table || '_invoice_id_fkey') then
      execute format('alter table paytrust_public.%1$I
        drop constraint %1$s_invoice_id_fkey,
        drop constraint %1$s_tenant_id_fkey,
        drop constraint %1$s_same_tenant,
        add constraint %1$s_same_tenant foreign key (invoice_id, tenant_id)
          references paytrust_public.invoices (id, tenant_id) on delete cascade', v_table);
    end if;
    -- The two relations the dropped keys gave the API, declared with the same
    -- names (PostGraphile @foreignKey smart tags; the database enforces both
    -- through the composite key and invoices.tenant_id).
    v_tags := format(E'@foreignKey (invoice_id) references paytrust_public.invoices (id)|@foreignFieldName %1$s\n'
                     '@foreignKey (tenant_id) references paytrust_public.tenants (id)|@foreignFieldName %1$s', v_field);
    v_comment := coalesce(obj_description(format('paytrust_public.%I', v_table)::regclass, 'pg_class'), '');
    if v_comment not like '@foreignKey %' then
      execute format('comment on table paytrust_public.%I is %L', v_table, v_tags || E'\n' || v_comment);
    end if;
  end loop;
end;
$$;

comment on constraint line_items_same_tenant on paytrust_public.line_items is
  E'@behavior -*\nThe line''s invoice, of the line''s own tenant (and so the tenant exists: invoices.tenant_id). Deleting the invoice deletes its lines. The API''s relations are the table''s @foreignKey tags.';
comment on constraint installments_same_tenant on paytrust_public.installments is
  E'@behavior -*\nThe installment''s invoice, of the installment''s own tenant (and so the tenant exists: invoices.tenant_id). Deleting the invoice deletes its installments. The API''s relations are the table''s @foreignKey tags.';

-- ============================================================================
-- 2 and 3. One range check per table, the amount cap as a literal
-- ============================================================================

-- Each table's amounts_check is rebuilt only while one of the constraints it
-- replaces still exists, so a re-run validates nothing. The cap is
-- max_amount()'s value when this runs (max_amount() stays the one definition;
-- a change of it comes with a migration that rebuilds these).
do $$
declare
  v_cap text := paytrust_public.max_amount()::text || '::bigint';
begin
  if to_regclass('paytrust_public.invoices') is not null and exists (
       select 1 from pg_catalog.pg_constraint
        where conrelid = 'paytrust_public.invoices'::regclass and conname = 'invoices_subtotal_check') then
    execute format($sql$
      alter table paytrust_public.invoices
        drop constraint invoices_subtotal_check,
        drop constraint invoices_tax_total_check,
        drop constraint invoices_service_fee_check,
        drop constraint invoices_total_check,
        drop constraint invoices_amount_paid_check,
        drop constraint invoices_overpayment_amount_check,
        drop constraint invoices_amount_refunded_check,
        drop constraint invoices_installment_count_check,
        drop constraint total_is_sum,
        add constraint invoices_amounts_check check (
          subtotal >= 0 and tax_total >= 0 and service_fee >= 0
          and total >= 0 and total <= %1$s
          and total = subtotal + tax_total + service_fee
          and amount_paid >= 0 and overpayment_amount >= 0 and amount_refunded >= 0
          and installment_count >= 1 and installment_count <= 12)
    $sql$, v_cap);
  end if;
  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.invoices'::regclass and conname = 'invoices_customer_name_check') then
    alter table paytrust_public.invoices
      drop constraint invoices_customer_name_check,
      drop constraint invoices_customer_email_check,
      drop constraint invoices_description_check,
      drop constraint invoices_external_ref_check,
      drop constraint invoices_idempotency_key_check,
      add constraint invoices_texts_check check (
        length(customer_name) >= 1 and length(customer_name) <= 200
        and length(customer_email) <= 254 and customer_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
        and length(description) <= 1000
        and length(external_ref) >= 1 and length(external_ref) <= 200
        and length(idempotency_key) >= 1 and length(idempotency_key) <= 255);
  end if;

  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.line_items'::regclass and conname = 'line_items_unit_price_check') then
    execute format($sql$
      alter table paytrust_public.line_items
        drop constraint line_items_position_check,
        drop constraint line_items_quantity_check,
        drop constraint line_items_unit_price_check,
        drop constraint line_items_line_amount_check,
        drop constraint line_items_tax_amount_check,
        drop constraint line_items_tax_rate_check,
        drop constraint line_amount_is_product,
        add constraint line_items_amounts_check check (
          position >= 1 and quantity >= 1 and unit_price >= 0
          and line_amount >= 0 and line_amount <= %1$s
          and line_amount::numeric = quantity::numeric * unit_price::numeric
          and tax_amount >= 0 and tax_rate >= 0 and tax_rate <= 100)
    $sql$, v_cap);
  end if;

  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.installments'::regclass and conname = 'installments_principal_check') then
    alter table paytrust_public.installments
      drop constraint installments_number_check,
      drop constraint installments_principal_check,
      drop constraint installments_tax_amount_check,
      drop constraint installments_fee_amount_check,
      drop constraint installments_total_check,
      drop constraint installments_paid_amount_check,
      drop constraint total_is_sum,
      add constraint installments_amounts_check check (
        number >= 1 and number <= 12
        and principal >= 0 and tax_amount >= 0 and fee_amount >= 0 and total >= 0 and paid_amount >= 0
        and total = principal + tax_amount + fee_amount);
  end if;
end;
$$;

comment on constraint invoices_amounts_check on paytrust_public.invoices is
  E'Every amount is 0 or more; total = subtotal + tax_total + service_fee, at most max_amount() (as a literal: a CHECK is planned again for every INSERT); 1 to 12 installments.';
comment on constraint invoices_texts_check on paytrust_public.invoices is
  E'customerName 1-200 characters, customerEmail an address of at most 254, description at most 1000, externalRef and idempotencyKey 1-200 / 1-255 (when given).';
comment on constraint line_items_amounts_check on paytrust_public.line_items is
  E'position and quantity at least 1; amounts 0 or more; line_amount = quantity × unit_price, at most max_amount(); tax_rate 0 to 100.';
comment on constraint installments_amounts_check on paytrust_public.installments is
  E'number 1 to 12; every amount 0 or more; total = principal + tax_amount + fee_amount.';
