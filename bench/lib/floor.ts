/**
 * The floor: the physical reference for createInvoice. The same rows (1
 * invoice, 3 line items, 4 installments, the same values) written by a
 * minimal PL/pgSQL function into tables of the same shape as PayTrust's —
 * the same columns, types and defaults, copied with CREATE TABLE … (LIKE …),
 * so the floor follows the schema as it changes — but with a primary key as
 * their only index and constraint, no foreign keys, checks, triggers or audit
 * row, and with row-level security on (the tenant inserts as itself, under
 * the same kind of policy PayTrust's tables have). Invoice numbers come from a
 * plain sequence.
 *
 * Created by the bench set-up in the bench database only (schema
 * `bench_floor`), never by a migration. The floor is measured with exactly the
 * ceiling's transaction shape (begin; set_config claims; the function; commit)
 * and the same bind parameters, so the two differ only in what the SQL does.
 */
import type pg from "pg";

export const FLOOR_SCHEMA = "bench_floor";
export const FLOOR_TABLES = ["invoices", "line_items", "installments"].map(
  (t) => `${FLOOR_SCHEMA}.${t}`,
);

const POLICY = "tenant_id = (select paytrust_public.current_tenant_id())";

export const FLOOR_DDL = `
drop schema if exists ${FLOOR_SCHEMA} cascade;
create schema ${FLOOR_SCHEMA};
create sequence ${FLOOR_SCHEMA}.invoice_numbers;
create table ${FLOOR_SCHEMA}.invoices (like paytrust_public.invoices including defaults including generated);
create table ${FLOOR_SCHEMA}.line_items (like paytrust_public.line_items including defaults including generated);
create table ${FLOOR_SCHEMA}.installments (like paytrust_public.installments including defaults including generated);
alter table ${FLOOR_SCHEMA}.invoices alter column number set default nextval('${FLOOR_SCHEMA}.invoice_numbers');
alter table ${FLOOR_SCHEMA}.invoices add primary key (id);
alter table ${FLOOR_SCHEMA}.line_items add primary key (id);
alter table ${FLOOR_SCHEMA}.installments add primary key (id);
${FLOOR_TABLES.map(
  (t) => `alter table ${t} enable row level security;
create policy insert_own on ${t} for insert with check (${POLICY});
create policy select_own on ${t} for select using (${POLICY});`,
).join("\n")}
grant usage on schema ${FLOOR_SCHEMA} to paytrust_tenant;
grant select, insert on ${FLOOR_TABLES.join(", ")} to paytrust_tenant;
grant usage on sequence ${FLOOR_SCHEMA}.invoice_numbers to paytrust_tenant;

-- The same rows as paytrust_public.create_invoice writes: line amount and
-- tax (round half up), the gateway's fee, equal installments whose last one
-- absorbs the remainders. No validation, no audit, no triggers.
create function ${FLOOR_SCHEMA}.create_invoice(
  currency text, gateway text, customer_name text, customer_email text,
  line_items paytrust_public.invoice_line[], description text default null,
  installment_count integer default 1, installment_interval_days integer default 30
) returns ${FLOOR_SCHEMA}.invoices as $$
declare
  v_tenant uuid := paytrust_public.current_tenant_id();
  v_subtotal bigint;
  v_tax bigint;
  v_fee bigint;
  v_percent numeric;
  v_fixed bigint;
  v_invoice ${FLOOR_SCHEMA}.invoices;
begin
  select sum(l.quantity::bigint * l.unit_price),
         sum(round(l.quantity::numeric * l.unit_price * l.tax_rate / 100))
    into v_subtotal, v_tax from unnest(line_items) l;
  select c.fee_percent, c.fee_fixed into v_percent, v_fixed
    from paytrust_public.gateway_configurations c
   where c.gateway = create_invoice.gateway and c.currency = create_invoice.currency;
  v_fee := round((v_subtotal + v_tax) * v_percent / 100) + v_fixed;
  insert into ${FLOOR_SCHEMA}.invoices (
    tenant_id, currency, gateway, customer_name, customer_email, description, due_date,
    subtotal, tax_total, service_fee, total, fee_percent, fee_fixed, installment_count
  ) values (
    v_tenant, currency, gateway, customer_name, customer_email, description, current_date,
    v_subtotal, v_tax, v_fee, v_subtotal + v_tax + v_fee, v_percent, v_fixed, installment_count
  ) returning * into v_invoice;
  insert into ${FLOOR_SCHEMA}.line_items
    (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
  select v_tenant, v_invoice.id, l.n, l.description, l.quantity, l.unit_price, l.tax_rate,
         l.quantity::bigint * l.unit_price, round(l.quantity::numeric * l.unit_price * l.tax_rate / 100)
    from unnest(line_items) with ordinality as l(description, quantity, unit_price, tax_rate, n);
  insert into ${FLOOR_SCHEMA}.installments
    (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
  select v_tenant, v_invoice.id, k, current_date + (k - 1) * installment_interval_days,
         p, t, f, p + t + f
    from generate_series(1, installment_count) k,
         lateral (select case when k < installment_count then v_subtotal / installment_count
                              else v_subtotal - (installment_count - 1) * (v_subtotal / installment_count) end as p,
                         case when k < installment_count then v_tax / installment_count
                              else v_tax - (installment_count - 1) * (v_tax / installment_count) end as t,
                         case when k < installment_count then v_fee / installment_count
                              else v_fee - (installment_count - 1) * (v_fee / installment_count) end as f) s;
  return v_invoice;
end;
$$ language plpgsql volatile set search_path to pg_catalog, public, pg_temp;
grant execute on function ${FLOOR_SCHEMA}.create_invoice(text, text, text, text,
  paytrust_public.invoice_line[], text, integer, integer) to paytrust_tenant;
`;

/** The floor's statement: the ceiling's (bench/lib/invoice.ts), aimed at the floor function. */
export const FLOOR_CREATE_INVOICE_SQL = `select id, number, status, currency, subtotal, tax_total, service_fee, total
  from ${FLOOR_SCHEMA}.create_invoice(
    currency => $1, gateway => $2, customer_name => $3, customer_email => $4,
    line_items => array(select jsonb_populate_recordset(null::paytrust_public.invoice_line, $5::jsonb)),
    description => $6, installment_count => $7, installment_interval_days => $8)`;

/** Creates (or re-creates) the floor schema in the bench database, as the owner. */
export async function createFloor(ownerPool: pg.Pool): Promise<void> {
  await ownerPool.query(FLOOR_DDL);
}
