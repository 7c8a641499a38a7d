/**
 * The one invoice every createInvoice phase creates (3 line items, 4
 * installments, IDR) in the three shapes the phases need: GraphQL variables,
 * the hand-written endpoint's JSON, and SQL parameters. The SQL ceiling and
 * the hand-written endpoint run the very same statements, which are the ones
 * PostGraphile runs: begin; set_config(...) for the claims; the function; commit.
 */
import type { BenchTenant } from "./database.ts";

export interface InvoiceInput {
  currency: string;
  gateway: string;
  customerName: string;
  customerEmail: string;
  description?: string;
  lineItems: Array<{ description: string; quantity: number; unitPrice: string; taxRate: string }>;
  installmentCount?: number;
  installmentIntervalDays?: number;
}

export const BENCH_INVOICE: InvoiceInput = {
  currency: "IDR",
  gateway: "xendit",
  customerName: "Budi Santoso",
  customerEmail: "budi@example.com",
  description: "Benchmark order",
  lineItems: [
    { description: "Kopi susu", quantity: 2, unitPrice: "25000", taxRate: "11" },
    { description: "Roti bakar", quantity: 1, unitPrice: "30000", taxRate: "11" },
    { description: "Ongkos kirim", quantity: 1, unitPrice: "15000", taxRate: "0" },
  ],
  installmentCount: 4,
  installmentIntervalDays: 30,
};

/** The fields every path returns, so all three do the same work on the way out. */
export const CREATE_INVOICE_MUTATION = `mutation CreateInvoice($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    invoice { id number status currency subtotal taxTotal serviceFee total }
  }
}`;

export const graphqlBody = (input: InvoiceInput = BENCH_INVOICE) =>
  JSON.stringify({ query: CREATE_INVOICE_MUTATION, variables: { input } });

/** PostGraphile's own statement for pgSettings (grafast's pg adaptor). */
export const SET_CLAIMS_SQL =
  "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";

/** The same claims pgSettingsFor (src/plugins/preset.ts) gives a tenant key. */
export function claimsFor(
  key: { id: string; tenantId: string | null },
  request: { ip: string; userAgent: string; publicBaseUrl: string },
): string {
  return JSON.stringify([
    ["paytrust.public_base_url", request.publicBaseUrl],
    ["role", "paytrust_tenant"],
    ["paytrust.role", "tenant"],
    ["paytrust.tenant_id", key.tenantId ?? ""],
    ["paytrust.api_key_id", key.id],
    ["paytrust.ip", request.ip],
    ["paytrust.user_agent", request.userAgent.slice(0, 512)],
  ]);
}

export const tenantClaims = (tenant: BenchTenant) =>
  claimsFor(
    { id: tenant.keyId, tenantId: tenant.tenantId },
    { ip: "127.0.0.1", userAgent: "paytrust-bench", publicBaseUrl: "http://127.0.0.1" },
  );

export const CREATE_INVOICE_SQL = `select id, number, status, currency, subtotal, tax_total, service_fee, total
  from paytrust_public.create_invoice(
    currency => $1, gateway => $2, customer_name => $3, customer_email => $4,
    line_items => array(select jsonb_populate_recordset(null::paytrust_public.invoice_line, $5::jsonb)),
    description => $6, installment_count => $7, installment_interval_days => $8)`;

export function createInvoiceParams(input: InvoiceInput): unknown[] {
  const lines = input.lineItems.map((l) => ({
    description: l.description,
    quantity: l.quantity,
    unit_price: l.unitPrice,
    tax_rate: l.taxRate,
  }));
  return [
    input.currency,
    input.gateway,
    input.customerName,
    input.customerEmail,
    JSON.stringify(lines),
    input.description ?? null,
    input.installmentCount ?? 1,
    input.installmentIntervalDays ?? 30,
  ];
}

/** What the hand-written endpoint answers, camel-cased like the GraphQL result. */
export function invoiceJson(row: Record<string, unknown>) {
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    currency: row.currency,
    subtotal: row.subtotal,
    taxTotal: row.tax_total,
    serviceFee: row.service_fee,
    total: row.total,
  };
}
