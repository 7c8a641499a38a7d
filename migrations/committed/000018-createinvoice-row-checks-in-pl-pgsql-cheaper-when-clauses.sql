--! Previous: sha1:938872cb14824b549809f5f4f513243ed0d47b90
--! Hash: sha1:37f91d6f6169c7ac7755d27fad1e06c3dfd6852a
--! Message: createInvoice: row checks in PL/pgSQL, cheaper WHEN clauses

--! split: 670-createinvoice-row-checks-in-plpgsql.sql
-- Issue 17, item 3: createInvoice's integrity, the same rules, at less cost
-- per statement. Measured with callgrind on one backend running
-- createInvoice's transaction (instructions per invoice, docs/benchmarks.md,
-- "Row checks in PL/pgSQL"): before this migration a fifth of the backend's
-- instructions went into stringToNode, i.e. reading node trees back from the
-- catalog, and most of it was done again for every INSERT statement:
--
--   * a CHECK constraint's expression is stored as a node tree in text form
--     (pg_constraint.conbin); every INSERT or UPDATE statement reads it back,
--     plans it and compiles it (ExecRelCheck), so a 5 kB condition is paid
--     in full even for one row. A CHECK that calls a PL/pgSQL function with
--     the row is a few hundred bytes; the function's body is compiled once
--     per session and its expression is cached like any PL/pgSQL expression.
--   * a trigger's WHEN clause is read back and planned the same way for
--     every statement (TriggerEnabled). The clause that lets insert_invoice's
--     own rows skip the deferred sums check and the immutability check is now
--     a call of a PL/pgSQL function instead of the spelled-out expression
--     (000014 spelled it out because a SQL function there is inlined, i.e.
--     its body parsed again each time; a PL/pgSQL function is not).
--
-- Besides: the invoice's timestamps on INSERT are set by the number trigger
-- that fires anyway (one trigger and one WHEN clause less per invoice);
-- insert_invoice computes the sums of the lines and of the installment plan
-- in the queries that compute them (two statements less).
--
-- Idempotent: every step looks at the catalog first or replaces in place.

-- ============================================================================
-- 1. The row checks: one CHECK per table, its conditions in PL/pgSQL
-- ============================================================================

-- The functions take the whole row: the CHECK is one function call and one
-- whole-row reference. They return exactly the AND of the conditions the
-- former constraints held (000017), so a NULL (e.g. no externalRef) passes
-- as it did: a CHECK fails only on false. Not STRICT, for the same reason.
-- They live in paytrust_hidden: a CHECK runs its function as the role that
-- writes the row (tenant, admin, runtime), and PostGraphile must not see it.

create or replace function paytrust_hidden.invoices_row_check(r paytrust_public.invoices) returns boolean as $$
begin
  return
    -- amounts: minor units, never negative; total = subtotal + tax + fee, capped
    r.subtotal >= 0 and r.tax_total >= 0 and r.service_fee >= 0
    and r.total >= 0 and r.total <= paytrust_public.max_amount()
    and r.total = r.subtotal + r.tax_total + r.service_fee
    and r.amount_paid >= 0 and r.overpayment_amount >= 0 and r.amount_refunded >= 0
    and r.installment_count >= 1 and r.installment_count <= 12
    -- texts
    and length(r.customer_name) >= 1 and length(r.customer_name) <= 200
    and length(r.customer_email) <= 254 and r.customer_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
    and length(r.description) <= 1000
    and length(r.external_ref) >= 1 and length(r.external_ref) <= 200
    and length(r.idempotency_key) >= 1 and length(r.idempotency_key) <= 255
    -- the life cycle (tg_invoices__status moves between these)
    and r.status in ('open', 'pending', 'partially_paid', 'paid', 'expired', 'cancelled', 'refunded');
end;
$$ language plpgsql immutable parallel safe;
comment on function paytrust_hidden.invoices_row_check(paytrust_public.invoices) is
  E'The CHECK of every invoice row (invoices_row_check): amounts 0 or more, total = subtotal + tax_total + service_fee and at most max_amount(), 1 to 12 installments, the text lengths and the email shape, a known status. NULL conditions pass, as in any CHECK.';

