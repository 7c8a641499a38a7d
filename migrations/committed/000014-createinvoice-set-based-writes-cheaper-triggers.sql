--! Previous: sha1:e2646df0b5055b734ecc2f668b2889c361b86a23
--! Hash: sha1:5734bb2e83e73e43ba07bc0c4e5127f7174e88d0
--! Message: createInvoice: set-based writes, cheaper triggers

--! split: 650-create-invoice-performance.sql
-- Issue 17, item 3: createInvoice's SQL at half the cost (docs/benchmarks.md,
-- "createInvoice SQL profile"). Same rules, same error codes and messages,
-- same rows; less work per invoice and a shorter hold of the tenant's number
-- counter (100-sql-safety.sql, item 9: numbers 1, 2, 3… per tenant, gap-free,
-- so the counter row stays locked from the invoice's INSERT until COMMIT):
--
--   * insert_invoice validates and computes the lines in ONE query (the
--     row-by-row loop only runs to name the first bad line, on the error path)
--     and computes the installment plan BEFORE anything is written; the
--     "invoice.create" audit row is written before the invoice too. After the
--     invoice's INSERT, which takes the counter lock, only one statement
--     remains: the set-based INSERTs of the lines and installments (already
--     computed).
--   * The sums check (PTSUM) of what insert_invoice writes runs once per
--     invoice, on the computed lines and plan, right before they are written;
--     its deferred constraint triggers skip exactly those rows (no deferred
--     work at COMMIT, under the counter lock). Every other insert, update or
--     delete is still checked at commit.
--   * "Inserted by insert_invoice" (paytrust.inserting_invoice names the
--     invoice AND the owner is running, i.e. one of the owner's SECURITY
--     DEFINER functions set it) is spelled out in the trigger WHEN clauses,
--     with the owner as a literal, instead of two catalog queries per row.
--   * Row triggers that could not do anything for a new invoice's children no
--     longer fire for them: immutability (a new invoice has no payment) and the
--     report ledger (a new installment is pending); timestamps on insert fire
--     only when an INSERT sets them to something else than now().
--   * audit() in PL/pgSQL (its INSERT plan kept), max_amount() as a literal in
--     the CHECK constraints, generic plans in insert_invoice_audited: no SQL
--     parsed or planned again per call.

-- ============================================================================
-- 1. "Inserted together with its invoice by insert_invoice": an inlinable test
-- ============================================================================

-- The owner (who runs the migrations and owns every table and SECURITY
-- DEFINER function) is written into the function as a literal when the
-- migration runs; re-applying the migrations after a change of owner renews
-- it. A stale name fails safe: the checks then simply run.
do $$
declare
  v_owner name := (select pg_catalog.pg_get_userbyid(c.relowner) from pg_catalog.pg_class c
                    where c.oid = 'paytrust_public.invoices'::regclass);
begin
  execute format($f$
    create or replace function paytrust_private.inserting_with_invoice(p_invoice_id uuid) returns boolean as $b$
      select coalesce(current_setting('paytrust.inserting_invoice', true), '') = p_invoice_id::text
         and current_user = %L::name;
    $b$ language sql stable
  $f$, v_owner);
end;
$$;
comment on function paytrust_private.inserting_with_invoice(uuid) is
  E'True for rows insert_invoice writes with their new invoice: paytrust.inserting_invoice names the invoice and the tables'' owner is running (a SECURITY DEFINER function of the owner set it; a GUC alone proves nothing). The trigger WHEN clauses of 650-create-invoice-performance.sql spell out the same expression.';

-- ============================================================================
-- 2. insert_invoice: one query for the lines, the plan before any write
-- ============================================================================

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

  -- line items: every check, amount and tax in one query
  v_lines := coalesce(array_length(p_line_items, 1), 0);
  if p_line_items is null or v_lines = 0 then
    raise exception 'An invoice needs at least one line item' using errcode = 'PTEMP';
  end if;
  if v_lines > 1000 then
    raise exception 'An invoice has at most 1000 line items' using errcode = 'PTLIN';
  end if;
  select bool_and(s.valid),
         array_agg(case when s.valid then s.amount::bigint end order by s.n),
         array_agg(case when s.valid then paytrust_public.line_tax(s.amount::bigint, s.tax_rate) end order by s.n)
    into v_valid, v_amounts, v_taxes
    from (select l.n, l.quantity::numeric * l.unit_price as amount, l.tax_rate,
                 l.description is not null and length(trim(l.description)) > 0 and length(l.description) <= 500
                 and l.quantity is not null and l.quantity >= 1
                 and l.unit_price is not null and l.unit_price >= 0
                 and l.tax_rate is not null and l.tax_rate >= 0 and l.tax_rate <= 100
                 and l.tax_rate = round(l.tax_rate, 2)
                 and l.quantity::numeric * l.unit_price <= paytrust_public.max_amount() as valid
            from unnest(p_line_items) with ordinality as l(description, quantity, unit_price, tax_rate, n)) s;
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
  select sum(a), sum(t) into v_subtotal, v_tax
    from unnest(v_amounts, v_taxes) as x(a, t);
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
  -- The split (split_installments: truncated shares, the last absorbs the remainder).
  select array_agg(s.principal order by s.number), array_agg(s.tax_amount order by s.number),
         array_agg(s.fee_amount order by s.number)
    into v_principals, v_tax_shares, v_fee_shares
    from paytrust_public.split_installments(v_subtotal::bigint, v_tax::bigint, v_fee, v_weights) s;

  -- The sums check (PTSUM) of what is about to be written, once per invoice:
  -- the rows below are exactly these arrays, so their deferred checks are skipped.
  if v_lines <> coalesce(array_length(v_amounts, 1), 0)
     or coalesce(array_length(v_principals, 1), 0) <> v_count
     or (select sum(p) from unnest(v_principals) p) <> v_subtotal
     or (select sum(t) from unnest(v_tax_shares) t) <> v_tax
     or (select sum(f) from unnest(v_fee_shares) f) <> v_fee then
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
comment on function paytrust_private.insert_invoice_audited(uuid, uuid, text, text, text, text,
  paytrust_public.invoice_line[], text, date, integer, integer, numeric[], date[], text, text, text, text) is
  E'insert_invoice, plus the audit row p_audit_action (when not null) written before the invoice, so that nothing but the rows themselves follows the number counter''s lock.';

-- The shared entry point of createSupplementaryInvoice and replaceInvoiceLineItems (unchanged signature).
create or replace function paytrust_private.insert_invoice(
  p_tenant_id uuid, p_parent_invoice_id uuid, p_currency text, p_gateway text,
  p_customer_name text, p_customer_email text, p_line_items paytrust_public.invoice_line[],
  p_description text, p_due_date date, p_installment_count integer, p_installment_interval_days integer,
  p_installment_weights numeric[], p_installment_due_dates date[], p_external_ref text,
  p_idempotency_key text, p_request_hash text
) returns paytrust_public.invoices as $$
begin
  return paytrust_private.insert_invoice_audited(
    p_tenant_id, p_parent_invoice_id, p_currency, p_gateway, p_customer_name, p_customer_email, p_line_items,
    p_description, p_due_date, p_installment_count, p_installment_interval_days, p_installment_weights,
    p_installment_due_dates, p_external_ref, p_idempotency_key, p_request_hash, null);
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

-- create_invoice: as in 000002, with its audit row written by insert_invoice_audited.
create or replace function paytrust_public.create_invoice(
  currency text,
  gateway text,
  customer_name text,
  customer_email text,
  line_items paytrust_public.invoice_line[],
  description text default null,
  due_date date default null,
  installment_count integer default 1,
  installment_interval_days integer default 30,
  installment_weights numeric[] default null,
  installment_due_dates date[] default null,
  external_ref text default null,
  idempotency_key text default null
) returns paytrust_public.invoices as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_hash text;
  v_existing paytrust_public.invoices;
begin
  if idempotency_key is not null then
    if length(idempotency_key) not between 1 and 255 then
      raise exception 'idempotencyKey must be 1 to 255 characters' using errcode = 'PTVAL';
    end if;
    -- Canonical request fingerprint (Stripe convention: same key + same input = same invoice).
    v_hash := md5(jsonb_build_array(currency, gateway, customer_name, customer_email, to_jsonb(line_items),
      description, due_date, installment_count, installment_interval_days, installment_weights,
      installment_due_dates, external_ref)::text);
    -- Serialise concurrent requests with the same key.
    perform pg_advisory_xact_lock(hashtextextended(v_tenant::text || ':' || idempotency_key, 0));
    select * into v_existing from paytrust_public.invoices i
     where i.tenant_id = v_tenant and i.idempotency_key = create_invoice.idempotency_key;
    if found then
      if v_existing.idempotency_hash = v_hash then
        return v_existing;
      end if;
      raise exception 'idempotencyKey "%" was already used with different input', idempotency_key
        using errcode = 'PTIDM';
    end if;
  end if;

  return paytrust_private.insert_invoice_audited(
    v_tenant, null, currency, gateway, customer_name, customer_email, line_items, description, due_date,
    installment_count, installment_interval_days, installment_weights, installment_due_dates, external_ref,
    idempotency_key, v_hash, 'invoice.create');
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

-- ============================================================================
-- 3. Triggers: nothing fires for what insert_invoice writes that cannot apply
-- ============================================================================

-- The deferred sums checks (000002) and the children's immutability check
-- skip exactly insert_invoice's own rows. Their WHEN clauses spell out
-- inserting_with_invoice() (with the owner as a literal) instead of calling
-- it: a trigger's WHEN is re-planned for every statement, and inlining a SQL
-- function there means parsing its body each time.
do $$
declare
  v_owner name := (select pg_catalog.pg_get_userbyid(c.relowner) from pg_catalog.pg_class c
                    where c.oid = 'paytrust_public.invoices'::regclass);
  v_skip text := 'not (coalesce(current_setting(''paytrust.inserting_invoice'', true), '''') = %s::text'
                 || ' and current_user = ' || quote_literal(v_owner) || '::name)';
  v_table text;
begin
  -- the invoice: every update of its amounts, every insert but insert_invoice's
  drop trigger if exists _500_check_sums on paytrust_public.invoices;
  execute format('create constraint trigger _500_check_sums
    after insert or update of subtotal, tax_total, service_fee, installment_count on paytrust_public.invoices
    deferrable initially deferred for each row when (%s)
    execute procedure paytrust_private.tg__check_invoice_sums()', format(v_skip, 'new.id'));
  foreach v_table in array array['paytrust_public.line_items', 'paytrust_public.installments'] loop
    -- inserts (updates and deletes: _501_check_sums, unchanged)
    execute format('drop trigger if exists _500_check_sums on %s', v_table);
    execute format('create constraint trigger _500_check_sums after insert on %s
      deferrable initially deferred for each row when (%s)
      execute procedure paytrust_private.tg__check_invoice_sums()', v_table, format(v_skip, 'new.invoice_id'));
    -- immutability: a new invoice has no payment yet, so its own children skip it
    execute format('drop trigger if exists _200_immutable on %s', v_table);
    execute format('create trigger _200_immutable before update or delete on %s
      for each row execute procedure paytrust_private.tg_invoice_children__immutable()', v_table);
    execute format('drop trigger if exists _200_immutable_insert on %s', v_table);
    execute format('create trigger _200_immutable_insert before insert on %s
      for each row when (%s)
      execute procedure paytrust_private.tg_invoice_children__immutable()', v_table, format(v_skip, 'new.invoice_id'));
  end loop;
end;
$$;

-- The paid-installments ledger (000005): an inserted installment enters it
-- only when it is inserted paid (never by createInvoice).
drop trigger if exists _800_report on paytrust_public.installments;
create trigger _800_report after update of status, paid_at on paytrust_public.installments
  for each row execute procedure paytrust_private.tg_installments__report();
drop trigger if exists _800_report_insert on paytrust_public.installments;
create trigger _800_report_insert after insert on paytrust_public.installments
  for each row when (new.status = 'paid' and new.paid_at is not null)
  execute procedure paytrust_private.tg_installments__report();

-- Invoice timestamps (000002's tg__timestamps): on insert the column defaults
-- already are now(); the trigger fires only for an INSERT that sets others.
drop trigger if exists _100_timestamps on paytrust_public.invoices;
create trigger _100_timestamps before update on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg__timestamps();
drop trigger if exists _100_timestamps_insert on paytrust_public.invoices;
create trigger _100_timestamps_insert before insert on paytrust_public.invoices
  for each row when (new.created_at is distinct from now() or new.updated_at is distinct from now())
  execute procedure paytrust_private.tg__timestamps();

-- ============================================================================
-- 4. CHECK constraints without function calls
-- ============================================================================

-- A CHECK's expression is re-planned for every INSERT statement, and
-- inlining paytrust_public.max_amount() (a SQL function) means parsing its
-- body each time. The same bound, as a literal (max_amount() stays the one
-- definition: the literal is its value when the migration runs; a change of
-- max_amount() re-runs this). Only constraints that still call it are
-- rebuilt, so a re-run does not re-validate anything.
do $$
declare
  r record;
begin
  for r in
    select c.conrelid::regclass as tbl, c.conname, pg_catalog.pg_get_constraintdef(c.oid) as def
      from pg_catalog.pg_constraint c
     where c.contype = 'c'
       and c.conrelid in ('paytrust_public.invoices'::regclass, 'paytrust_public.line_items'::regclass)
       and pg_catalog.pg_get_constraintdef(c.oid) like '%paytrust_public.max_amount()%'
  loop
    execute format('alter table %s drop constraint %I', r.tbl, r.conname);
    execute format('alter table %s add constraint %I %s', r.tbl, r.conname,
      replace(r.def, 'paytrust_public.max_amount()', paytrust_public.max_amount()::text || '::bigint'));
  end loop;
end;
$$;

-- ============================================================================
-- 5. audit() in PL/pgSQL
-- ============================================================================

-- 000001's audit() is a SQL function. Called from PL/pgSQL, a SQL function
-- that cannot be inlined (SECURITY DEFINER) has its body parsed and planned
-- again in every transaction; PL/pgSQL keeps the INSERT's plan for the
-- session. Same row, same columns, same privileges.
create or replace function paytrust_private.audit(p_action text, p_subject_id text, p_details jsonb default '{}')
returns void as $$
begin
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
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
