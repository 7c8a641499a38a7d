--! Previous: sha1:a27b2127544e8b976f32d8740489c12033bab9f0
--! Hash: sha1:932bf0442b1194997a3b1f4a93357cf3513db5da
--! Message: invoices: currencies, gateway fees, invoices, line items, installments, money rules

-- ============================================================================
-- 1. Currencies and gateway fee configuration (platform-wide, not tenant-owned)
-- ============================================================================

-- The one place currency exponents live.
create table paytrust_public.currencies (
  code     text primary key check (code ~ '^[A-Z]{3}$'),
  exponent smallint not null check (exponent between 0 and 4),
  name     text not null
);
insert into paytrust_public.currencies (code, exponent, name) values
  ('IDR', 0, 'Indonesian rupiah'),
  ('MYR', 2, 'Malaysian ringgit'),
  ('USD', 2, 'US dollar');
alter table paytrust_public.currencies enable row level security;
create policy select_all on paytrust_public.currencies for select using (true);
grant select on paytrust_public.currencies to paytrust_tenant, paytrust_admin;
comment on table paytrust_public.currencies is E'@behavior -insert -update -delete\nSupported currencies and their minor-unit exponents.';

create table paytrust_public.gateway_configurations (
  gateway     text not null check (gateway in ('xendit', 'midtrans')),
  currency    text not null references paytrust_public.currencies,
  -- service fee = round_half_up((subtotal + tax) * fee_percent / 100) + fee_fixed
  fee_percent numeric(5, 2) not null check (fee_percent between 0 and 100),
  fee_fixed   bigint not null check (fee_fixed between 0 and 100000000000),
  enabled     boolean not null default true,
  updated_at  timestamptz not null default now(),
  primary key (gateway, currency),
  -- Bank Indonesia rule: Midtrans settles rupiah only.
  constraint midtrans_takes_idr_only check (gateway <> 'midtrans' or currency = 'IDR')
);
-- Documented defaults (docs/money.md); operators change them with updateGatewayConfiguration.
insert into paytrust_public.gateway_configurations (gateway, currency, fee_percent, fee_fixed) values
  ('xendit',   'IDR', 2.90, 2000),  -- 2.9 % + Rp 2,000
  ('xendit',   'MYR', 2.90,  100),  -- 2.9 % + RM 1.00
  ('xendit',   'USD', 2.90,   30),  -- 2.9 % + US$ 0.30
  ('midtrans', 'IDR', 2.00, 4000);  -- 2.0 % + Rp 4,000
alter table paytrust_public.gateway_configurations enable row level security;
create policy select_all on paytrust_public.gateway_configurations for select using (true);
create policy admin_update on paytrust_public.gateway_configurations for update
  using ((select paytrust_public.is_admin())) with check ((select paytrust_public.is_admin()));
grant select on paytrust_public.gateway_configurations to paytrust_tenant, paytrust_admin;
grant update (fee_percent, fee_fixed, enabled) on paytrust_public.gateway_configurations to paytrust_admin;
comment on table paytrust_public.gateway_configurations is E'@behavior -insert -delete\nService fee per gateway and currency; a gateway takes only the currencies listed here.';
create trigger _100_timestamps before update on paytrust_public.gateway_configurations
  for each row execute procedure paytrust_private.tg__timestamps();
-- tg__timestamps sets created_at too; this table has none, so give it a tiny own trigger.
drop trigger _100_timestamps on paytrust_public.gateway_configurations;
create function paytrust_private.tg__touch_updated_at() returns trigger as $$
begin
  new.updated_at := now();
  return new;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _100_touch before update on paytrust_public.gateway_configurations
  for each row execute procedure paytrust_private.tg__touch_updated_at();

-- ============================================================================
-- 2. Money rules: every rounding in ONE function, every formula in SQL
-- ============================================================================

-- The largest amount any invoice, line or payment may reach, in minor units
-- (15 digits: Rp 999 trillion, or US$ 9.99 trillion). Keeps every sum far from
-- the bigint limit, so Σ of 1000 lines or 12 installments can never overflow.
create function paytrust_public.max_amount() returns bigint as $$
  select 999999999999999::bigint;
$$ language sql immutable parallel safe;

