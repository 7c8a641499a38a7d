/**
 * The tenant isolation matrix, derived from the catalog so that a new table,
 * view or function without an isolation rule fails this test:
 *
 * - every table and view in paytrust_public, paytrust_hidden and
 *   paytrust_reporting: tenant B
 *   (the tenant role with B's claims) sees none of A's rows and can update or
 *   delete none of them, column by column; tenants may INSERT nowhere;
 * - every function in those schemas: called by B with A's identifiers, the
 *   outcome (result or error) is the same as with identifiers that do not
 *   exist, so B cannot even tell A's data exists (non-interference), and no
 *   result carries anything of A;
 * - every GraphQL root query field, generated from introspection: B's key
 *   with A's ids gets nothing of A;
 * - the REST routes: /pay/:id shows a payment's state and nothing else;
 *   /invoices/:id/pain.001.xml and pain.002.xml give B nothing of A;
 * - the tenant, admin, analyst and authenticator roles cannot reach the
 *   private schema (nor the job queue); the analyst reaches reporting only.
 * tests/rls/isolation.test.ts tests the same promise by example; this file is
 * the systematic sweep.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { asRole, createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, getInvoice, startPayment } from "../helpers/payments.ts";
import { type Receiver, startReceiver } from "../merchant/receiver.ts";
import { http, type LoggedApp, startLoggedApp } from "./helpers.ts";

const SCHEMAS = ["paytrust_public", "paytrust_hidden", "paytrust_reporting"];
const A_NAME = "Alpha Isolation Ltd";
const A_CUSTOMER = {
  customerName: "Alpha Customer Sentinel",
  customerEmail: "alpha.sentinel@example.com",
};
const A_LINE = { description: "Alpha secret item", quantity: 1, unitPrice: "4321", taxRate: "11" };

type Outcome = { ok: true; text: string; rowCount: number } | { ok: false; code: string };

/** Runs one statement inside the caller's transaction, in a savepoint so a failure does not end it. */
async function attempt(
  client: pg.ClientBase,
  sql: string,
  params: unknown[] = [],
): Promise<Outcome> {
  await client.query("savepoint isolation_attempt");
  try {
    const res = await client.query(sql, params);
    await client.query("release savepoint isolation_attempt");
    return { ok: true, text: JSON.stringify(res.rows), rowCount: res.rowCount ?? 0 };
  } catch (error: any) {
    await client.query("rollback to savepoint isolation_attempt");
    return { ok: false, code: String(error.code ?? "UNKNOWN") };
  }
}

/** Identifiers a function case may use: A's real ones, or the same shape pointing at nothing. */
interface Ids {
  tenantId: string;
  invoiceId: string;
  paidInvoiceId: string;
  transactionId: string;
  webhookEventId: string;
  apiKeyId: string;
  /** A's outbound webhook endpoint and one of its outbound events. */
  webhookEndpointId: string;
  outboundEventId: string;
}

interface FunctionCase {
  sql: string;
  /** Parameters from the identifiers; cases without it take none and are checked for leaks only. */
  args?: (ids: Ids) => unknown[];
}

const LINES = `array[row('x', 1, 100, 0)]::paytrust_public.invoice_line[]`;
/**
 * How tenant B calls every function of the exposed schemas. A function missing
 * here fails the test: add its case (with A's identifiers where it takes any).
 */