create or replace function paytrust_hidden.line_items_row_check(r paytrust_public.line_items) returns boolean as $$
begin
  return
    r.position >= 1 and r.quantity >= 1 and r.unit_price >= 0
    and r.line_amount >= 0 and r.line_amount <= paytrust_public.max_amount()
    and r.line_amount::numeric = r.quantity::numeric * r.unit_price::numeric
    and r.tax_amount >= 0 and r.tax_rate >= 0 and r.tax_rate <= 100
    and length(r.description) >= 1 and length(r.description) <= 500;
end;
$$ language plpgsql immutable parallel safe;
comment on function paytrust_hidden.line_items_row_check(paytrust_public.line_items) is
  E'The CHECK of every line item (line_items_row_check): position and quantity at least 1, amounts 0 or more, line_amount = quantity × unit_price and at most max_amount(), tax_rate 0 to 100, a description of 1 to 500 characters.';

create or replace function paytrust_hidden.installments_row_check(r paytrust_public.installments) returns boolean as $$
begin
  return
    r.number >= 1 and r.number <= 12
    and r.principal >= 0 and r.tax_amount >= 0 and r.fee_amount >= 0 and r.total >= 0 and r.paid_amount >= 0
    and r.total = r.principal + r.tax_amount + r.fee_amount
    and r.status in ('pending', 'paid');
end;
$$ language plpgsql immutable parallel safe;
comment on function paytrust_hidden.installments_row_check(paytrust_public.installments) is
  E'The CHECK of every installment (installments_row_check): number 1 to 12, amounts 0 or more, total = principal + tax_amount + fee_amount, status pending or paid.';

revoke all on function paytrust_hidden.invoices_row_check(paytrust_public.invoices) from public;
revoke all on function paytrust_hidden.line_items_row_check(paytrust_public.line_items) from public;
revoke all on function paytrust_hidden.installments_row_check(paytrust_public.installments) from public;
grant execute on function paytrust_hidden.invoices_row_check(paytrust_public.invoices)
  to paytrust_tenant, paytrust_admin, paytrust_runtime;
grant execute on function paytrust_hidden.line_items_row_check(paytrust_public.line_items)
  to paytrust_tenant, paytrust_admin, paytrust_runtime;
grant execute on function paytrust_hidden.installments_row_check(paytrust_public.installments)
  to paytrust_tenant, paytrust_admin, paytrust_runtime;

-- The constraints they replace go in the same ALTER as the new one is added
-- (one validation scan per table), and only while they still exist.
do $$
begin
  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.invoices'::regclass and conname = 'invoices_amounts_check') then
    alter table paytrust_public.invoices
      drop constraint invoices_amounts_check,
      drop constraint invoices_texts_check,
      drop constraint invoices_status_check,
      add constraint invoices_row_check check (paytrust_hidden.invoices_row_check(invoices));
  end if;
  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.line_items'::regclass and conname = 'line_items_amounts_check') then
    alter table paytrust_public.line_items
      drop constraint line_items_amounts_check,
      drop constraint line_items_description_check,
      add constraint line_items_row_check check (paytrust_hidden.line_items_row_check(line_items));
  end if;
  if exists (select 1 from pg_catalog.pg_constraint
              where conrelid = 'paytrust_public.installments'::regclass and conname = 'installments_amounts_check') then
    alter table paytrust_public.installments
      drop constraint installments_amounts_check,
      drop constraint installments_status_check,
      add constraint installments_row_check check (paytrust_hidden.installments_row_check(installments));
  end if;
end;
$$;

comment on constraint invoices_row_check on paytrust_public.invoices is
  E'Every invoice row: paytrust_hidden.invoices_row_check (amounts, total = subtotal + tax_total + service_fee ≤ max_amount(), 1-12 installments, texts, status).';
comment on constraint line_items_row_check on paytrust_public.line_items is
  E'Every line: paytrust_hidden.line_items_row_check (line_amount = quantity × unit_price ≤ max_amount(), tax_rate 0-100, description 1-500).';