-- THE rounding rule. 'half_up' rounds halves away from zero (all PayTrust
-- amounts are >= 0, so: up); 'down' truncates toward zero (installment
-- shares). Amounts are already in minor units, so the currency's exponent
-- plays no part here.
create function paytrust_public.round_minor(value numeric, mode text default 'half_up')
returns bigint as $$
declare
  v_result numeric;
begin
  if mode = 'half_up' then
    v_result := sign(value) * floor(abs(value) + 0.5);
  elsif mode = 'down' then
    v_result := trunc(value);
  else
    raise exception 'Unknown rounding mode %', mode using errcode = 'PTVAL';
  end if;
  if abs(v_result) > paytrust_public.max_amount() then
    raise exception 'Amount % exceeds the maximum of % minor units', v_result, paytrust_public.max_amount()
      using errcode = 'PTCAP';
  end if;
  return v_result::bigint;
end;
$$ language plpgsql immutable strict parallel safe;

-- line tax = round_half_up(line amount × rate / 100)
create function paytrust_public.line_tax(line_amount bigint, tax_rate numeric) returns bigint as $$
  select paytrust_public.round_minor(line_amount * tax_rate / 100, 'half_up');
$$ language sql immutable strict parallel safe;

-- service fee = round_half_up((subtotal + tax) × percent / 100) + fixed
create function paytrust_public.service_fee(subtotal bigint, tax_total bigint, fee_percent numeric, fee_fixed bigint)
returns bigint as $$
  select paytrust_public.round_minor((subtotal::numeric + tax_total) * fee_percent / 100, 'half_up') + fee_fixed;
$$ language sql immutable strict parallel safe;

-- Splits an invoice's components over installments by weight: each share is
-- the truncated proportional share; the LAST installment absorbs the
-- remainder, so the sums are exact and no share is negative.
create function paytrust_public.split_installments(
  subtotal bigint, tax_total bigint, service_fee bigint, weights numeric[]
) returns table (number integer, principal bigint, tax_amount bigint, fee_amount bigint, total bigint) as $$
declare
  v_count integer := coalesce(array_length(weights, 1), 0);
  v_sum numeric;
  v_principal_left bigint := subtotal;
  v_tax_left bigint := tax_total;
  v_fee_left bigint := service_fee;
  i integer;
begin
  if v_count < 1 or v_count > 12 then
    raise exception 'An invoice has 1 to 12 installments, not %', v_count using errcode = 'PTINS';
  end if;
  if exists (select 1 from unnest(weights) w where w is null or w <= 0 or w = 'NaN'::numeric or w = 'Infinity'::numeric) then
    raise exception 'Installment weights must all be positive' using errcode = 'PTWGT';
  end if;
  select sum(w) into v_sum from unnest(weights) w;
  for i in 1 .. v_count loop
    number := i;
    if i < v_count then
      -- div() truncates exactly; '/' would first round to numeric's display precision.
      principal := paytrust_public.round_minor(div(subtotal * weights[i], v_sum), 'down');
      tax_amount := paytrust_public.round_minor(div(tax_total * weights[i], v_sum), 'down');
      fee_amount := paytrust_public.round_minor(div(service_fee * weights[i], v_sum), 'down');
    else
      principal := v_principal_left;
      tax_amount := v_tax_left;
      fee_amount := v_fee_left;
    end if;
    v_principal_left := v_principal_left - principal;
    v_tax_left := v_tax_left - tax_amount;
    v_fee_left := v_fee_left - fee_amount;
    total := principal + tax_amount + fee_amount;
    return next;
  end loop;
end;
$$ language plpgsql immutable parallel safe;

grant execute on function paytrust_public.max_amount(), paytrust_public.round_minor(numeric, text),
  paytrust_public.line_tax(bigint, numeric), paytrust_public.service_fee(bigint, bigint, numeric, bigint),
  paytrust_public.split_installments(bigint, bigint, bigint, numeric[])
  to paytrust_tenant, paytrust_admin;
comment on function paytrust_public.max_amount() is E'@behavior -queryField';
comment on function paytrust_public.round_minor(numeric, text) is E'@behavior -queryField';
comment on function paytrust_public.line_tax(bigint, numeric) is E'@behavior -queryField';
comment on function paytrust_public.service_fee(bigint, bigint, numeric, bigint) is E'@behavior -queryField';
comment on function paytrust_public.split_installments(bigint, bigint, bigint, numeric[]) is E'@behavior -queryField';

