--! Previous: sha1:617604b6846b9d954172f5e69f1d188e0bcf99d8
--! Hash: sha1:edf014d49db4e3b6e2f379c826415d7e0078224e
--! Message: ISO 20022: the invoice data the pain.001 / pain.002 renderers need

-- Everything src/iso20022 renders, as one JSON document (shape:
-- Iso20022Invoice in src/iso20022/types.ts). SECURITY INVOKER: it reads
-- through RLS, so a tenant only ever gets its own invoice's data.
create function paytrust_public.invoices_iso20022_data(invoice paytrust_public.invoices) returns jsonb as $$
  select jsonb_build_object(
    'invoice', jsonb_build_object(
      'id', invoice.id,
      'reference', paytrust_public.invoices_reference(invoice),
      'currency', invoice.currency,
      'exponent', (select c.exponent from paytrust_public.currencies c where c.code = invoice.currency),
      'total', invoice.total::text,
      'createdAt', invoice.created_at,
      'dueDate', invoice.due_date,
      'description', invoice.description,
      'customerName', invoice.customer_name,
      'customerEmail', invoice.customer_email,
      'externalRef', invoice.external_ref),
    'tenant', (select jsonb_build_object(
        'id', t.id, 'name', t.name, 'legalName', t.legal_name, 'accountIban', t.account_iban,
        'accountNumber', t.account_number, 'bankBic', t.bank_bic)
      from paytrust_public.tenants t where t.id = invoice.tenant_id),
    'installments', (select coalesce(jsonb_agg(jsonb_build_object(
        'id', i.id, 'number', i.number, 'dueDate', i.due_date, 'total', i.total::text, 'status', i.status)
        order by i.number), '[]')
      from paytrust_public.installments i where i.invoice_id = invoice.id),
    'transactions', (select coalesce(jsonb_agg(jsonb_build_object(
        'id', t.id, 'installmentNumber', t.installment_number, 'status', t.status, 'amount', t.amount::text,
        'gatewayReference', t.gateway_reference, 'iso20022Status', t.iso20022_status,
        'iso20022Reason', t.iso20022_reason, 'updatedAt', t.updated_at)
        order by t.created_at, t.id), '[]')
      from paytrust_public.payment_transactions t where t.invoice_id = invoice.id)
  );
$$ language sql stable;
grant execute on function paytrust_public.invoices_iso20022_data(paytrust_public.invoices) to paytrust_tenant;
-- Not a GraphQL field itself: paymentInitiationXml / paymentStatusReportXml render it.
comment on function paytrust_public.invoices_iso20022_data(paytrust_public.invoices) is E'@behavior -*';