comment on constraint installments_row_check on paytrust_public.installments is
  E'Every installment: paytrust_hidden.installments_row_check (number 1-12, total = principal + tax_amount + fee_amount, status).';

-- ============================================================================
-- 2. "Written by insert_invoice with its invoice": a PL/pgSQL test
-- ============================================================================

-- The same test as 000014's inserting_with_invoice: paytrust.inserting_invoice
-- names the invoice AND the tables' owner is running (one of the owner's
-- SECURITY DEFINER functions set it; the GUC alone proves nothing). PL/pgSQL,
-- so the trigger WHEN clauses below are one call each instead of a spelled-out
-- expression read back and planned for every statement. The owner is written
-- in as a literal when the migration runs (a stale name fails safe: the checks
-- then simply run). No SET clause: it would wrap every call in a GUC save and
-- restore; the body names everything by schema.
do $$
declare
  v_owner name := (select pg_catalog.pg_get_userbyid(c.relowner) from pg_catalog.pg_class c
                    where c.oid = 'paytrust_public.invoices'::regclass);
begin
  execute format($f$
    create or replace function paytrust_hidden.inserting_with_invoice(p_invoice_id uuid) returns boolean as $b$
    begin
      return coalesce(pg_catalog.current_setting('paytrust.inserting_invoice', true), '') = p_invoice_id::text
         and current_user = %L::name;
    end;
    $b$ language plpgsql stable parallel safe
  $f$, v_owner);
end;
$$;
comment on function paytrust_hidden.inserting_with_invoice(uuid) is
  E'True for the rows insert_invoice writes together with their new invoice: paytrust.inserting_invoice names the invoice and the tables'' owner is running. The WHEN clause of the deferred sums checks and of the children''s insert immutability check.';
revoke all on function paytrust_hidden.inserting_with_invoice(uuid) from public;
grant execute on function paytrust_hidden.inserting_with_invoice(uuid)
  to paytrust_tenant, paytrust_admin, paytrust_runtime;
drop function if exists paytrust_private.inserting_with_invoice(uuid);

-- The triggers of 000014 section 3, same events and functions, the new WHEN.
drop trigger if exists _500_check_sums on paytrust_public.invoices;
create constraint trigger _500_check_sums
  after insert or update of subtotal, tax_total, service_fee, installment_count on paytrust_public.invoices
  deferrable initially deferred for each row
  when (not paytrust_hidden.inserting_with_invoice(new.id))
  execute procedure paytrust_private.tg__check_invoice_sums();