-- ============================================================================
-- 3. Invoices, line items, installments (tenant-owned, RLS)
-- ============================================================================

create table paytrust_public.invoices (
  id                   uuid primary key default gen_random_uuid(),
  tenant_id            uuid not null default paytrust_public.current_tenant_id()
                         references paytrust_public.tenants on delete cascade,
  number               bigint generated always as identity unique,
  parent_invoice_id    uuid references paytrust_public.invoices on delete restrict,
  status               text not null default 'open'
                         check (status in ('open', 'pending', 'partially_paid', 'paid', 'expired', 'cancelled')),
  currency             text not null references paytrust_public.currencies,
  gateway              text not null,
  customer_name        text not null check (length(customer_name) between 1 and 200),
  customer_email       text not null check (length(customer_email) <= 254
                                            and customer_email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  description          text check (length(description) <= 1000),
  due_date             date,
  external_ref         text check (length(external_ref) between 1 and 200),
  subtotal             bigint not null check (subtotal >= 0),
  tax_total            bigint not null check (tax_total >= 0),
  service_fee          bigint not null check (service_fee >= 0),
  total                bigint not null check (total between 0 and paytrust_public.max_amount()),
  fee_percent          numeric(5, 2) not null,
  fee_fixed            bigint not null,
  installment_count    smallint not null check (installment_count between 1 and 12),
  amount_paid          bigint not null default 0 check (amount_paid >= 0),
  overpayment_amount   bigint not null default 0 check (overpayment_amount >= 0),
  payment_initiated_at timestamptz,
  paid_at              timestamptz,
  cancelled_at         timestamptz,
  idempotency_key      text check (length(idempotency_key) between 1 and 255),
  idempotency_hash     text,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  constraint total_is_sum check (total = subtotal + tax_total + service_fee),
  constraint gateway_takes_currency foreign key (gateway, currency)
    references paytrust_public.gateway_configurations (gateway, currency),
  constraint idempotency_key_unique unique (tenant_id, idempotency_key),
  -- lets children reference (invoice, tenant) so they can never belong to another tenant
  constraint invoices_id_tenant_unique unique (id, tenant_id)
);
create index invoices_tenant_created_idx on paytrust_public.invoices (tenant_id, created_at desc);
-- not partial: PostGraphile exposes a backward relation (supplementaryInvoices) only over a plain index
create index invoices_parent_idx on paytrust_public.invoices (parent_invoice_id);
create index invoices_tenant_status_idx on paytrust_public.invoices (tenant_id, status);
alter table paytrust_public.invoices enable row level security;
create policy select_own on paytrust_public.invoices for select
  using (tenant_id = (select paytrust_public.current_tenant_id()));
create policy insert_own on paytrust_public.invoices for insert
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
create policy update_own on paytrust_public.invoices for update
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
create policy delete_own on paytrust_public.invoices for delete
  using (tenant_id = (select paytrust_public.current_tenant_id()));
-- Tenants create invoices only through create_invoice (which computes every
-- amount); they may edit the descriptive fields of an invoice still open.
grant select on paytrust_public.invoices to paytrust_tenant;
grant update (description, customer_name, customer_email, due_date, external_ref)
  on paytrust_public.invoices to paytrust_tenant;
comment on table paytrust_public.invoices is E'@behavior -insert -delete\nAn invoice in one currency, collected through one gateway.';
comment on column paytrust_public.invoices.idempotency_hash is E'@behavior -*';
comment on column paytrust_public.invoices.tenant_id is E'@behavior -update';
comment on constraint invoices_parent_invoice_id_fkey on paytrust_public.invoices is
  E'@fieldName parentInvoice\n@foreignFieldName supplementaryInvoices';
create trigger _100_timestamps before insert or update on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg__timestamps();

create table paytrust_public.line_items (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null references paytrust_public.tenants on delete cascade,
  invoice_id  uuid not null references paytrust_public.invoices on delete cascade,
  position    smallint not null check (position >= 1),
  description text not null check (length(description) between 1 and 500),
  quantity    integer not null check (quantity >= 1),
  unit_price  bigint not null check (unit_price >= 0),
  tax_rate    numeric(5, 2) not null check (tax_rate between 0 and 100),
  line_amount bigint not null check (line_amount between 0 and paytrust_public.max_amount()),
  tax_amount  bigint not null check (tax_amount >= 0),
  constraint line_amount_is_product check (line_amount = quantity::numeric * unit_price),
  constraint line_items_same_tenant foreign key (invoice_id, tenant_id)
    references paytrust_public.invoices (id, tenant_id),
  unique (invoice_id, position)
);
create index line_items_tenant_idx on paytrust_public.line_items (tenant_id);
alter table paytrust_public.line_items enable row level security;
create policy all_own on paytrust_public.line_items for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
grant select on paytrust_public.line_items to paytrust_tenant;
comment on table paytrust_public.line_items is E'@behavior -insert -update -delete\nA line of an invoice: quantity × unit price, taxed at its own rate.';
comment on constraint line_items_invoice_id_fkey on paytrust_public.line_items is E'@foreignFieldName lineItems';

create table paytrust_public.installments (
  id          uuid primary key default gen_random_uuid(),
  tenant_id   uuid not null references paytrust_public.tenants on delete cascade,
  invoice_id  uuid not null references paytrust_public.invoices on delete cascade,
  number      smallint not null check (number between 1 and 12),
  due_date    date not null,
  principal   bigint not null check (principal >= 0),
  tax_amount  bigint not null check (tax_amount >= 0),
  fee_amount  bigint not null check (fee_amount >= 0),
  total       bigint not null check (total >= 0),
  status      text not null default 'pending' check (status in ('pending', 'paid')),
  paid_amount bigint not null default 0 check (paid_amount >= 0),
  paid_at     timestamptz,
  constraint total_is_sum check (total = principal + tax_amount + fee_amount),
  constraint installments_same_tenant foreign key (invoice_id, tenant_id)
    references paytrust_public.invoices (id, tenant_id),
  unique (invoice_id, number),
  constraint installments_id_tenant_unique unique (id, tenant_id)
);
create index installments_tenant_due_idx on paytrust_public.installments (tenant_id, due_date) where status = 'pending';
alter table paytrust_public.installments enable row level security;
create policy all_own on paytrust_public.installments for all
  using (tenant_id = (select paytrust_public.current_tenant_id()))
  with check (tenant_id = (select paytrust_public.current_tenant_id()));
grant select on paytrust_public.installments to paytrust_tenant;
comment on table paytrust_public.installments is E'@behavior -insert -update -delete\nOne payment of an invoice''s plan; paid in order.';
comment on constraint installments_invoice_id_fkey on paytrust_public.installments is E'@foreignFieldName installments';

-- ============================================================================
-- 4. Integrity triggers: consistency, immutability, status transitions
-- ============================================================================

-- At commit, an invoice's amounts equal the sums of its lines and installments
-- (deferred, so create_invoice can insert the invoice before its children).
create function paytrust_private.assert_invoice_sums(p_invoice_id uuid) returns void as $$
declare
  v_invoice paytrust_public.invoices;
  v_lines record;
  v_plan record;
begin
  select * into v_invoice from paytrust_public.invoices where id = p_invoice_id;
  if not found then
    return; -- the invoice itself was deleted
  end if;
  select coalesce(sum(line_amount), 0) as subtotal, coalesce(sum(tax_amount), 0) as tax, count(*) as n
    into v_lines from paytrust_public.line_items where invoice_id = p_invoice_id;
  select coalesce(sum(principal), 0) as principal, coalesce(sum(tax_amount), 0) as tax,
         coalesce(sum(fee_amount), 0) as fee, count(*) as n
    into v_plan from paytrust_public.installments where invoice_id = p_invoice_id;
  if v_lines.n = 0 or v_lines.subtotal <> v_invoice.subtotal or v_lines.tax <> v_invoice.tax_total
     or v_plan.n <> v_invoice.installment_count or v_plan.principal <> v_invoice.subtotal
     or v_plan.tax <> v_invoice.tax_total or v_plan.fee <> v_invoice.service_fee then
    raise exception 'Invoice % amounts do not match its line items and installments', p_invoice_id
      using errcode = 'PTSUM';
  end if;
end;
$$ language plpgsql stable set search_path to pg_catalog, public, pg_temp;

create function paytrust_private.tg__check_invoice_sums() returns trigger as $$
declare
  v_row jsonb := case when tg_op = 'DELETE' then to_jsonb(old) else to_jsonb(new) end;
begin
  perform paytrust_private.assert_invoice_sums(
    (v_row ->> case when tg_table_name = 'invoices' then 'id' else 'invoice_id' end)::uuid);
  return null;
end;
-- Deferred: fires at COMMIT, outside any SECURITY DEFINER caller, so it must be one itself.
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;

create constraint trigger _500_check_sums after insert or update of subtotal, tax_total, service_fee, installment_count
  on paytrust_public.invoices deferrable initially deferred
  for each row execute procedure paytrust_private.tg__check_invoice_sums();
-- Children inserted by insert_invoice together with their invoice are covered
-- by the invoice's own check above: skip the 7+ redundant checks per invoice
-- (the setting is transaction-local and names that one invoice). Any other
-- insert, and every update or delete, is checked.
create function paytrust_private.inserting_with_invoice(p_invoice_id uuid) returns boolean as $$
  select coalesce(current_setting('paytrust.inserting_invoice', true), '') = p_invoice_id::text;
$$ language sql stable;
create constraint trigger _500_check_sums after insert on paytrust_public.line_items
  deferrable initially deferred for each row
  when (not paytrust_private.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg__check_invoice_sums();
create constraint trigger _501_check_sums after update or delete on paytrust_public.line_items
  deferrable initially deferred for each row execute procedure paytrust_private.tg__check_invoice_sums();
create constraint trigger _500_check_sums after insert on paytrust_public.installments
  deferrable initially deferred for each row
  when (not paytrust_private.inserting_with_invoice(new.invoice_id))
  execute procedure paytrust_private.tg__check_invoice_sums();
create constraint trigger _501_check_sums after update or delete on paytrust_public.installments
  deferrable initially deferred for each row execute procedure paytrust_private.tg__check_invoice_sums();

-- Once a payment was initiated, what was agreed is frozen. Only the payment
-- progress columns may move; changes go through a supplementary invoice.
create function paytrust_private.tg_invoices__immutable() returns trigger as $$
begin
  if tg_op = 'DELETE' then
    if old.payment_initiated_at is not null then
      raise exception 'Invoice % has a payment initiated and cannot be deleted', old.id using errcode = 'PTIMM';
    end if;
    return old;
  end if;
  if old.payment_initiated_at is not null and (
       new.payment_initiated_at is distinct from old.payment_initiated_at
    or new.tenant_id <> old.tenant_id or new.currency <> old.currency or new.gateway <> old.gateway
    or new.subtotal <> old.subtotal or new.tax_total <> old.tax_total or new.service_fee <> old.service_fee
    or new.total <> old.total or new.installment_count <> old.installment_count
    or new.fee_percent <> old.fee_percent or new.fee_fixed <> old.fee_fixed
    or new.customer_name <> old.customer_name or new.customer_email <> old.customer_email
    or new.description is distinct from old.description or new.due_date is distinct from old.due_date
    or new.external_ref is distinct from old.external_ref
    or new.parent_invoice_id is distinct from old.parent_invoice_id
  ) then
    raise exception 'Invoice % is immutable once a payment is initiated; create a supplementary invoice instead', old.id
      using errcode = 'PTIMM';
  end if;
  if old.payment_initiated_at is null and (new.currency <> old.currency or new.tenant_id <> old.tenant_id) then
    raise exception 'An invoice''s currency and tenant never change' using errcode = 'PTIMM';
  end if;
  return new;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _200_immutable before update or delete on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg_invoices__immutable();

create function paytrust_private.tg_invoice_children__immutable() returns trigger as $$
declare
  v_invoice_id uuid := case when tg_op = 'INSERT' then new.invoice_id else old.invoice_id end;
begin
  if exists (select 1 from paytrust_public.invoices where id = v_invoice_id and payment_initiated_at is not null) then
    -- Only an installment's payment progress (status, paid_amount, paid_at) may move.
    -- Nested ifs: line_items rows have none of these columns.
    if tg_table_name = 'installments' and tg_op = 'UPDATE' then
      if new.id = old.id and new.tenant_id = old.tenant_id and new.invoice_id = old.invoice_id
         and new.number = old.number and new.due_date = old.due_date and new.principal = old.principal
         and new.tax_amount = old.tax_amount and new.fee_amount = old.fee_amount and new.total = old.total then
        return new;
      end if;
    end if;
    raise exception 'Invoice % is immutable once a payment is initiated (% on %)', v_invoice_id, lower(tg_op), tg_table_name
      using errcode = 'PTIMM';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
create trigger _200_immutable before insert or update or delete on paytrust_public.line_items
  for each row execute procedure paytrust_private.tg_invoice_children__immutable();
create trigger _200_immutable before insert or update or delete on paytrust_public.installments
  for each row execute procedure paytrust_private.tg_invoice_children__immutable();

-- Invoice status lifecycle (docs/invoices.md):
--   open → pending → partially_paid → paid
--   open → cancelled;  open|pending → expired;  expired → partially_paid|paid (late money is never refused)
create function paytrust_private.invoice_transition_allowed(p_from text, p_to text) returns boolean as $$
  select p_from = p_to or (p_from, p_to) in (
    ('open', 'pending'), ('open', 'cancelled'), ('open', 'expired'), ('open', 'partially_paid'), ('open', 'paid'),
    ('pending', 'partially_paid'), ('pending', 'paid'), ('pending', 'expired'),
    ('partially_paid', 'paid'),
    ('expired', 'partially_paid'), ('expired', 'paid'), ('expired', 'pending')
  );
$$ language sql immutable;

create function paytrust_private.tg_invoices__status() returns trigger as $$
begin
  if not paytrust_private.invoice_transition_allowed(old.status, new.status) then
    raise exception 'Invoice status cannot go from % to %', old.status, new.status using errcode = 'PTSTS';
  end if;
  return new;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
create trigger _300_status before update of status on paytrust_public.invoices
  for each row execute procedure paytrust_private.tg_invoices__status();

-- ============================================================================
-- 5. create_invoice / create_supplementary_invoice / cancel_invoice
-- ============================================================================

create type paytrust_public.invoice_line as (
  description text,
  quantity    integer,
  unit_price  bigint,
  tax_rate    numeric
);
comment on type paytrust_public.invoice_line is E'A line item to invoice: taxRate is a percentage with at most 2 decimals (11 = 11 %).';

-- Validates and inserts an invoice with its lines and installment plan.
-- Shared by create_invoice and create_supplementary_invoice; the caller has
-- already established the tenant.
create function paytrust_private.insert_invoice(
  p_tenant_id uuid, p_parent_invoice_id uuid, p_currency text, p_gateway text,
  p_customer_name text, p_customer_email text, p_line_items paytrust_public.invoice_line[],
  p_description text, p_due_date date, p_installment_count integer, p_installment_interval_days integer,
  p_installment_weights numeric[], p_installment_due_dates date[], p_external_ref text,
  p_idempotency_key text, p_request_hash text
) returns paytrust_public.invoices as $$
declare
  v_config paytrust_public.gateway_configurations;
  v_invoice paytrust_public.invoices;
  v_line paytrust_public.invoice_line;
  v_count integer := coalesce(p_installment_count, 1);
  v_interval integer := coalesce(p_installment_interval_days, 30);
  v_first_due date := coalesce(p_due_date, current_date);
  v_weights numeric[];
  v_subtotal numeric := 0;
  v_tax numeric := 0;
  v_fee bigint;
  v_line_amount numeric;
  i integer := 0;
begin
  -- currency and gateway
  if p_currency is null or not exists (select 1 from paytrust_public.currencies where code = p_currency) then
    raise exception 'Unknown currency "%": use IDR, MYR or USD', p_currency using errcode = 'PTCUR';
  end if;
  if p_gateway is null or p_gateway not in ('xendit', 'midtrans') then
    raise exception 'Unknown gateway "%": use xendit or midtrans', p_gateway using errcode = 'PTGWY';
  end if;
  select * into v_config from paytrust_public.gateway_configurations
   where gateway = p_gateway and currency = p_currency and enabled;
  if not found then
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

  -- line items
  if p_line_items is null or coalesce(array_length(p_line_items, 1), 0) = 0 then
    raise exception 'An invoice needs at least one line item' using errcode = 'PTEMP';
  end if;
  if array_length(p_line_items, 1) > 1000 then
    raise exception 'An invoice has at most 1000 line items' using errcode = 'PTLIN';
  end if;
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
    v_subtotal := v_subtotal + v_line_amount;
    v_tax := v_tax + paytrust_public.line_tax(v_line_amount::bigint, v_line.tax_rate);
  end loop;
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

  insert into paytrust_public.invoices (
    tenant_id, parent_invoice_id, currency, gateway, customer_name, customer_email, description, due_date,
    external_ref, subtotal, tax_total, service_fee, total, fee_percent, fee_fixed, installment_count,
    idempotency_key, idempotency_hash
  ) values (
    p_tenant_id, p_parent_invoice_id, p_currency, p_gateway, trim(p_customer_name), p_customer_email, p_description,
    coalesce(p_due_date, p_installment_due_dates[1]), p_external_ref, v_subtotal, v_tax, v_fee,
    v_subtotal + v_tax + v_fee, v_config.fee_percent, v_config.fee_fixed, v_count,
    p_idempotency_key, p_request_hash
  ) returning * into v_invoice;

  -- The invoice's own deferred check covers the children inserted here.
  perform set_config('paytrust.inserting_invoice', v_invoice.id::text, true);
  insert into paytrust_public.line_items
    (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
  select p_tenant_id, v_invoice.id, l.n, l.description, l.quantity, l.unit_price, l.tax_rate,
         l.quantity::numeric * l.unit_price, paytrust_public.line_tax(l.quantity * l.unit_price, l.tax_rate)
    from unnest(p_line_items) with ordinality as l(description, quantity, unit_price, tax_rate, n);

  insert into paytrust_public.installments
    (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
  select p_tenant_id, v_invoice.id, s.number,
         coalesce(p_installment_due_dates[s.number], v_first_due + (s.number - 1) * v_interval),
         s.principal, s.tax_amount, s.fee_amount, s.total
    from paytrust_public.split_installments(v_invoice.subtotal, v_invoice.tax_total, v_invoice.service_fee, v_weights) s;
  perform set_config('paytrust.inserting_invoice', '', true);

  return v_invoice;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;

create function paytrust_public.create_invoice(
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
  v_invoice paytrust_public.invoices;
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

  v_invoice := paytrust_private.insert_invoice(
    v_tenant, null, currency, gateway, customer_name, customer_email, line_items, description, due_date,
    installment_count, installment_interval_days, installment_weights, installment_due_dates, external_ref,
    idempotency_key, v_hash);
  perform paytrust_private.audit('invoice.create', v_invoice.id::text,
    jsonb_build_object('currency', v_invoice.currency, 'total', v_invoice.total::text));
  return v_invoice;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.create_invoice(text, text, text, text, paytrust_public.invoice_line[],
  text, date, integer, integer, numeric[], date[], text, text) to paytrust_tenant;
comment on function paytrust_public.create_invoice(text, text, text, text, paytrust_public.invoice_line[],
  text, date, integer, integer, numeric[], date[], text, text) is
  E'@resultFieldName invoice\nCreates an invoice with its line items and installment plan in one call. Amounts are BigInt minor units; taxRate a percentage (≤ 2 decimals). installmentCount 1 (single payment) or 2..12, split equally or by installmentWeights, due every installmentIntervalDays from dueDate or on installmentDueDates. Replaying an idempotencyKey with the same input returns the same invoice.';

create function paytrust_public.create_supplementary_invoice(
  parent_invoice_id uuid,
  line_items paytrust_public.invoice_line[],
  description text default null,
  due_date date default null,
  installment_count integer default 1,
  installment_interval_days integer default 30,
  installment_weights numeric[] default null,
  installment_due_dates date[] default null,
  external_ref text default null
) returns paytrust_public.invoices as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_parent paytrust_public.invoices;
  v_invoice paytrust_public.invoices;
begin
  select * into v_parent from paytrust_public.invoices i
   where i.id = create_supplementary_invoice.parent_invoice_id and i.tenant_id = v_tenant;
  if not found then
    raise exception 'Invoice % not found', parent_invoice_id using errcode = 'PTNFD';
  end if;
  if v_parent.payment_initiated_at is null then
    raise exception 'Invoice % has no payment initiated yet; it can still be cancelled and re-issued', v_parent.id
      using errcode = 'PTPAR';
  end if;
  if v_parent.status = 'cancelled' then
    raise exception 'Invoice % is cancelled', v_parent.id using errcode = 'PTPAR';
  end if;
  v_invoice := paytrust_private.insert_invoice(
    v_tenant, v_parent.id, v_parent.currency, v_parent.gateway, v_parent.customer_name, v_parent.customer_email,
    line_items, coalesce(description, 'Supplement to invoice ' || v_parent.number), due_date, installment_count,
    installment_interval_days, installment_weights, installment_due_dates, external_ref, null, null);
  perform paytrust_private.audit('invoice.create_supplementary', v_invoice.id::text,
    jsonb_build_object('parent_invoice_id', v_parent.id, 'total', v_invoice.total::text));
  return v_invoice;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.create_supplementary_invoice(uuid, paytrust_public.invoice_line[], text,
  date, integer, integer, numeric[], date[], text) to paytrust_tenant;
comment on function paytrust_public.create_supplementary_invoice(uuid, paytrust_public.invoice_line[], text,
  date, integer, integer, numeric[], date[], text) is
  E'@resultFieldName invoice\nAdds charges to an invoice that can no longer change: a new invoice in the same currency, gateway and customer, linked by parentInvoiceId.';

create function paytrust_public.cancel_invoice(invoice_id uuid) returns paytrust_public.invoices as $$
declare
  v_tenant uuid := paytrust_private.require_tenant();
  v_invoice paytrust_public.invoices;
begin
  select * into v_invoice from paytrust_public.invoices i
   where i.id = cancel_invoice.invoice_id and i.tenant_id = v_tenant
   for update;
  if not found then
    raise exception 'Invoice % not found', invoice_id using errcode = 'PTNFD';
  end if;
  if v_invoice.status = 'cancelled' then
    return v_invoice; -- idempotent
  end if;
  if v_invoice.payment_initiated_at is not null or v_invoice.status <> 'open' then
    raise exception 'Invoice % has a payment started (%); it cannot be cancelled', v_invoice.id, v_invoice.status
      using errcode = 'PTSTS';
  end if;
  update paytrust_public.invoices set status = 'cancelled', cancelled_at = now()
   where id = v_invoice.id returning * into v_invoice;
  perform paytrust_private.audit('invoice.cancel', v_invoice.id::text, '{}');
  return v_invoice;
end;
$$ language plpgsql volatile security definer set search_path to pg_catalog, public, pg_temp;
grant execute on function paytrust_public.cancel_invoice(uuid) to paytrust_tenant;
comment on function paytrust_public.cancel_invoice(uuid) is
  E'@resultFieldName invoice\nCancels an invoice on which no payment was started.';

-- ============================================================================
-- 6. Installment sequencing: installment k may start only when 1..k-1 are paid
-- ============================================================================

create function paytrust_public.installment_can_start(invoice_id uuid, installment_number integer)
returns boolean as $$
  select exists (
           select 1 from paytrust_public.installments i
            where i.invoice_id = installment_can_start.invoice_id and i.number = installment_number
              and i.status = 'pending')
     and not exists (
           select 1 from paytrust_public.installments i
            where i.invoice_id = installment_can_start.invoice_id and i.number < installment_number
              and i.status <> 'paid');
$$ language sql stable;
grant execute on function paytrust_public.installment_can_start(uuid, integer) to paytrust_tenant;
comment on function paytrust_public.installment_can_start(uuid, integer) is
  E'True when installment `installmentNumber` is unpaid and every earlier installment is paid.';

-- Computed column: the next installment to pay (null when all are paid).
create function paytrust_public.invoices_next_installment_number(invoice paytrust_public.invoices) returns integer as $$
  select min(number)::integer from paytrust_public.installments i
   where i.invoice_id = invoice.id and i.status <> 'paid';
$$ language sql stable;
grant execute on function paytrust_public.invoices_next_installment_number(paytrust_public.invoices) to paytrust_tenant;

-- Computed column: the human invoice reference used in documents.
create function paytrust_public.invoices_reference(invoice paytrust_public.invoices) returns text as $$
  select 'INV-' || lpad(invoice.number::text, 8, '0');
$$ language sql immutable;
grant execute on function paytrust_public.invoices_reference(paytrust_public.invoices) to paytrust_tenant;

-- The tenant-consistency keys are integrity rules, not relations to expose.
comment on constraint line_items_same_tenant on paytrust_public.line_items is E'@behavior -*';
comment on constraint installments_same_tenant on paytrust_public.installments is E'@behavior -*';