const FUNCTION_CASES: Record<string, FunctionCase> = {
  "paytrust_public.api_key_audit_logs(uuid,uuid,text,timestamp with time zone,timestamp with time zone)":
    {
      sql: "select * from paytrust_public.api_key_audit_logs($1, $2, null, null, null)",
      args: (i) => [i.apiKeyId, i.tenantId],
    },
  "paytrust_hidden.api_key_issue(uuid,text,text,text)": {
    sql: "select paytrust_hidden.api_key_issue($1, 'x', 'abcdefghijkl', '$argon2id$v=19$m=1,t=1,p=1$x$y')",
    args: (i) => [i.tenantId],
  },
  "paytrust_hidden.api_key_rotate(uuid,integer,text,text)": {
    sql: "select paytrust_hidden.api_key_rotate($1, 60, 'abcdefghijkl', '$argon2id$v=19$m=1,t=1,p=1$x$y')",
    args: (i) => [i.apiKeyId],
  },
  "paytrust_public.cancel_payment(uuid)": {
    sql: "select * from paytrust_public.cancel_payment($1)",
    args: (i) => [i.transactionId],
  },
  "paytrust_public.cancel_invoice(uuid)": {
    sql: "select * from paytrust_public.cancel_invoice($1)",
    args: (i) => [i.invoiceId],
  },
  "paytrust_public.create_invoice(text,text,text,text,paytrust_public.invoice_line[],text,date,integer,integer,numeric[],date[],text,text)":
    {
      sql: `select tenant_id = paytrust_public.current_tenant_id() as own from paytrust_public.create_invoice('IDR', 'xendit', 'B', 'b@example.com', ${LINES})`,
    },
  "paytrust_public.create_supplementary_invoice(uuid,paytrust_public.invoice_line[],text,date,integer,integer,numeric[],date[],text,text)":
    {
      sql: `select * from paytrust_public.create_supplementary_invoice($1, ${LINES}, idempotency_key => 'alpha-supplement-key')`,
      args: (i) => [i.paidInvoiceId],
    },
  "paytrust_public.create_tenant(text)": {
    sql: "select * from paytrust_public.create_tenant('Mallory')",
  },
  "paytrust_public.current_tenant_id()": { sql: "select paytrust_public.current_tenant_id()" },
  "paytrust_public.failed_webhooks()": { sql: "select * from paytrust_public.failed_webhooks()" },
  "paytrust_public.financial_report(date,date,text)": {
    sql: "select * from paytrust_public.financial_report(current_date - 30, current_date + 1, null)",
  },
  "paytrust_public.financial_tax_report(date,date,text)": {
    sql: "select * from paytrust_public.financial_tax_report(current_date - 30, current_date + 1, null)",
  },
  "paytrust_public.initiate_payment(uuid,integer,text)": {
    sql: "select * from paytrust_public.initiate_payment($1, null, 'alpha-payment-key')",
    args: (i) => [i.invoiceId],
  },
  "paytrust_public.installment_can_start(uuid,integer)": {
    sql: "select paytrust_public.installment_can_start($1, 1) as one, paytrust_public.installment_can_start($1, 2) as two",
    args: (i) => [i.invoiceId],
  },
  // Computed columns take a whole row: B forges one with A's ids (its own invoice's other fields).
  "paytrust_hidden.invoices_iso20022_data(paytrust_public.invoices)": {
    sql: "select paytrust_hidden.invoices_iso20022_data(jsonb_populate_record(null::paytrust_public.invoices, $1::jsonb))",
    args: (i) => [
      JSON.stringify({ id: i.invoiceId, tenant_id: i.tenantId, number: 1, currency: "IDR" }),
    ],
  },
  // The row checks of the CHECK constraints (000018): pure functions of the row they are given.
  "paytrust_hidden.invoices_row_check(paytrust_public.invoices)": {
    sql: "select paytrust_hidden.invoices_row_check(jsonb_populate_record(null::paytrust_public.invoices, $1::jsonb))",
    args: (i) => [JSON.stringify({ id: i.invoiceId, tenant_id: i.tenantId, subtotal: -1 })],
  },
  "paytrust_hidden.line_items_row_check(paytrust_public.line_items)": {
    sql: "select paytrust_hidden.line_items_row_check(jsonb_populate_record(null::paytrust_public.line_items, $1::jsonb))",
    args: (i) => [JSON.stringify({ invoice_id: i.invoiceId, tenant_id: i.tenantId, quantity: 0 })],
  },
  "paytrust_hidden.installments_row_check(paytrust_public.installments)": {
    sql: "select paytrust_hidden.installments_row_check(jsonb_populate_record(null::paytrust_public.installments, $1::jsonb))",
    args: (i) => [JSON.stringify({ invoice_id: i.invoiceId, tenant_id: i.tenantId, number: 13 })],
  },
  // True only for the owner inside insert_invoice; B is never the owner.
  "paytrust_hidden.inserting_with_invoice(uuid)": {
    sql: "select paytrust_hidden.inserting_with_invoice($1)",
    args: (i) => [i.invoiceId],
  },
  "paytrust_public.invoices_next_installment_number(paytrust_public.invoices)": {
    sql: "select paytrust_public.invoices_next_installment_number(jsonb_populate_record(null::paytrust_public.invoices, $1::jsonb))",
    args: (i) => [JSON.stringify({ id: i.invoiceId, tenant_id: i.tenantId })],
  },
  // Numbers count per tenant: B's lookups only ever return B's own invoices.
  "paytrust_public.invoice_by_number(bigint)": {
    sql: "select coalesce(bool_or(i.id = $1), false) as leaks from generate_series(1, 100) n, paytrust_public.invoice_by_number(n) i",
    args: (i) => [i.invoiceId],
  },
  // B never finds another tenant's invoice by key (tests/api/lean-root.test.ts uses A's real key).
  "paytrust_public.invoice_by_idempotency_key(text)": {
    sql: "select paytrust_public.invoice_by_idempotency_key($1) is not null as found",
    args: (i) => [i.invoiceId],
  },
  "paytrust_public.invoices_audit_events(paytrust_public.invoices)": {
    sql: "select count(*)::int as n from paytrust_public.invoices_audit_events(jsonb_populate_record(null::paytrust_public.invoices, $1::jsonb))",
    args: (i) => [JSON.stringify({ id: i.invoiceId, tenant_id: i.tenantId })],
  },
  "paytrust_public.invoices_reference(paytrust_public.invoices)": {
    sql: "select paytrust_public.invoices_reference(jsonb_populate_record(null::paytrust_public.invoices, $1::jsonb))",
    args: (i) => [JSON.stringify({ id: i.invoiceId, tenant_id: i.tenantId, number: 1 })],
  },
  "paytrust_hidden.is_admin()": { sql: "select paytrust_hidden.is_admin()" },
  "paytrust_public.line_tax(bigint,numeric)": { sql: "select paytrust_public.line_tax(1000, 11)" },
  // Refunds: A's payment (and A's idempotency key) behave as a payment that does not exist.
  "paytrust_public.refund_payment(uuid,bigint,text,text)": {
    sql: "select * from paytrust_public.refund_payment($1, 1, 'x', 'alpha-refund-key')",
    args: (i) => [i.transactionId],
  },
  "paytrust_public.payment_transactions_refundable_amount(paytrust_public.payment_transactions)": {
    sql: "select paytrust_public.payment_transactions_refundable_amount(jsonb_populate_record(null::paytrust_public.payment_transactions, $1::jsonb))",
    args: (i) => [
      JSON.stringify({ id: i.transactionId, tenant_id: i.tenantId, paid_amount: 100000 }),
    ],
  },
  "paytrust_public.replace_invoice_line_items(uuid,paytrust_public.invoice_line[])": {
    sql: `select * from paytrust_public.replace_invoice_line_items($1, ${LINES})`,
    args: (i) => [i.invoiceId],
  },
  // Outbound webhooks: A's endpoint and events behave as ones that do not exist.
  "paytrust_public.delete_webhook_endpoint(uuid)": {
    sql: "select * from paytrust_public.delete_webhook_endpoint($1)",
    args: (i) => [i.webhookEndpointId],
  },
  "paytrust_public.redeliver_webhook_event(uuid)": {
    sql: "select * from paytrust_public.redeliver_webhook_event($1)",
    args: (i) => [i.outboundEventId],
  },
  "paytrust_public.webhook_event_types()": {
    sql: "select * from paytrust_public.webhook_event_types()",
  },
  "paytrust_public.max_amount()": { sql: "select paytrust_public.max_amount()" },
  "paytrust_public.retry_webhook(bigint)": {
    sql: "select * from paytrust_public.retry_webhook($1)",
    args: (i) => [i.webhookEventId],
  },
  "paytrust_public.revoke_api_key(uuid)": {
    sql: "select * from paytrust_public.revoke_api_key($1)",
    args: (i) => [i.apiKeyId],
  },
  "paytrust_public.round_minor(numeric,text)": {
    sql: "select paytrust_public.round_minor(1.5, 'half_up')",
  },
  "paytrust_public.service_fee(bigint,bigint,numeric,bigint)": {
    sql: "select paytrust_public.service_fee(1000, 110, 2.9, 2000)",
  },
  "paytrust_public.split_installments(bigint,bigint,bigint,numeric[])": {
    sql: "select * from paytrust_public.split_installments(1000, 110, 20, array[1, 1])",
  },
  "paytrust_hidden.create_webhook_endpoint(text,text[],text)": {
    sql: "select id is not null as created from paytrust_hidden.create_webhook_endpoint('https://b.example.com/hook', array['invoice.paid'])",
  },
  "paytrust_hidden.update_webhook_endpoint(uuid,text,text[],boolean,text)": {
    sql: "select (paytrust_hidden.update_webhook_endpoint($1, enabled => false)).id",
    args: (i) => [i.webhookEndpointId],
  },
  "paytrust_hidden.rotate_webhook_endpoint_secret(uuid,integer)": {
    sql: "select secret is not null as rotated from paytrust_hidden.rotate_webhook_endpoint_secret($1)",
    args: (i) => [i.webhookEndpointId],
  },
  "paytrust_reporting.sees_all_tenants()": { sql: "select paytrust_reporting.sees_all_tenants()" },
  "paytrust_reporting.viewer_tenant_id()": { sql: "select paytrust_reporting.viewer_tenant_id()" },
};