drop trigger if exists _500_check_sums on paytrust_public.line_items;
create constraint trigger _500_check_sums after insert on paytrust_public.line_items
  deferrable initially deferred for each row
  when (not paytrust_hidden.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg__check_invoice_sums();
drop trigger if exists _200_immutable_insert on paytrust_public.line_items;
create trigger _200_immutable_insert before insert on paytrust_public.line_items
  for each row when (not paytrust_hidden.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg_invoice_children__immutable();

drop trigger if exists _500_check_sums on paytrust_public.installments;
create constraint trigger _500_check_sums after insert on paytrust_public.installments
  deferrable initially deferred for each row
  when (not paytrust_hidden.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg__check_invoice_sums();
drop trigger if exists _200_immutable_insert on paytrust_public.installments;
create trigger _200_immutable_insert before insert on paytrust_public.installments
  for each row when (not paytrust_hidden.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg_invoice_children__immutable();

-- ============================================================================
-- 3. The invoice's timestamps on INSERT: in the number trigger
-- ============================================================================

-- _050_number fires for every inserted invoice; it now also sets created_at
-- and updated_at to now() (what tg__timestamps does on INSERT), so
-- _100_timestamps_insert and its WHEN clause go. Updates keep _100_timestamps.
create or replace function paytrust_private.tg_invoices__number() returns trigger as $$
begin
  if tg_op = 'UPDATE' then
    new.number := old.number; -- a number, once issued, never changes
    return new;
  end if;
  -- An invoice is created now, whatever the INSERT said (tg__timestamps' rule).
  new.created_at := now();
  new.updated_at := now();
  insert into paytrust_private.invoice_counters as c (tenant_id, last_number)
  values (new.tenant_id, 1)
  on conflict (tenant_id) do update set last_number = c.last_number + 1
  returning c.last_number into new.number;
  return new;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
comment on function paytrust_private.tg_invoices__number() is
  E'BEFORE INSERT: the next number of the tenant (gap-free: the counter row stays locked until commit) and created_at = updated_at = now(); BEFORE UPDATE OF number: the number never changes.';
drop trigger if exists _100_timestamps_insert on paytrust_public.invoices;

-- ============================================================================
-- 4. insert_invoice: the sums in the queries that compute the rows
-- ============================================================================

-- As 000014, with two statements less per invoice: the lines query also sums
-- the line amounts and taxes, and the plan query also sums the shares for the
-- sums check (PTSUM), which is then a plain comparison.
create or replace function paytrust_private.insert_invoice_audited(
  p_tenant_id uuid, p_parent_invoice_id uuid, p_currency text, p_gateway text,
  p_customer_name text, p_customer_email text, p_line_items paytrust_public.invoice_line[],
  p_description text, p_due_date date, p_installment_count integer, p_installment_interval_days integer,
  p_installment_weights numeric[], p_installment_due_dates date[], p_external_ref text,
  p_idempotency_key text, p_request_hash text, p_audit_action text
) returns paytrust_public.invoices as $$
declare
  v_id uuid := gen_random_uuid();
  v_config paytrust_public.gateway_configurations;
  v_invoice paytrust_public.invoices;
  v_line paytrust_public.invoice_line;
  v_count integer := coalesce(p_installment_count, 1);
  v_interval integer := coalesce(p_installment_interval_days, 30);
  v_first_due date := coalesce(p_due_date, current_date);
  v_weights numeric[];
  v_valid boolean;
  v_lines integer;
  v_amounts bigint[];
  v_taxes bigint[];
  v_subtotal numeric := 0;
  v_tax numeric := 0;
  v_fee bigint;
  v_line_amount numeric;
  v_principals bigint[];
  v_tax_shares bigint[];
  v_fee_shares bigint[];
  v_plan_principal numeric;
  v_plan_tax numeric;
  v_plan_fee numeric;
  v_flag text;
  i integer := 0;
begin
  -- currency and gateway: one lookup when they are fine; the reason when not
  select * into v_config from paytrust_public.gateway_configurations
   where gateway = p_gateway and currency = p_currency and enabled;
  if not found then
    if p_currency is null or not exists (select 1 from paytrust_public.currencies where code = p_currency) then
      raise exception 'Unknown currency "%": use IDR, MYR or USD', p_currency using errcode = 'PTCUR';
    end if;
    if p_gateway is null or p_gateway not in ('xendit', 'midtrans') then
      raise exception 'Unknown gateway "%": use xendit or midtrans', p_gateway using errcode = 'PTGWY';
    end if;
    raise exception 'Gateway % does not accept %', p_gateway, p_currency using errcode = 'PTGWC';
  end if;

  -- customer and texts
  if p_customer_name is null or length(trim(p_customer_name)) = 0 or length(p_customer_name) > 200 then
    raise exception 'customerName must be 1 to 200 characters' using errcode = 'PTVAL';
  end if;
  if p_customer_email is null or length(p_customer_email) > 254
     or p_customer_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception 'customerEmail is not a valid email address' using errcode = 'PTVAL';
  end if;
  if length(p_description) > 1000 then
    raise exception 'description is longer than 1000 characters' using errcode = 'PTVAL';
  end if;
  if p_external_ref is not null and (length(p_external_ref) = 0 or length(p_external_ref) > 200) then
    raise exception 'externalRef must be 1 to 200 characters' using errcode = 'PTVAL';
  end if;

  -- line items: every check, amount, tax and their sums in one query
  v_lines := coalesce(array_length(p_line_items, 1), 0);
  if p_line_items is null or v_lines = 0 then
    raise exception 'An invoice needs at least one line item' using errcode = 'PTEMP';
  end if;
  if v_lines > 1000 then
    raise exception 'An invoice has at most 1000 line items' using errcode = 'PTLIN';
  end if;
  select bool_and(t.valid),
         array_agg(t.amount order by t.n), array_agg(t.tax order by t.n),
         sum(t.amount), sum(t.tax)
    into v_valid, v_amounts, v_taxes, v_subtotal, v_tax
    from (select s.n, s.valid,
                 case when s.valid then s.amount::bigint end as amount,
                 case when s.valid then paytrust_public.line_tax(s.amount::bigint, s.tax_rate) end as tax
            from (select l.n, l.quantity::numeric * l.unit_price as amount, l.tax_rate,
                         l.description is not null and length(trim(l.description)) > 0 and length(l.description) <= 500
                         and l.quantity is not null and l.quantity >= 1
                         and l.unit_price is not null and l.unit_price >= 0
                         and l.tax_rate is not null and l.tax_rate >= 0 and l.tax_rate <= 100
                         and l.tax_rate = round(l.tax_rate, 2)
                         and l.quantity::numeric * l.unit_price <= paytrust_public.max_amount() as valid
                    from unnest(p_line_items) with ordinality as l(description, quantity, unit_price, tax_rate, n)) s) t;
  if not coalesce(v_valid, false) then
    -- Some line is bad: the checks one line at a time, to name the first bad one.
    foreach v_line in array p_line_items loop
      i := i + 1;
      if v_line.description is null or length(trim(v_line.description)) = 0 or length(v_line.description) > 500 then
        raise exception 'Line %: description must be 1 to 500 characters', i using errcode = 'PTVAL';
      end if;
      if v_line.quantity is null or v_line.quantity < 1 then
        raise exception 'Line %: quantity must be a whole number of at least 1', i using errcode = 'PTQTY';
      end if;
      if v_line.unit_price is null or v_line.unit_price < 0 then
        raise exception 'Line %: unitPrice must be 0 or more (minor units)', i using errcode = 'PTPRC';
      end if;
      if v_line.tax_rate is null or v_line.tax_rate < 0 or v_line.tax_rate > 100
         or v_line.tax_rate <> round(v_line.tax_rate, 2) then
        raise exception 'Line %: taxRate must be between 0 and 100 with at most 2 decimals', i using errcode = 'PTTAX';
      end if;
      v_line_amount := v_line.quantity::numeric * v_line.unit_price;
      if v_line_amount > paytrust_public.max_amount() then
        raise exception 'Line %: amount exceeds the maximum of % minor units', i, paytrust_public.max_amount()
          using errcode = 'PTCAP';
      end if;
    end loop;
    raise exception 'Invalid line items' using errcode = 'PTVAL'; -- not reached
  end if;
  if v_subtotal + v_tax > paytrust_public.max_amount() then
    raise exception 'Invoice total exceeds the maximum of % minor units', paytrust_public.max_amount()
      using errcode = 'PTCAP';
  end if;
  v_fee := paytrust_public.service_fee(v_subtotal::bigint, v_tax::bigint, v_config.fee_percent, v_config.fee_fixed);
  if v_subtotal + v_tax + v_fee > paytrust_public.max_amount() then
    raise exception 'Invoice total exceeds the maximum of % minor units', paytrust_public.max_amount()
      using errcode = 'PTCAP';
  end if;

  -- installment plan
  if v_count < 1 or v_count > 12 then
    raise exception 'installmentCount must be between 1 and 12, not %', v_count using errcode = 'PTINS';
  end if;
  if v_interval < 1 or v_interval > 366 then
    raise exception 'installmentIntervalDays must be between 1 and 366' using errcode = 'PTINS';
  end if;
  if p_installment_weights is not null then
    if coalesce(array_length(p_installment_weights, 1), 0) <> v_count then
      raise exception 'installmentWeights has % values for % installments',
        coalesce(array_length(p_installment_weights, 1), 0), v_count using errcode = 'PTWGT';
    end if;
    v_weights := p_installment_weights;
  else
    v_weights := array_fill(1::numeric, array[v_count]);
  end if;
  if p_installment_due_dates is not null then
    if coalesce(array_length(p_installment_due_dates, 1), 0) <> v_count then
      raise exception 'installmentDueDates has % dates for % installments',
        coalesce(array_length(p_installment_due_dates, 1), 0), v_count using errcode = 'PTDUE';
    end if;
    if exists (
      select 1 from unnest(p_installment_due_dates) with ordinality d(due, n)
       where due is null
          or due <= (select due2 from unnest(p_installment_due_dates) with ordinality d2(due2, n2) where n2 = d.n - 1)
    ) then
      raise exception 'installmentDueDates must be strictly increasing' using errcode = 'PTDUE';
    end if;
  end if;
  -- The split (split_installments: truncated shares, the last absorbs the
  -- remainder) and its sums, in one query.
  select array_agg(s.principal order by s.number), array_agg(s.tax_amount order by s.number),
         array_agg(s.fee_amount order by s.number),
         sum(s.principal), sum(s.tax_amount), sum(s.fee_amount)
    into v_principals, v_tax_shares, v_fee_shares, v_plan_principal, v_plan_tax, v_plan_fee
    from paytrust_public.split_installments(v_subtotal::bigint, v_tax::bigint, v_fee, v_weights) s;

  -- The sums check (PTSUM) of what is about to be written, once per invoice:
  -- the rows below are exactly these arrays, so their deferred checks are skipped.
  if v_lines <> coalesce(array_length(v_amounts, 1), 0)
     or coalesce(array_length(v_principals, 1), 0) <> v_count
     or v_plan_principal is distinct from v_subtotal
     or v_plan_tax is distinct from v_tax
     or v_plan_fee is distinct from v_fee then
    raise exception 'Invoice % amounts do not match its line items and installments', v_id
      using errcode = 'PTSUM';
  end if;

  if p_audit_action is not null then
    perform paytrust_private.audit(p_audit_action, v_id::text,
      jsonb_build_object('currency', p_currency, 'total', (v_subtotal + v_tax + v_fee)::bigint::text));
  end if;

  -- Writes. The invoice's INSERT takes the tenant's number counter row lock
  -- (trigger _050_number), held until commit: only the children's INSERT follows.
  v_flag := set_config('paytrust.inserting_invoice', v_id::text, true);
  insert into paytrust_public.invoices (
    id, tenant_id, parent_invoice_id, currency, gateway, customer_name, customer_email, description, due_date,
    external_ref, subtotal, tax_total, service_fee, total, fee_percent, fee_fixed, installment_count,
    idempotency_key, idempotency_hash
  ) values (
    v_id, p_tenant_id, p_parent_invoice_id, p_currency, p_gateway, trim(p_customer_name), p_customer_email,
    p_description, coalesce(p_due_date, p_installment_due_dates[1]), p_external_ref, v_subtotal, v_tax, v_fee,
    v_subtotal + v_tax + v_fee, v_config.fee_percent, v_config.fee_fixed, v_count,
    p_idempotency_key, p_request_hash
  ) returning * into v_invoice;

  -- lines and installments in one statement
  with lines as (
    insert into paytrust_public.line_items
      (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
    select p_tenant_id, v_id, l.n, l.description, l.quantity, l.unit_price, l.tax_rate,
           v_amounts[l.n], v_taxes[l.n]
      from unnest(p_line_items) with ordinality as l(description, quantity, unit_price, tax_rate, n)
  )
  insert into paytrust_public.installments
    (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
  select p_tenant_id, v_id, k,
         coalesce(p_installment_due_dates[k], v_first_due + (k - 1) * v_interval),
         v_principals[k], v_tax_shares[k], v_fee_shares[k], v_principals[k] + v_tax_shares[k] + v_fee_shares[k]
    from generate_series(1, v_count) k;
  v_flag := set_config('paytrust.inserting_invoice', '', true);

  return v_invoice;
end;
-- Generic plans: a custom plan of the lines query (its row count is the array's
-- length) looked cheaper than the generic one, so it was planned again, and
-- line_tax inlined again, on every call.
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp
  set plan_cache_mode to force_generic_plan;
