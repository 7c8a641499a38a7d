/**
 * Tenant isolation: tenant B must never read, change or extend tenant A's
 * data, through GraphQL (B's API key) or directly in SQL as the tenant role
 * with B's claims. Secrets never reach the GraphQL schema; admin keys see
 * tenants and API keys (without hashes).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  asRole,
  createAdminKey,
  createTenant,
  freshDatabase,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";

const CREATE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) {
    invoice {
      id number tenantId
      lineItems { nodes { id position } }
      installments { nodes { id number } }
    }
  }
}`;

interface Tenant {
  tenantId: string;
  apiKey: string;
  keyId: string;
}

interface Created {
  id: string;
  number: string;
  lineIds: string[];
  installmentIds: string[];
}

describe("tenant isolation", () => {
  let db: TestDatabase;
  let app: TestApp;
  let a: Tenant;
  let b: Tenant;
  let admin: { apiKey: string; keyId: string };
  let aOpen: Created; // A's open invoice
  let aInitiated: Created; // A's invoice with a payment initiated
  let bOpen: Created; // B's own invoice
  /** Everything identifying A, which must never appear in anything B receives. */
  let aSecrets: string[];
  let aSnapshotBefore: unknown;

  async function createInvoice(
    tenant: Tenant,
    overrides: Record<string, unknown> = {},
  ): Promise<Created> {
    const res = await app.gql(
      CREATE,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "Customer",
          customerEmail: "customer@example.co.id",
          lineItems: [
            { description: "Item one", quantity: 1, unitPrice: "10000", taxRate: "11" },
            { description: "Item two", quantity: 2, unitPrice: "20000", taxRate: "11" },
          ],
          installmentCount: 2,
          ...overrides,
        },
      },
      tenant.apiKey,
    );
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    const inv = res.body.data.createInvoice.invoice;
    expect(inv.tenantId).toBe(tenant.tenantId);
    return {
      id: inv.id,
      number: inv.number,
      lineIds: inv.lineItems.nodes.map((l: any) => l.id),
      installmentIds: inv.installments.nodes.map((i: any) => i.id),
    };
  }

  /** Every row of tenant A, as the owner sees it. */
  async function snapshotA(): Promise<unknown> {
    const { rows } = await db.pool.query(
      `select (select jsonb_agg(to_jsonb(t)) from paytrust_public.tenants t where t.id = $1) as tenant,
              (select jsonb_agg(to_jsonb(i) order by i.number) from paytrust_public.invoices i where i.tenant_id = $1) as invoices,
              (select jsonb_agg(to_jsonb(l) order by l.invoice_id, l.position) from paytrust_public.line_items l where l.tenant_id = $1) as lines,
              (select jsonb_agg(to_jsonb(s) order by s.invoice_id, s.number) from paytrust_public.installments s where s.tenant_id = $1) as plan,
              (select jsonb_agg(to_jsonb(k) order by k.id) from paytrust_private.api_keys k where k.tenant_id = $1) as keys`,
      [a.tenantId],
    );
    return rows[0];
  }

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    a = await createTenant(db.pool, "Alpha Merchant");
    b = await createTenant(db.pool, "Bravo Merchant");
    admin = await createAdminKey(db.pool);
    aOpen = await createInvoice(a, {
      customerName: "Alpha Customer",
      customerEmail: "alpha.customer@example.co.id",
      idempotencyKey: "alpha-order-1",
    });
    aInitiated = await createInvoice(a, { customerName: "Alpha Customer" });
    await db.pool.query(
      "update paytrust_public.invoices set payment_initiated_at = now(), status = 'pending' where id = $1",
      [aInitiated.id],
    );
    bOpen = await createInvoice(b, { customerName: "Bravo Customer" });
    aSecrets = [
      a.tenantId,
      a.keyId,
      "Alpha Merchant",
      "Alpha Customer",
      "alpha.customer@example.co.id",
      ...[aOpen, aInitiated].flatMap((x) => [x.id, ...x.lineIds, ...x.installmentIds]),
    ];
    aSnapshotBefore = await snapshotA();
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  /**
   * B's GraphQL request; the whole response must not mention anything of A
   * (except the values B itself sent, which error messages may echo).
   */
  async function asB(query: string, variables: Record<string, unknown> = {}) {
    const res = await app.gql(query, variables, b.apiKey);
    const text = JSON.stringify(res.body);
    const sent = new Set(Object.values(variables).map(String));
    for (const secret of aSecrets.filter((s) => !sent.has(s))) {
      // `B's response leaks ${secret}: ${text}`
      expect(!text.includes(secret)).toBeTruthy();
    }
    return res;
  }

  describe("through GraphQL with B's key", () => {
    it("lists only B's invoices, line items and installments", async () => {
      const res = await asB(`{
        invoices { nodes { id tenantId } }
        lineItems { nodes { id tenantId invoiceId } }
        installments { nodes { id tenantId invoiceId } }
      }`);
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      const data = res.body.data;
      expect(data.invoices.nodes.map((n: any) => n.id)).toEqual([bOpen.id]);
      expect(data.lineItems.nodes.length).toBe(2);
      expect(data.installments.nodes.length).toBe(2);
      for (const n of [...data.lineItems.nodes, ...data.installments.nodes]) {
        expect(n.tenantId).toBe(b.tenantId);
        expect(n.invoiceId).toBe(bOpen.id);
      }
    });

    it("cannot fetch A's invoice, line items or installments by id or unique key", async () => {
      const res = await asB(
        `query ($id: UUID!, $number: BigInt!, $line: UUID!, $inst: UUID!) {
          invoice(id: $id) { id }
          invoiceByNumber(number: $number) { id }
          invoiceByIdempotencyKey(idempotencyKey: "alpha-order-1") { id }
          lineItem(id: $line) { id }
          lineItemByInvoiceIdAndPosition(invoiceId: $id, position: 1) { id }
          installment(id: $inst) { id }
          installmentByInvoiceIdAndNumber(invoiceId: $id, number: 1) { id }
          installmentCanStart(invoiceId: $id, installmentNumber: 1)
        }`,
        {
          id: aOpen.id,
          number: aOpen.number,
          line: aOpen.lineIds[0],
          inst: aOpen.installmentIds[0],
        },
      );
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      // Numbers count per tenant: B gets its own invoice with that number (or null), never A's.
      expect(res.body.data.invoiceByNumber?.id ?? null).not.toBe(aOpen.id);
      expect({ ...res.body.data, invoiceByNumber: null }).toEqual({
        invoice: null,
        invoiceByNumber: null,
        invoiceByIdempotencyKey: null,
        lineItem: null,
        lineItemByInvoiceIdAndPosition: null,
        installment: null,
        installmentByInvoiceIdAndNumber: null,
        installmentCanStart: false,
      });
    });

    it("cannot see A's tenant row", async () => {
      const res = await asB(`query ($a: UUID!) { tenant(id: $a) { id name } }`, { a: a.tenantId });
      expect(res.body.data?.tenant ?? null).toBe(null);
      const list = await asB(`{ tenants { nodes { id name } } }`);
      const ids = (list.body.data?.tenants?.nodes ?? []).map((t: any) => t.id);
      expect(!ids.includes(a.tenantId)).toBeTruthy();
    });

    it("can read its own tenant row (and only that one)", async () => {
      const res = await asB(
        `query ($b: UUID!) { tenant(id: $b) { id name } tenants { nodes { id } } }`,
        {
          b: b.tenantId,
        },
      );
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      expect(res.body.data.tenant).toEqual({ id: b.tenantId, name: "Bravo Merchant" });
      expect(res.body.data.tenants.nodes).toEqual([{ id: b.tenantId }]);
    });

    it("cannot update A's invoice", async () => {
      const res = await asB(
        `mutation ($id: UUID!) {
          updateInvoice(input: {id: $id, patch: {description: "hijacked", customerEmail: "evil@example.com"}}) {
            invoice { id description }
          }
        }`,
        { id: aOpen.id },
      );
      expect(res.body.data?.updateInvoice?.invoice ?? null).toBe(null);
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("cannot cancel A's invoice (PTNFD)", async () => {
      const res = await asB(
        `mutation ($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { id status } } }`,
        { id: aOpen.id },
      );
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("cannot supplement A's invoice (PTNFD)", async () => {
      const before = await db.pool.query("select count(*)::int as n from paytrust_public.invoices");
      const res = await asB(
        `mutation ($id: UUID!) {
          createSupplementaryInvoice(input: {parentInvoiceId: $id, lineItems: [
            {description: "Extra", quantity: 1, unitPrice: "1000", taxRate: "0"}
          ]}) { invoice { id parentInvoiceId } }
        }`,
        { id: aInitiated.id },
      );
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
      const afterCount = await db.pool.query(
        "select count(*)::int as n from paytrust_public.invoices",
      );
      expect(afterCount.rows[0].n).toBe(before.rows[0].n);
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("sees no API key rows", async () => {
      const res = await asB(`{ apiKeys { nodes { id tenantId prefix } } }`);
      expect(res.body.data?.apiKeys?.nodes ?? []).toEqual([]);
      if (res.body.errors) expect(res.body.errors[0].extensions?.code).toBe("PTPRM");
    });
  });

  describe("in SQL as the tenant role with B's claims", () => {
    const asTenantB = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
      asRole(db.pool, "paytrust_tenant", { tenantId: b.tenantId, apiKeyId: b.keyId }, fn);

    /** Rows a query returns, or the SQLSTATE that refused it. */
    async function rowsOrCode(client: pg.PoolClient, sql: string, params: unknown[] = []) {
      await client.query("savepoint rows_or_code");
      try {
        const { rows } = await client.query(sql, params);
        await client.query("release savepoint rows_or_code");
        return { rows };
      } catch (error: any) {
        await client.query("rollback to savepoint rows_or_code");
        return { code: error.code as string };
      }
    }

    it("reads none of A's rows from any tenant table", async () => {
      await asTenantB(async (client) => {
        for (const table of ["invoices", "line_items", "installments"]) {
          const { rows } = await client.query(
            `select tenant_id, count(*)::int as n from paytrust_public.${table} group by tenant_id`,
          );
          expect(rows.map((r) => r.tenant_id)).toEqual([b.tenantId]);
          const direct = await client.query(
            `select * from paytrust_public.${table} where tenant_id = $1`,
            [a.tenantId],
          );
          expect(direct.rowCount).toBe(0);
        }
        // Every other tenant-owned table, including ones added later (payments, webhooks…).
        const { rows: tables } = await client.query<{ relname: string }>(
          `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'paytrust_public' and c.relkind in ('r', 'p', 'v')
              and exists (select 1 from pg_attribute a where a.attrelid = c.oid
                            and a.attname = 'tenant_id' and not a.attisdropped)
            order by 1`,
        );
        // JSON.stringify(tables)
        expect(tables.length >= 5).toBeTruthy();
        for (const { relname } of tables) {
          const res = await rowsOrCode(
            client,
            `select count(*)::int as n from paytrust_public.${relname} where tenant_id <> $1`,
            [b.tenantId],
          );
          if ("code" in res) expect(res.code).toBe("42501");
          // `${relname} shows rows of another tenant`
          else expect(res.rows[0].n).toBe(0);
        }
        const byId = await client.query(
          "select * from paytrust_public.invoices where id = any($1)",
          [[aOpen.id, aInitiated.id]],
        );
        expect(byId.rowCount).toBe(0);
        // Tables the tenant role may not read at all: refused, or no row of A.
        for (const sql of [
          "select * from paytrust_public.audit_events",
          "select * from paytrust_public.api_keys",
          "select * from paytrust_public.api_key_audit_logs()",
        ]) {
          const res = await rowsOrCode(client, sql);
          if ("code" in res) expect(res.code).toBe("42501");
          else {
            const text = JSON.stringify(res.rows);
            // `${sql} leaks ${secret}`
            for (const secret of aSecrets) expect(!text.includes(secret)).toBeTruthy();
          }
        }
      });
    });

    it("reads exactly its own tenant row from paytrust_public.tenants", async () => {
      await asTenantB(async (client) => {
        const res = await rowsOrCode(client, "select id from paytrust_public.tenants");
        expect(res).toEqual({ rows: [{ id: b.tenantId }] });
      });
    });

    it("sees nothing at all without a tenant claim", async () => {
      await asRole(db.pool, "paytrust_tenant", {}, async (client) => {
        for (const table of ["invoices", "line_items", "installments"]) {
          const { rows } = await client.query(
            `select count(*)::int as n from paytrust_public.${table}`,
          );
          expect(rows[0].n).toBe(0);
        }
      });
    });

    it("updates and deletes of A's rows affect 0 rows or are refused", async () => {
      await asTenantB(async (client) => {
        const attempts: [string, unknown[]][] = [
          [
            "update paytrust_public.invoices set description = 'hijacked' where id = $1",
            [aOpen.id],
          ],
          [
            "update paytrust_public.invoices set customer_email = 'evil@example.com' where tenant_id = $1",
            [a.tenantId],
          ],
          [
            "update paytrust_public.invoices set description = 'hijacked' where id = $1",
            [aInitiated.id],
          ],
          ["update paytrust_public.invoices set status = 'cancelled' where id = $1", [aOpen.id]],
          [
            "update paytrust_public.invoices set tenant_id = $2 where id = $1",
            [aOpen.id, b.tenantId],
          ],
          ["update paytrust_public.line_items set quantity = 99 where invoice_id = $1", [aOpen.id]],
          [
            "update paytrust_public.installments set status = 'paid' where invoice_id = $1",
            [aOpen.id],
          ],
          ["update paytrust_public.tenants set name = 'hijacked' where id = $1", [a.tenantId]],
          ["delete from paytrust_public.invoices where id = $1", [aOpen.id]],
          ["delete from paytrust_public.line_items where tenant_id = $1", [a.tenantId]],
          ["delete from paytrust_public.installments where tenant_id = $1", [a.tenantId]],
          ["delete from paytrust_public.tenants where id = $1", [a.tenantId]],
          ["delete from paytrust_public.audit_events where tenant_id = $1", [a.tenantId]],
        ];
        for (const [sql, params] of attempts) {
          await client.query("savepoint attempt");
          try {
            const res = await client.query(sql, params);
            // `${sql} changed ${res.rowCount} row(s) of A`
            expect(res.rowCount).toBe(0);
            await client.query("release savepoint attempt");
          } catch (error: any) {
            await client.query("rollback to savepoint attempt");
            if (error.code === "ERR_ASSERTION") throw error;
            // `${sql}: ${error.message}`
            expect(error.code).toBe("42501");
          }
        }
      });
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("inserts with tenant_id = A are refused", async () => {
      await asTenantB(async (client) => {
        const attempts: [string, unknown[]][] = [
          [
            `insert into paytrust_public.invoices (tenant_id, currency, gateway, customer_name, customer_email,
               subtotal, tax_total, service_fee, total, fee_percent, fee_fixed, installment_count)
             values ($1, 'IDR', 'xendit', 'x', 'x@example.com', 0, 0, 0, 0, 0, 0, 1)`,
            [a.tenantId],
          ],
          [
            `insert into paytrust_public.line_items
               (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
             values ($1, $2, 9, 'x', 1, 0, 0, 0, 0)`,
            [a.tenantId, aOpen.id],
          ],
          [
            `insert into paytrust_public.installments
               (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
             values ($1, $2, 9, current_date, 0, 0, 0, 0)`,
            [a.tenantId, aOpen.id],
          ],
          ["insert into paytrust_public.tenants (id, name) values (gen_random_uuid(), 'x')", []],
          [
            "insert into paytrust_public.audit_events (action, tenant_id) values ('forged', $1)",
            [a.tenantId],
          ],
        ];
        for (const [sql, params] of attempts) {
          const code = await sqlError(client, sql, params);
          // `${sql.trim().slice(0, 60)}… → ${code}`
          expect(code === "42501").toBeTruthy();
        }
      });
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("cannot cancel or supplement A's invoices through the public functions (PTNFD)", async () => {
      await asTenantB(async (client) => {
        expect(
          await sqlError(client, "select paytrust_public.cancel_invoice($1)", [aOpen.id]),
        ).toBe("PTNFD");
        expect(
          await sqlError(
            client,
            `select paytrust_public.create_supplementary_invoice($1,
               array[row('x', 1, 100, 0)::paytrust_public.invoice_line])`,
            [aInitiated.id],
          ),
        ).toBe("PTNFD");
        const { rows } = await client.query(
          "select paytrust_public.installment_can_start($1, 1) as x",
          [aOpen.id],
        );
        expect(rows[0].x).toBe(false);
      });
      expect(await snapshotA()).toEqual(aSnapshotBefore);
    });

    it("cannot read paytrust_private.api_keys or call private functions (42501)", async () => {
      await asTenantB(async (client) => {
        const attempts = [
          "select * from paytrust_private.api_keys",
          "select secret_hash from paytrust_private.api_keys",
          "select paytrust_private.is_admin()",
          "select paytrust_private.require_tenant()",
          "select paytrust_private.current_api_key_id()",
          "select paytrust_private.assert_admin()",
          "select paytrust_private.audit('forged', 'x', '{}')",
          "select paytrust_private.purge_audit_events('0 seconds')",
          "select paytrust_private.touch_api_key(gen_random_uuid())",
          `select paytrust_private.insert_invoice(gen_random_uuid(), null, 'IDR', 'xendit', 'x', 'x@example.com',
             array[row('x', 1, 100, 0)::paytrust_public.invoice_line], null, null, 1, 30, null, null, null, null, null)`,
          "select paytrust_private.assert_invoice_sums(gen_random_uuid())",
          "select paytrust_public.create_tenant('Evil')",
          "select * from paytrust_public.api_key_audit_logs()",
        ];
        const outcomes: Record<string, string | null> = {};
        for (const sql of attempts) outcomes[sql] = await sqlError(client, sql);
        expect(outcomes).toEqual(Object.fromEntries(attempts.map((sql) => [sql, "42501"])));
      });
    });
  });

  describe("schema guards", () => {
    it("every tenant-owned table in paytrust_public has RLS enabled and policies", async () => {
      const { rows } = await db.pool.query(
        `select c.relname, c.relrowsecurity,
                (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'paytrust_public' and c.relkind in ('r', 'p')
            and (exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id'
                           and not a.attisdropped)
                 or c.relname = 'tenants')
          order by c.relname`,
      );
      // JSON.stringify(rows)
      expect(rows.length >= 5).toBeTruthy();
      for (const r of rows) {
        // `${r.relname} has RLS`
        expect(r.relrowsecurity).toBe(true);
        // `${r.relname} has policies`
        expect(r.policies >= 1).toBeTruthy();
      }
    });

    /**
     * The one place "secret" may appear: the signing secret of an outbound
     * webhook endpoint, shown once in the payloads of the two mutations that
     * make one (docs/webhooks.md), and the mutation that rotates it. Any other
     * field, argument, input field or enum value named like a secret or a hash
     * is a leak.
     */
    const SHOWN_ONCE = new Set([
      "CreateWebhookEndpointPayload.secret",
      "RotateWebhookEndpointSecretPayload.secret",
      "RotateWebhookEndpointSecretInput",
      "RotateWebhookEndpointSecretPayload",
      "Mutation.rotateWebhookEndpointSecret",
    ]);

    it("the GraphQL schema never exposes secretHash or idempotencyHash (only the shown-once webhook secret)", async () => {
      const query = `{ __schema { types {
        name
        fields(includeDeprecated: true) { name args { name } }
        inputFields { name }
        enumValues(includeDeprecated: true) { name }
      } } }`;
      for (const key of [a.apiKey, admin.apiKey]) {
        const res = await app.gql(query, {}, key);
        // JSON.stringify(res.body.errors)
        expect(res.body.errors).toBe(undefined);
        // Qualified names: Type, Type.field, Type.field(arg), Input.field, Enum.VALUE.
        const names: string[] = [];
        for (const t of res.body.data.__schema.types) {
          names.push(t.name);
          for (const f of t.fields ?? [])
            names.push(
              `${t.name}.${f.name}`,
              ...f.args.map((x: any) => `${t.name}.${f.name}(${x.name})`),
            );
          for (const f of t.inputFields ?? []) names.push(`${t.name}.${f.name}`);
          for (const v of t.enumValues ?? []) names.push(`${t.name}.${v.name}`);
        }
        const last = (n: string) => n.replace(/\)$/, "").split(/[.(]/).pop()!;
        const bad = names.filter(
          (n) => /hash/i.test(last(n)) || (/secret/i.test(last(n)) && !SHOWN_ONCE.has(n)),
        );
        // no secret or hash anywhere in the schema
        expect(bad).toEqual([]);
        // the exceptions are real (so this list cannot silently outgrow the schema)
        for (const n of SHOWN_ONCE) expect(names).toContain(n);
        const type = (name: string) =>
          res.body.data.__schema.types.find((t: any) => t.name === name);
        const apiKey = type("ApiKey");
        // ApiKey type exists
        expect(apiKey).toBeTruthy();
        expect(
          apiKey.fields.map((f: any) => f.name).filter((n: string) => /secret|hash/i.test(n)),
        ).toEqual([]);
        // the endpoint itself carries no secret: it is in the payloads only
        expect(
          type("WebhookEndpoint")
            .fields.map((f: any) => f.name)
            .filter((n: string) => /secret|hash/i.test(n)),
        ).toEqual([]);
      }
    });

    it("a webhook secret shown once cannot be read back: not in any field, audit row or other tenant's view", async () => {
      const created = await app.gql(
        `mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/hook", eventTypes: ["invoice.paid"]}) {
           webhookEndpoint { id } secret } }`,
        {},
        a.apiKey,
      );
      // JSON.stringify(created.body.errors)
      expect(created.body.errors).toBe(undefined);
      const { secret, webhookEndpoint } = created.body.data.createWebhookEndpoint;
      expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
      const rotated = await app.gql(
        `mutation($id: UUID!) { rotateWebhookEndpointSecret(input: {id: $id}) { secret } }`,
        { id: webhookEndpoint.id },
        a.apiKey,
      );
      const next = rotated.body.data.rotateWebhookEndpointSecret.secret;
      expect(next).toMatch(/^whsec_[0-9a-f]{64}$/);
      expect(next).not.toBe(secret);
      // Every scalar field of the endpoint (whatever fields exist now), and its deliveries.
      const fields = await app.gql(
        `{ __type(name: "WebhookEndpoint") { fields { name args { name } type { kind ofType { kind ofType { kind } } } } } }`,
        {},
        a.apiKey,
      );
      const leaf = (t: any): string => (t.ofType ? leaf(t.ofType) : t.kind);
      const scalars = fields.body.data.__type.fields
        .filter((f: any) => f.args.length === 0 && ["SCALAR", "ENUM"].includes(leaf(f.type)))
        .map((f: any) => f.name)
        .join(" ");
      for (const key of [a.apiKey, b.apiKey]) {
        const read = await app.gql(
          `{ webhookEndpoints { nodes { ${scalars} } } webhookDeliveries { nodes { id } } }`,
          {},
          key,
        );
        // JSON.stringify(read.body.errors)
        expect(read.body.errors).toBe(undefined);
        const text = JSON.stringify(read.body);
        for (const s of [secret, next]) expect(text.includes(s)).toBe(false);
        if (key === b.apiKey) expect(text.includes(webhookEndpoint.id)).toBe(false);
        else expect(text.includes(webhookEndpoint.id)).toBe(true);
      }
      // Audited without the secret.
      const { rows } = await db.pool.query(
        `select count(*)::int as audited,
                count(*) filter (where to_jsonb(e)::text like '%' || $2 || '%'
                                    or to_jsonb(e)::text like '%' || $3 || '%')::int as leaking
           from paytrust_public.audit_events e where e.subject_id = $1`,
        [webhookEndpoint.id, secret.slice(6), next.slice(6)],
      );
      expect(rows[0].audited).toBeGreaterThanOrEqual(2);
      expect(rows[0].leaking).toBe(0);
    });
  });

  describe("admin key", () => {
    it("sees every tenant and every API key, without any secret", async () => {
      const res = await app.gql(
        `{ tenants { nodes { id name } } apiKeys { nodes { id tenantId role name prefix revokedAt } } }`,
        {},
        admin.apiKey,
      );
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      const tenants = res.body.data.tenants.nodes.map((t: any) => t.id);
      expect(tenants.includes(a.tenantId) && tenants.includes(b.tenantId)).toBeTruthy();
      const keys = res.body.data.apiKeys.nodes;
      const ids = keys.map((k: any) => k.id);
      for (const id of [a.keyId, b.keyId, admin.keyId]) // id
        expect(ids.includes(id)).toBeTruthy();
      expect(keys.find((k: any) => k.id === a.keyId).tenantId).toBe(a.tenantId);
      expect(keys.find((k: any) => k.id === admin.keyId).role).toBe("admin");
      // no hash in the response
      expect(!JSON.stringify(res.body).includes("$argon2")).toBeTruthy();
    });

    it("a tenant key sees no apiKeys rows, not even its own", async () => {
      const res = await app.gql(`{ apiKeys { nodes { id } } }`, {}, a.apiKey);
      expect(res.body.data?.apiKeys?.nodes ?? []).toEqual([]);
      expect(!JSON.stringify(res.body).includes(a.keyId)).toBeTruthy();
    });
  });
});