describe("tenant isolation matrix", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let a: { tenantId: string; apiKey: string; keyId: string };
  let b: { tenantId: string; apiKey: string; keyId: string };
  let aIds: Ids;
  /** Strings of A's that nothing B receives may contain. */
  let marks: string[] = [];
  let aPendingTx: any;
  let aPaidTx: any;
  let receiver: Receiver;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db, { worker: true, env: { PAYTRUST_WEBHOOK_MAX_ATTEMPTS: "1" } });
    receiver = await startReceiver();
    a = await createTenant(db.pool, A_NAME);
    b = await createTenant(db.pool, "Bravo Isolation Ltd");
    const sandbox = app.runtime.sandbox!;

    // A: an outbound webhook endpoint, so A's payments bring events and deliveries.
    const endpoint = await app.gql(
      `mutation($url: String!) { createWebhookEndpoint(input: {url: $url, eventTypes: ["*"]}) {
         webhookEndpoint { id } secret } }`,
      { url: `${receiver.url}/alpha-hook-sentinel` },
      a.apiKey,
    );
    expect(endpoint.body.errors).toBeUndefined();
    const aEndpointId = endpoint.body.data.createWebhookEndpoint.webhookEndpoint.id as string;

    // A: a paid USD invoice, an open MYR plan, a USD payment whose webhook failed (retry log).
    const paid = await createInvoice(app, a.apiKey, {
      currency: "USD",
      gateway: "xendit",
      ...A_CUSTOMER,
      lineItems: [A_LINE],
    });
    aPaidTx = await startPayment(app, a.apiKey, paid.id);
    await sandbox.pay("xendit", aPaidTx.externalId);
    await eventually(async () => (await getInvoice(app, a.apiKey, paid.id)).status === "paid");
    // A: a partial refund of that payment (with an idempotency key), settled by the sandbox.
    const refund = await app.gql(
      `mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { refund { id } } }`,
      {
        input: {
          paymentTransactionId: aPaidTx.id,
          amount: "100",
          reason: "Alpha refund sentinel",
          idempotencyKey: "alpha-refund-key",
        },
      },
      a.apiKey,
    );
    expect(refund.body.errors).toBeUndefined();
    for (const sql of [
      "select count(*)::int as n from paytrust_public.refunds where tenant_id = $1 and status = 'succeeded'",
      "select count(*)::int as n from paytrust_public.webhook_deliveries where tenant_id = $1",
    ])
      await eventually(async () => (await db.pool.query(sql, [a.tenantId])).rows[0].n > 0);
    const open = await createInvoice(app, a.apiKey, {
      currency: "MYR",
      gateway: "xendit",
      ...A_CUSTOMER,
      lineItems: [A_LINE],
      installmentCount: 2,
    });
    const failing = await createInvoice(app, a.apiKey, {
      currency: "USD",
      gateway: "xendit",
      ...A_CUSTOMER,
      lineItems: [A_LINE],
    });
    aPendingTx = await startPayment(app, a.apiKey, failing.id);
    const genuine = sandbox.webhookFor("xendit", aPendingTx.externalId);
    const mismatch = JSON.stringify({
      ...JSON.parse(genuine.body),
      status: "PAID",
      currency: "MYR",
    });
    await http(genuine.url, { method: "POST", headers: genuine.headers, body: mismatch });
    await eventually(async () => {
      const { rows } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.webhook_retry_log",
      );
      return rows[0].n > 0;
    });
    // B: its own paid IDR invoice, so B has data of every kind too.
    const bInvoice = await createInvoice(app, b.apiKey, { currency: "IDR", gateway: "midtrans" });
    const bTx = await startPayment(app, b.apiKey, bInvoice.id);
    await sandbox.pay("midtrans", bTx.externalId);
    await eventually(async () => (await getInvoice(app, b.apiKey, bInvoice.id)).status === "paid");

    const { rows: events } = await db.pool.query(
      "select id from paytrust_public.webhook_events where tenant_id = $1 order by id",
      [a.tenantId],
    );
    aIds = {
      tenantId: a.tenantId,
      invoiceId: open.id,
      paidInvoiceId: paid.id,
      transactionId: aPaidTx.id,
      webhookEventId: String(events[0].id),
      apiKeyId: a.keyId,
      webhookEndpointId: aEndpointId,
      outboundEventId: (
        await db.pool.query(
          "select id from paytrust_public.outbound_events where tenant_id = $1 order by created_at limit 1",
          [a.tenantId],
        )
      ).rows[0].id,
    };
    // Every uuid of every A row, and A's texts.
    const { rows: uuids } = await db.pool.query<{ v: string }>(
      `select distinct v from (
         select id::text as v from paytrust_public.invoices where tenant_id = $1
         union all select id::text from paytrust_public.line_items where tenant_id = $1
         union all select id::text from paytrust_public.installments where tenant_id = $1
         union all select id::text from paytrust_public.payment_transactions where tenant_id = $1
         union all select external_id from paytrust_public.payment_transactions where tenant_id = $1
         union all select gateway_reference from paytrust_public.payment_transactions where tenant_id = $1 and gateway_reference is not null
         union all select id::text from paytrust_private.api_keys where tenant_id = $1
         union all select prefix from paytrust_private.api_keys where tenant_id = $1
         union all select id::text from paytrust_public.refunds where tenant_id = $1
         union all select external_id from paytrust_public.refunds where tenant_id = $1
         union all select id::text from paytrust_public.webhook_endpoints where tenant_id = $1
         union all select id::text from paytrust_public.outbound_events where tenant_id = $1
         union all select s.secret from paytrust_private.webhook_endpoint_secrets s
                    join paytrust_public.webhook_endpoints e on e.id = s.endpoint_id
                   where e.tenant_id = $1) x`,
      [a.tenantId],
    );
    marks = [
      a.tenantId,
      A_NAME,
      A_CUSTOMER.customerName,
      A_CUSTOMER.customerEmail,
      A_LINE.description,
      "Alpha refund sentinel",
      "alpha-hook-sentinel",
      ...uuids.map((r) => r.v),
    ];
  });
  afterAll(async () => {
    await app.stop();
    await receiver?.close();
    await db.drop();
  });

  const leaks = (text: string, except: unknown[] = []) => {
    const sent = new Set(except.map(String));
    return marks.filter(
      (m) => !sent.has(m) && !except.some((e) => String(e).includes(m)) && text.includes(m),
    );
  };
  const asB = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
    asRole(db.pool, "paytrust_tenant", { tenantId: b.tenantId, apiKeyId: b.keyId }, fn);

  /** Which rows of a relation are A's, as the owner sees them: a SQL predicate on alias r. */
  function ownership(relation: string, columns: string[]): string | "global" | null {
    if (["paytrust_public.currencies", "paytrust_public.gateway_configurations"].includes(relation))
      return "global";
    if (relation === "paytrust_public.tenants") return "r.id = $1";
    if (relation === "paytrust_public.webhook_retry_log") {
      return "r.webhook_event_id in (select e.id from paytrust_public.webhook_events e where e.tenant_id = $1)";
    }
    if (columns.includes("tenant_id")) return "r.tenant_id = $1";
    return null;
  }

  it("tables and views: B reads, updates and deletes none of A's rows; tenants insert nowhere", async () => {
    const { rows: relations } = await db.pool.query<{
      name: string;
      kind: string;
      columns: string[];
      pk: string[] | null;
    }>(
      `select c.oid::regclass::text as name, c.relkind as kind,
              array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns,
              (select array_agg(a.attname::text order by a.attnum) from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                where i.indrelid = c.oid and i.indisprimary) as pk
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p', 'v', 'm')
        order by 1`,
      [SCHEMAS],
    );
    // the catalog lists the exposed relations
    expect(relations.length >= 15).toBeTruthy();
    const problems: string[] = [];
    for (const rel of relations) {
      const rule = ownership(rel.name, rel.columns);
      if (rule === null) {
        problems.push(`${rel.name}: no ownership rule — add one to this test`);
        continue;
      }
      const isTable = rel.kind === "r" || rel.kind === "p";
      for (const privilege of ["INSERT", "TRUNCATE", "TRIGGER", "REFERENCES"]) {
        const { rows } = await db.pool.query(
          "select has_table_privilege('paytrust_tenant', $1, $2) as yes",
          [rel.name, privilege],
        );
        if (rows[0].yes) problems.push(`${rel.name}: tenants have ${privilege}`);
      }
      const predicate = rule === "global" ? "true" : rule;
      const params = rule === "global" ? [] : [a.tenantId];
      // A's rows as the owner sees them: their full JSON and primary keys.
      const { rows: owned } = await db.pool.query(
        `select to_jsonb(r) as row from ${rel.name} r where ${predicate}`,
        params,
      );
      if (rule !== "global" && owned.length === 0 && isTable) {
        problems.push(`${rel.name}: the fixture has no rows of A to test with`);
      }
      const ownedText = new Set(owned.map((o) => JSON.stringify(o.row)));
      await asB(async (client) => {
        if (rule !== "global") {
          const read = await attempt(client, `select to_jsonb(r) as row from ${rel.name} r`);
          if (read.ok) {
            const seen = JSON.parse(read.text) as Array<{ row: unknown }>;
            if (seen.some((s) => ownedText.has(JSON.stringify(s.row))))
              problems.push(`${rel.name}: B reads A's rows`);
            const leaked = leaks(read.text);
            if (leaked.length) problems.push(`${rel.name}: B's read mentions ${leaked.join(", ")}`);
          }
        }
        if (!isTable || !rel.pk) return;
        // A's rows by primary key, so B's statements aim at exactly them.
        const keys = owned.map((o) => rel.pk!.map((k) => (o.row as Record<string, unknown>)[k]));
        const where =
          rule === "global"
            ? "true"
            : `(${rel.pk.map((k) => `r.${k}::text`).join(", ")}) in (select ${rel.pk.map((_, i) => `(k ->> ${i})`).join(", ")} from jsonb_array_elements($1::jsonb) k)`;
        const keyParams = rule === "global" ? [] : [JSON.stringify(keys)];
        for (const column of rel.columns) {
          const update = await attempt(
            client,
            `update ${rel.name} r set "${column}" = r."${column}" where ${where}`,
            keyParams,
          );
          if (update.ok && update.rowCount > 0)
            problems.push(`${rel.name}: B updates ${column} of A's rows`);
        }
        const del = await attempt(client, `delete from ${rel.name} r where ${where}`, keyParams);
        if (del.ok && del.rowCount > 0) problems.push(`${rel.name}: B deletes A's rows`);
      });
    }
    expect(problems).toEqual([]);
  });

  it("functions: with A's ids B gets exactly what it gets for ids that do not exist, and nothing of A", async () => {
    const { rows: functions } = await db.pool.query<{ sig: string }>(
      `select p.oid::regprocedure::text as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any($1) order by 1`,
      [SCHEMAS],
    );
    const problems: string[] = [];
    const nowhere: Ids = {
      tenantId: randomUUID(),
      invoiceId: randomUUID(),
      paidInvoiceId: randomUUID(),
      transactionId: randomUUID(),
      webhookEventId: "999999999",
      apiKeyId: randomUUID(),
      webhookEndpointId: randomUUID(),
      outboundEventId: randomUUID(),
    };
    // Results mention the ids they were given; compare with those ids masked.
    const mask = (text: string, ids: Ids) =>
      Object.values(ids).reduce((t, id) => t.replace(new RegExp(`\\b${id}\\b`, "g"), "<id>"), text);
    for (const { sig } of functions) {
      const fn = FUNCTION_CASES[sig];
      if (!fn) {
        problems.push(`${sig}: no isolation case — add one to FUNCTION_CASES`);
        continue;
      }
      await asB(async (client) => {
        const withA = await attempt(client, fn.sql, fn.args?.(aIds) ?? []);
        if (withA.ok) {
          const leaked = leaks(withA.text, fn.args?.(aIds) ?? []);
          if (leaked.length) problems.push(`${sig}: B's result mentions ${leaked.join(", ")}`);
        }
        if (!fn.args) return;
        const withNothing = await attempt(client, fn.sql, fn.args(nowhere));
        const left = withA.ok ? mask(withA.text, aIds) : `error ${withA.code}`;
        const right = withNothing.ok
          ? mask(withNothing.text, nowhere)
          : `error ${withNothing.code}`;
        if (left !== right)
          problems.push(
            `${sig}: A's ids give ${left.slice(0, 200)}, unknown ids give ${right.slice(0, 200)}`,
          );
      });
    }
    expect(problems).toEqual([]);
    // The reports hold B's figures only: A invoiced in USD and MYR, B in IDR.
    await asB(async (client) => {
      for (const report of ["financial_report", "financial_tax_report"]) {
        const { rows } = await client.query(
          `select * from paytrust_public.${report}(current_date - 30, current_date + 1, null)`,
        );
        // `${report}: B's own figures are there`
        expect(rows.length > 0).toBeTruthy();
        // `${report}: ${JSON.stringify(rows)}`
        expect(rows.every((r) => r.currency === "IDR")).toBeTruthy();
      }
    });
  });

  it("GraphQL: every root query field, with A's ids, gives B nothing of A", async () => {
    const schema = await app.gql(
      `{ __schema { queryType { fields {
         name
         args { name type { kind name ofType { kind name ofType { kind name } } } }
         type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
      } } } }`,
      {},
      b.apiKey,
    );
    // JSON.stringify(schema.body)
    expect(schema.body.data).toBeTruthy();
    const fields = schema.body.data.__schema.queryType.fields as any[];
    const typeName = (t: any): string => (t.ofType ? typeName(t.ofType) : t.name);
    const scalarsOf = new Map<string, string>();
    async function selection(name: string): Promise<string> {
      if (!scalarsOf.has(name)) {
        const res = await app.gql(
          `query($n: String!) { __type(name: $n) { kind fields { name args { name } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }`,
          { n: name },
          b.apiKey,
        );
        // JSON.stringify(res.body)
        expect(res.body.data).toBeTruthy();
        const t = res.body.data.__type;
        if (!t?.fields) scalarsOf.set(name, "");
        else {
          const plain = t.fields.filter(
            (f: any) => f.args.length === 0 && ["SCALAR", "ENUM"].includes(leafKind(f.type)),
          );
          let inner = plain.map((f: any) => f.name).join(" ");
          const nodes = t.fields.find((f: any) => f.name === "nodes");
          if (nodes) inner += ` nodes { ${await selection(typeName(nodes.type))} }`;
          scalarsOf.set(name, inner || "__typename");
        }
      }
      return scalarsOf.get(name)!;
    }
    const leafKind = (t: any): string => (t.ofType ? leafKind(t.ofType) : t.kind);
    const valueFor = (arg: any, id: string): unknown => {
      const required = arg.type.kind === "NON_NULL";
      const name = typeName(arg.type);
      if (name === "UUID") return id;
      if (!required) return undefined;
      if (name === "Date")
        return new Date(Date.now() + (arg.name === "from" ? -30 : 1) * 86_400_000)
          .toISOString()
          .slice(0, 10);
      if (name === "BigInt" || name === "Int") return /^\d+$/.test(id) ? id : "1";
      if (name === "String") return id;
      return undefined;
    };
    const ids = [...marks.filter((m) => /^[0-9a-f-]{36}$/.test(m)), aIds.webhookEventId];
    const problems: string[] = [];
    let calls = 0;
    for (const field of fields) {
      if (field.name.startsWith("__") || field.name === "query") continue;
      const inner = await selection(typeName(field.type));
      const argsList = field.args.filter(
        (arg: any) => arg.type.kind === "NON_NULL" || typeName(arg.type) === "UUID",
      );
      const idTakers = argsList.some((arg: any) => ["UUID", "BigInt"].includes(typeName(arg.type)));
      for (const id of idTakers ? ids : [ids[0]]) {
        const variables: Record<string, unknown> = {};
        for (const arg of argsList) variables[arg.name] = valueFor(arg, id);
        const defs = argsList.map((arg: any) => `$${arg.name}: ${printType(arg.type)}`).join(", ");
        const call = argsList.map((arg: any) => `${arg.name}: $${arg.name}`).join(", ");
        const query = `query${defs ? `(${defs})` : ""} { f: ${field.name}${call ? `(${call})` : ""}${inner ? ` { ${inner} }` : ""} }`;
        const res = await app.gql(query, variables, b.apiKey);
        calls++;
        const leaked = leaks(JSON.stringify(res.body), Object.values(variables));
        if (leaked.length) problems.push(`${field.name}(${id}): ${leaked.join(", ")}`);
      }
    }
    // `${calls} GraphQL calls`
    expect(calls > fields.length).toBeTruthy();
    expect(problems).toEqual([]);
    function printType(t: any): string {
      if (t.kind === "NON_NULL") return `${printType(t.ofType)}!`;
      if (t.kind === "LIST") return `[${printType(t.ofType)}]`;
      return t.name;
    }
  });

  it("REST: /pay/:id shows a payment's state, nothing of its invoice, customer or tenant", async () => {
    for (const tx of [aPaidTx, aPendingTx]) {
      const res = await http(`${app.url}/pay/${tx.id}`, { redirect: "manual" });
      expect([200, 303].includes(res.status)).toBeTruthy();
      const location = res.headers.get("location");
      // A pending payment forwards to the gateway's own checkout page (the payer's link), nothing else.
      if (location) expect(location).toBe(tx.gatewayCheckoutUrl);
      const leaked = leaks(res.text, [tx.id, location ?? ""]);
      // `/pay/${tx.id} shows ${leaked.join(", ")}`
      expect(leaked).toEqual([]);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
    for (const id of [randomUUID(), "not-a-uuid", "../../etc/passwd"]) {
      const res = await http(`${app.url}/pay/${encodeURIComponent(id)}`);
      expect(res.status).toBe(404);
    }
  });

  for (const document of ["pain.001", "pain.002"]) {
    it(`REST: /invoices/:id/${document}.xml — B gets 404 for A's invoice, anonymous 401`, async () => {
      const url = `${app.url}/invoices/${aIds.paidInvoiceId}/${document}.xml`;
      const own = await http(url, { headers: { authorization: `Bearer ${a.apiKey}` } });
      expect(own.status).toBe(200);
      // the owner's document is the real one
      expect(own.text.includes(A_NAME)).toBeTruthy();
      for (const id of [aIds.paidInvoiceId, aIds.invoiceId]) {
        const res = await http(`${app.url}/invoices/${id}/${document}.xml`, {
          headers: { authorization: `Bearer ${b.apiKey}` },
        });
        // `HTTP ${res.status}`
        expect(res.status === 404 || res.status === 403).toBeTruthy();
        expect(leaks(res.text, [id])).toEqual([]);
      }
      expect((await http(url)).status).toBe(401);
    });
  }

  it("no tenant, admin, analyst or authenticator reaches the private schema or the job queue; analysts see reporting only", async () => {
    const roles = [
      "paytrust_tenant",
      "paytrust_admin",
      "paytrust_analyst",
      "paytrust_authenticator",
    ];
    const { rows } = await db.pool.query(
      `select r.role, s.schema, has_schema_privilege(r.role, s.schema, 'USAGE') as usage
         from unnest($1::text[]) r(role), unnest(array['paytrust_private', 'graphile_worker', 'public', 'paytrust_public', 'paytrust_reporting']) s(schema)`,
      [roles],
    );
    const usage = (role: string, schema: string) =>
      rows.find((r) => r.role === role && r.schema === schema)?.usage;
    for (const role of roles) {
      // `${role} on paytrust_private`
      expect(usage(role, "paytrust_private")).toBe(false);
      // `${role} on graphile_worker`
      expect(usage(role, "graphile_worker")).toBe(false);
    }
    // analysts do not reach the API schema
    expect(usage("paytrust_analyst", "paytrust_public")).toBe(false);
    expect(usage("paytrust_analyst", "paytrust_reporting")).toBe(true);
    // And in practice: the secrets table and the private functions are out of reach.
    for (const role of ["paytrust_tenant", "paytrust_analyst"] as const) {
      await asRole(db.pool, role, { tenantId: b.tenantId }, async (client) => {
        for (const sql of [
          "select secret_hash from paytrust_private.api_keys",
          "select paytrust_private.apply_webhook_event(1)",
          "select paytrust_private.receive_webhook('xendit', 'x', 'y', '{}')",
          "select * from graphile_worker.jobs",
          "select graphile_worker.add_job('webhook__process', '{}')",
        ]) {
          const outcome = await attempt(client, sql);
          // `${role}: ${sql}`
          expect(outcome.ok ? "ran" : outcome.code).toBe("42501");
        }
        if (role === "paytrust_analyst") {
          expect((await attempt(client, "select * from paytrust_public.invoices")).ok).toBe(false);
          expect(
            (await attempt(client, "select * from paytrust_reporting.revenue_by_day")).ok,
          ).toBe(true);
        }
      });
    }
  });
});
