--! Previous: sha1:99796fee248fa98c9e38dddec4e42473b7281af8
--! Hash: sha1:e02282492913f3a3cebed830b8a39cf80c37cd1e
--! Message: Descriptions for every exposed table, column and function

--! split: 900-descriptions.sql
-- Issue 16, item 2: every exposed table, column, function and argument of
-- paytrust_public from the committed migrations gets a description (PostGraphile
-- turns comments into GraphQL descriptions). Money says "minor units of currency".
--
-- Runs after the other work-in-progress files, so it never overwrites their
-- comments: a description is only written where there is none yet, smart tags
-- already in a comment (@behavior, @resultFieldName, ...) are kept in front of
-- it, and objects that do not exist (renamed or dropped by now) are skipped.
-- Function arguments: PostgreSQL has no comment per argument, so they are
-- documented with the smart tag `@argNdescription <text>` (N = 0-based position
-- of the input argument) in the function's comment; src/plugins/argumentDescriptions.ts
-- applies it to field arguments and mutation input fields (PostGraphile 5.1
-- does not yet; upstream graphile/crystal#3168 adds the same tag).

create or replace function pg_temp.pt_merge_comment(existing text, description text, extra_tags text[])
returns text language plpgsql immutable as $$
declare
  v_lines text[] := coalesce(string_to_array(existing, E'\n'), '{}');
  v_tags text[] := '{}';
  v_body text[] := '{}';
  v_line text;
  v_in_tags boolean := true;
  v_tag text;
begin
  foreach v_line in array v_lines loop
    if v_in_tags and v_line like '@%' then
      v_tags := v_tags || v_line;
    else
      v_in_tags := false;
      v_body := v_body || v_line;
    end if;
  end loop;
  foreach v_tag in array coalesce(extra_tags, '{}') loop
    -- a tag already present (same name) wins over ours
    if not exists (select 1 from unnest(v_tags) t where split_part(t, ' ', 1) = split_part(v_tag, ' ', 1)) then
      v_tags := v_tags || v_tag;
    end if;
  end loop;
  if coalesce(btrim(array_to_string(v_body, E'\n'), E' \n\t'), '') = '' then
    v_body := array[description];
  end if;
  return array_to_string(v_tags || v_body, E'\n');
end;
$$;

create or replace function pg_temp.pt_describe_table(tbl text, description text)
returns void language plpgsql as $$
declare
  v_oid oid := to_regclass(tbl);
  v_old text;
  v_new text;
  v_kind "char";
begin
  if v_oid is null then return; end if;
  select relkind into v_kind from pg_catalog.pg_class where oid = v_oid;
  -- a composite type's comment lives on its pg_type row
  v_old := case when v_kind = 'c'
                then obj_description((select reltype from pg_catalog.pg_class where oid = v_oid), 'pg_type')
                else obj_description(v_oid, 'pg_class') end;
  v_new := pg_temp.pt_merge_comment(v_old, description, null);
  if v_new is distinct from v_old then
    execute format('comment on %s %s is %L',
      case v_kind when 'v' then 'view' when 'c' then 'type' when 'm' then 'materialized view' else 'table' end,
      tbl, v_new);
  end if;
end;
$$;

create or replace function pg_temp.pt_describe_column(tbl text, col text, description text)
returns void language plpgsql as $$
declare
  v_oid oid := to_regclass(tbl);
  v_attnum smallint;
  v_old text;
  v_new text;
begin
  if v_oid is null then return; end if;
  select attnum into v_attnum from pg_catalog.pg_attribute
   where attrelid = v_oid and attname = col and attnum > 0 and not attisdropped;
  if v_attnum is null then return; end if;
  v_old := col_description(v_oid, v_attnum);
  v_new := pg_temp.pt_merge_comment(v_old, description, null);
  if v_new is distinct from v_old then
    execute format('comment on column %s.%I is %L', tbl, col, v_new);
  end if;
end;
$$;

-- fn: schema.name, every overload (a later migration may have replaced the
-- committed signature); args: {"argument name": "description"}, each becoming
-- `@argNdescription` with the argument's position in that overload.
create or replace function pg_temp.pt_describe_function(fn text, description text, args jsonb default '{}')
returns void language plpgsql as $$
declare
  v_proc record;
  v_new text;
  v_tags text[];
begin
  for v_proc in
    select p.oid, p.proargnames, obj_description(p.oid, 'pg_proc') as old
      from pg_catalog.pg_proc p
     where p.pronamespace = split_part(fn, '.', 1)::regnamespace
       and p.proname = split_part(fn, '.', 2)
  loop
    select coalesce(array_agg(format('@arg%sdescription %s', a.ord - 1, args ->> a.name) order by a.ord), '{}')
      into v_tags
      from unnest(v_proc.proargnames) with ordinality as a(name, ord)
     where args ? a.name;
    v_new := pg_temp.pt_merge_comment(v_proc.old, description, v_tags);
    if v_new is distinct from v_proc.old then
      execute format('comment on function %s is %L', v_proc.oid::regprocedure, v_new);
    end if;
  end loop;
end;
$$;

-- ---------------------------------------------------------------- tenants
select pg_temp.pt_describe_table('paytrust_public.tenants',
  'A merchant using PayTrust. A tenant key sees only its own tenant and its rows.');
select pg_temp.pt_describe_column('paytrust_public.tenants', c, d) from (values
  ('id', 'The tenant''s id (the `tenantId` printed by `paytrust create-tenant`).'),
  ('name', 'Display name of the merchant (1..200 characters).'),
  ('legal_name', 'Legal name used as creditor name in ISO 20022 documents (≤ 140 characters); null: `name` is used.'),
  ('account_iban', 'Creditor IBAN for ISO 20022 documents; null: `accountNumber` (or a placeholder) is used.'),
  ('account_number', 'Creditor bank account number (1..34 characters) when there is no IBAN.'),
  ('bank_bic', 'Creditor bank BIC (8 or 11 characters) for ISO 20022 documents.'),
  ('rate_limit_per_minute', 'Requests per minute allowed per API key of this tenant; null: the platform default (PAYTRUST_RATE_LIMIT_PER_MINUTE).'),
  ('created_at', 'When the tenant was created.'),
  ('updated_at', 'When the tenant was last changed.')
) as t(c, d);

-- ---------------------------------------------------------------- currencies and gateways
select pg_temp.pt_describe_column('paytrust_public.currencies', c, d) from (values
  ('code', 'ISO 4217 code: IDR, MYR or USD.'),
  ('exponent', 'Decimal places of the minor unit: IDR 0 (whole rupiah), MYR and USD 2 (cents). Amounts are integers in minor units.'),
  ('name', 'English name of the currency.')
) as t(c, d);
select pg_temp.pt_describe_column('paytrust_public.gateway_configurations', c, d) from (values
  ('gateway', '`xendit` or `midtrans`.'),
  ('currency', 'The currency this configuration applies to (Midtrans: IDR only).'),
  ('fee_percent', 'Service fee percentage of (subtotal + tax), at most 2 decimals; the fee is rounded half up to minor units.'),
  ('fee_fixed', 'Fixed service fee added to every invoice, in minor units of `currency`.'),
  ('enabled', 'False: new invoices and payments through this gateway in this currency are refused (PTGWC).'),
  ('updated_at', 'When the fee was last changed (existing invoices keep the fee they were created with).')
) as t(c, d);

-- ---------------------------------------------------------------- invoices
select pg_temp.pt_describe_column('paytrust_public.invoices', c, d) from (values
  ('id', 'The invoice''s id (pass it to initiatePayment, cancelInvoice, ...).'),
  ('tenant_id', 'The tenant that owns the invoice (always the caller''s own tenant).'),
  ('number', 'Sequential invoice number (per tenant); `reference` is its printed form.'),
  ('parent_invoice_id', 'For a supplementary invoice: the invoice it adds charges to; null otherwise.'),
  ('status', 'open (nothing paid yet), pending (a payment is in progress), partially_paid (some installments paid), paid, expired or cancelled.'),
  ('currency', 'ISO 4217 code (IDR, MYR or USD); every amount of the invoice, its lines, installments and payments is in its minor units.'),
  ('gateway', 'The gateway that collects the invoice: `xendit` (IDR, MYR, USD) or `midtrans` (IDR only).'),
  ('customer_name', 'Name of the paying customer (1..200 characters).'),
  ('customer_email', 'Email address of the paying customer.'),
  ('description', 'Free text shown to the customer (≤ 1000 characters).'),
  ('due_date', 'When the (first) installment is due; later installments follow every installmentIntervalDays or on installmentDueDates.'),
  ('external_ref', 'The merchant''s own reference for the invoice (e.g. an order number).'),
  ('subtotal', 'Σ line amounts (quantity × unitPrice) in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('tax_total', 'Σ line taxes in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents); each line''s tax is rounded half up.'),
  ('service_fee', 'The gateway''s service fee in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents): half-up((subtotal + taxTotal) × feePercent / 100) + feeFixed.'),
  ('total', 'Total in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents): subtotal + taxTotal + serviceFee.'),
  ('fee_percent', 'The service fee percentage applied, copied from the gateway configuration at creation.'),
  ('fee_fixed', 'The fixed service fee applied, in minor units of `currency`, copied from the gateway configuration at creation.'),
  ('installment_count', 'Number of installments: 1 (single payment) or 2..12.'),
  ('amount_paid', 'Paid so far (confirmed by the gateway) in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('overpayment_amount', 'Money received above what was due, in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents); recorded, never lost.'),
  ('payment_initiated_at', 'When the first payment was initiated; from then on the invoice''s amounts, lines and installments cannot change (PTIMM): use a supplementary invoice.'),
  ('paid_at', 'When the last installment was paid; null while not fully paid.'),
  ('cancelled_at', 'When the invoice was cancelled (cancelInvoice); null otherwise.'),
  ('idempotency_key', 'The idempotencyKey given to createInvoice: replaying it with the same input returns this invoice.'),
  ('created_at', 'When the invoice was created.'),
  ('updated_at', 'When the invoice last changed (status, payments).')
) as t(c, d);
select pg_temp.pt_describe_function('paytrust_public.invoices_next_installment_number',
  'Number of the first installment not yet paid (what initiatePayment collects by default); null when all are paid.');
select pg_temp.pt_describe_function('paytrust_public.invoices_reference',
  'The printed invoice reference, `INV-` and the number on 8 digits (e.g. INV-00000042), used in ISO 20022 documents.');

-- ---------------------------------------------------------------- line items
select pg_temp.pt_describe_column('paytrust_public.line_items', c, d) from (values
  ('id', 'The line item''s id.'),
  ('tenant_id', 'The tenant that owns the line (the invoice''s tenant).'),
  ('invoice_id', 'The invoice this line belongs to.'),
  ('position', 'Order of the line on the invoice, from 1.'),
  ('description', 'What is sold (1..500 characters).'),
  ('quantity', 'Whole number of units, ≥ 1.'),
  ('unit_price', 'Price of one unit in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents), ≥ 0.'),
  ('tax_rate', 'Tax percentage of the line, 0..100 with at most 2 decimals (11 = 11 %, e.g. Indonesian PPN).'),
  ('line_amount', 'quantity × unitPrice, in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('tax_amount', 'Tax of the line in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents): half-up(lineAmount × taxRate / 100).')
) as t(c, d);

-- ---------------------------------------------------------------- installments
select pg_temp.pt_describe_column('paytrust_public.installments', c, d) from (values
  ('id', 'The installment''s id.'),
  ('tenant_id', 'The tenant that owns the installment (the invoice''s tenant).'),
  ('invoice_id', 'The invoice this installment belongs to.'),
  ('number', 'Position in the plan, 1..12; installment k can be paid only after 1..k-1 (PTSEQ).'),
  ('due_date', 'When this installment is due.'),
  ('principal', 'Share of the invoice''s subtotal in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents); the last installment absorbs the remainder.'),
  ('tax_amount', 'Share of the invoice''s taxTotal in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('fee_amount', 'Share of the invoice''s serviceFee in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('total', 'Due for this installment in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents): principal + taxAmount + feeAmount.'),
  ('status', 'pending (not yet paid) or paid.'),
  ('paid_amount', 'Paid for this installment (confirmed by the gateway) in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('paid_at', 'When the installment was paid; null while pending.')
) as t(c, d);

-- ---------------------------------------------------------------- payment transactions
select pg_temp.pt_describe_column('paytrust_public.payment_transactions', c, d) from (values
  ('id', 'The payment attempt''s id (poll paymentTransaction(id) for its status).'),
  ('tenant_id', 'The tenant that owns the attempt (the invoice''s tenant).'),
  ('invoice_id', 'The invoice being paid.'),
  ('installment_id', 'The installment this attempt collects.'),
  ('installment_number', 'Number of the installment this attempt collects.'),
  ('gateway', 'The gateway collecting it: `xendit` or `midtrans` (the invoice''s gateway).'),
  ('currency', 'ISO 4217 code of the amounts (the invoice''s currency).'),
  ('amount', 'What this attempt asks the customer to pay, in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents).'),
  ('paid_amount', 'What the gateway confirmed as paid, in minor units of `currency` (IDR: whole rupiah; MYR/USD: cents); above `amount` the difference is an overpayment.'),
  ('status', 'pending, paid, settled, failed, expired, cancelled or refunded; statuses only move forward (duplicate or late webhooks change nothing).'),
  ('external_id', 'PayTrust''s key of the attempt at the gateway (Xendit external_id, Midtrans order_id), unique per attempt.'),
  ('gateway_reference', 'The gateway''s own id of the payment (Xendit invoice id, Midtrans Snap token); null until the gateway answered.'),
  ('gateway_checkout_url', 'The gateway''s checkout page; null until the gateway answered. Prefer `checkoutUrl`.'),
  ('checkout_url', 'PayTrust''s hosted checkout link (/pay/:id): send the customer there; it forwards to the gateway''s page as soon as it exists.'),
  ('gateway_status', 'The last status reported by the gateway, as the gateway spells it (e.g. PAID, settlement).'),
  ('failure_reason', 'Why the attempt failed, expired or was cancelled (≤ 1000 characters); null otherwise.'),
  ('iso20022_status', 'ISO 20022 pain.002 transaction status: PDNG (pending), ACSP (paid), ACSC (settled) or RJCT (rejected).'),
  ('iso20022_reason', 'ISO 20022 reason code of a rejection (e.g. DS24 expired, MS02 cancelled); null otherwise.'),
  ('paid_at', 'When the gateway confirmed the payment; null while unpaid.'),
  ('created_at', 'When the attempt was initiated.'),
  ('updated_at', 'When the attempt last changed.')
) as t(c, d);

-- ---------------------------------------------------------------- webhooks and audit (admin)
select pg_temp.pt_describe_column('paytrust_public.webhook_events', c, d) from (values
  ('id', 'The event''s id (retryWebhook(id)).'),
  ('gateway', '`xendit` or `midtrans`.'),
  ('event_id', 'The gateway''s identity of the notification; with gateway and tenant it deduplicates retries.'),
  ('tenant_id', 'The tenant whose payment the event is about; null if it matched none.'),
  ('transaction_id', 'The payment attempt the event is about; null if it matched none.'),
  ('source', 'webhook (sent by the gateway) or reconciliation (PayTrust asked the gateway''s status API).'),
  ('payload', 'The verified notification body, without signatures.'),
  ('status', 'received, processed, ignored (nothing to apply) or failed (every retry failed).'),
  ('outcome', 'What processing did, e.g. "pending → paid (applied 145000, overpaid 0)", "stale: pending after paid", "unknown transaction".'),
  ('attempts', 'Processing attempts so far.'),
  ('last_error', 'The error of the last failed attempt.'),
  ('received_at', 'When the notification arrived.'),
  ('processed_at', 'When processing finished.')
) as t(c, d);
select pg_temp.pt_describe_column('paytrust_public.webhook_retry_log', c, d) from (values
  ('id', 'Id of the log entry.'),
  ('webhook_event_id', 'The webhook event that failed.'),
  ('attempt', 'Which attempt failed (1-based).'),
  ('max_attempts', 'Attempts allowed before the event is listed in failedWebhooks.'),
  ('error', 'The error of that attempt.'),
  ('created_at', 'When the attempt failed.')
) as t(c, d);
select pg_temp.pt_describe_table('paytrust_public.audit_events',
  'Append-only audit log of key use and administration (read it through apiKeyAuditLogs).');
select pg_temp.pt_describe_column('paytrust_public.audit_events', c, d) from (values
  ('id', 'Id of the entry, increasing.'),
  ('occurred_at', 'When it happened.'),
  ('action', 'What happened, e.g. api_key.created, api_key.rotated, api_key.revoked, auth.failed.'),
  ('api_key_id', 'The key that acted (or was acted on).'),
  ('tenant_id', 'The tenant concerned; null for platform actions.'),
  ('actor_role', 'tenant or admin: the role of the key that acted.'),
  ('subject_id', 'The id of the object acted on.'),
  ('ip', 'Client IP address of the request.'),
  ('user_agent', 'Client User-Agent of the request (≤ 512 characters).'),
  ('details', 'Further details as JSON (never secrets).')
) as t(c, d);
select pg_temp.pt_describe_column('paytrust_public.api_keys', c, d) from (values
  ('id', 'The key''s id (rotateApiKey, revokeApiKey).'),
  ('tenant_id', 'The tenant the key acts for; null for admin keys.'),
  ('last_used_at', 'When the key last authenticated a request (updated at most once a minute).')
) as t(c, d);

-- ---------------------------------------------------------------- input and result types
select pg_temp.pt_describe_table('paytrust_public.invoice_line',
  'A line item given to createInvoice, createSupplementaryInvoice or replaceInvoiceLineItems.');
select pg_temp.pt_describe_column('paytrust_public.invoice_line', c, d) from (values
  ('description', 'What is sold (1..500 characters).'),
  ('quantity', 'Whole number of units, ≥ 1 (PTQTY).'),
  ('unit_price', 'Price of one unit in minor units of the invoice''s currency (IDR: whole rupiah; MYR/USD: cents), ≥ 0 (PTPRC); send it as a string.'),
  ('tax_rate', 'Tax percentage, 0..100 with at most 2 decimals (PTTAX), e.g. "11" for PPN 11 %.')
) as t(c, d);
select pg_temp.pt_describe_table('paytrust_public.financial_report_row',
  'One row of financialReport: the money of one currency × gateway in the period, minor units of `currency`.');
select pg_temp.pt_describe_table('paytrust_public.financial_tax_report_row',
  'One row of financialTaxReport: tax of one currency × tax rate in the period, minor units of `currency`.');

-- ---------------------------------------------------------------- functions and their arguments
select pg_temp.pt_describe_function('paytrust_public.create_invoice',
  'Creates an invoice with its line items and installment plan.',
  jsonb_build_object(
    'currency', 'ISO 4217 code: IDR, MYR or USD (PTCUR otherwise); every amount is in its minor units.',
    'gateway', 'xendit (IDR, MYR, USD) or midtrans (IDR only); PTGWY / PTGWC otherwise.',
    'customer_name', 'Name of the paying customer (1..200 characters).',
    'customer_email', 'Email address of the paying customer.',
    'line_items', '1..1000 lines: description, quantity, unitPrice (minor units), taxRate (percent).',
    'description', 'Free text shown to the customer (≤ 1000 characters).',
    'due_date', 'When the first installment is due (default: today + installmentIntervalDays).',
    'installment_count', '1 (single payment, the default) or 2..12 installments.',
    'installment_interval_days', 'Days between installment due dates, 1..366 (default 30).',
    'installment_weights', 'Relative principal of each installment (one positive number per installment); default: equal.',
    'installment_due_dates', 'Explicit due dates, one per installment, strictly increasing (instead of the interval).',
    'external_ref', 'Your own reference for the invoice (e.g. an order number).',
    'idempotency_key', 'Replaying a key with the same input returns the same invoice; with different input PTIDM.'));
select pg_temp.pt_describe_function('paytrust_public.create_supplementary_invoice',
  'Adds charges to an invoice that can no longer change, as a new linked invoice.',
  jsonb_build_object(
    'parent_invoice_id', 'The invoice the charges are added to (it must have a payment initiated: PTPAR otherwise).',
    'line_items', 'The new lines: description, quantity, unitPrice (minor units of the parent''s currency), taxRate.',
    'description', 'Free text shown to the customer (≤ 1000 characters).',
    'due_date', 'When the first installment is due.',
    'installment_count', '1 (single payment, the default) or 2..12 installments.',
    'installment_interval_days', 'Days between installment due dates, 1..366 (default 30).',
    'installment_weights', 'Relative principal of each installment; default: equal.',
    'installment_due_dates', 'Explicit due dates, one per installment, strictly increasing.',
    'external_ref', 'Your own reference for the invoice.',
    'idempotency_key', 'Replaying a key with the same input returns the same invoice; with different input PTIDM.'));
select pg_temp.pt_describe_function('paytrust_public.cancel_invoice',
  'Cancels an invoice on which no payment was started.',
  jsonb_build_object('invoice_id', 'The invoice to cancel (PTSTS once a payment was started).'));
select pg_temp.pt_describe_function('paytrust_public.initiate_payment',
  'Starts collecting an installment.',
  jsonb_build_object(
    'invoice_id', 'The invoice to collect.',
    'installment_number', 'Which installment (default: the next unpaid one); earlier ones must be paid (PTSEQ).',
    'idempotency_key', 'Replaying a key with the same input returns the same attempt; with different input PTIDM.'));
select pg_temp.pt_describe_function('paytrust_public.installment_can_start',
  'True when the installment can be collected now.',
  jsonb_build_object(
    'invoice_id', 'The invoice.',
    'installment_number', 'The installment''s number, 1..12.'));
select pg_temp.pt_describe_function('paytrust_public.financial_report',
  'The tenant''s money for the UTC days from..to (inclusive), one row per currency × gateway.',
  jsonb_build_object(
    'from', 'First UTC day of the period (inclusive).',
    'to', 'Last UTC day of the period (inclusive); at most 5 years after `from` (PTVAL).',
    'currency', 'Only this currency (IDR, MYR or USD); default: every currency, one row each.'));
select pg_temp.pt_describe_function('paytrust_public.financial_tax_report',
  'Tax per currency × rate on the tenant''s invoices fully paid in the period.',
  jsonb_build_object(
    'from', 'First UTC day of the period (inclusive).',
    'to', 'Last UTC day of the period (inclusive); at most 5 years after `from` (PTVAL).',
    'currency', 'Only this currency (IDR, MYR or USD); default: every currency.'));
select pg_temp.pt_describe_function('paytrust_public.create_tenant',
  'Creates a tenant (admin keys only).',
  jsonb_build_object('name', 'Display name of the merchant (1..200 characters).'));
select pg_temp.pt_describe_function('paytrust_public.revoke_api_key',
  'Revokes an API key at once (admin keys only).',
  jsonb_build_object('id', 'The key''s id (ApiKey.id), not the key itself.'));
select pg_temp.pt_describe_function('paytrust_public.retry_webhook',
  'Queues a failed webhook event for processing again (admin keys only).',
  jsonb_build_object('id', 'The webhook event''s id (from failedWebhooks).'));
select pg_temp.pt_describe_function('paytrust_public.api_key_audit_logs',
  'The audit log, newest first (admin keys only).',
  jsonb_build_object(
    'api_key_id', 'Only entries of this key.',
    'tenant_id', 'Only entries of this tenant.',
    'action', 'Only this action, e.g. api_key.rotated or auth.failed.',
    'occurred_after', 'Only entries at or after this time.',
    'occurred_before', 'Only entries before this time.'));

drop function pg_temp.pt_describe_function(text, text, jsonb);
drop function pg_temp.pt_describe_column(text, text, text);
drop function pg_temp.pt_describe_table(text, text);
drop function pg_temp.pt_merge_comment(text, text, text[]);
