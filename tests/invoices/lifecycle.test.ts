/**
 * Invoice lifecycle rules: immutability once a payment is initiated (through
 * GraphQL, as the tenant role, and as the owner role that bypasses every
 * grant), the deferred consistency check (PTSUM), status transitions,
 * cancelInvoice, createSupplementaryInvoice and installment sequencing.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  asRole,
  createTenant,
  freshDatabase,
  inRolledBackTransaction,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";

const INVOICE = `id status currency gateway customerName customerEmail description subtotal taxTotal
  serviceFee total paymentInitiatedAt parentInvoiceId cancelledAt nextInstallmentNumber
  lineItems(orderBy: POSITION_ASC) { nodes { description quantity unitPrice lineAmount taxAmount } }
  installments(orderBy: NUMBER_ASC) { nodes { number principal taxAmount feeAmount total status } }`;

const CREATE = `mutation ($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { ${INVOICE} } } }`;
const CANCEL = `mutation ($id: UUID!) { cancelInvoice(input: {invoiceId: $id}) { invoice { ${INVOICE} } } }`;
const UPDATE = `mutation ($id: UUID!, $patch: InvoicePatch!) {
  updateInvoice(input: {id: $id, patch: $patch}) { invoice { id description customerName } }
}`;
const SUPPLEMENT = `mutation ($input: CreateSupplementaryInvoiceInput!) {
  createSupplementaryInvoice(input: $input) { invoice { ${INVOICE} parentInvoice { id } } }
}`;
const CAN_START = `query ($id: UUID!, $n: Int!) {
  installmentCanStart(invoiceId: $id, installmentNumber: $n)
  invoice(id: $id) { nextInstallmentNumber }
}`;

describe("invoice lifecycle", () => {
  let db: TestDatabase;
  let app: TestApp;
  let tenant: { tenantId: string; apiKey: string };
  let other: { tenantId: string; apiKey: string };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
    tenant = await createTenant(db.pool, "Lifecycle tenant");
    other = await createTenant(db.pool, "Other tenant");
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function createInvoice(overrides: Record<string, unknown> = {}, apiKey = tenant.apiKey) {
    const res = await app.gql(
      CREATE,
      {
        input: {
          currency: "IDR",
          gateway: "xendit",
          customerName: "Dewi Lestari",
          customerEmail: "dewi@example.co.id",
          description: "Original description",
          lineItems: [
            { description: "Tea", quantity: 10, unitPrice: "15000", taxRate: "11" },
            { description: "Cake", quantity: 3, unitPrice: "45000", taxRate: "11" },
          ],
          installmentCount: 3,
          ...overrides,
        },
      },
      apiKey,
    );
    // JSON.stringify(res.body.errors)
    expect(res.body.errors).toBe(undefined);
    return res.body.data.createInvoice.invoice;
  }

  /** What the payment flow does when a payment starts (as owner, committed). */
  async function initiate(invoiceId: string): Promise<void> {
    await db.pool.query(
      "update paytrust_public.invoices set payment_initiated_at = now(), status = 'pending' where id = $1",
      [invoiceId],
    );
  }

  /** Everything stored about an invoice, to prove that it did not change. */
  async function snapshot(invoiceId: string): Promise<unknown> {
    const { rows } = await db.pool.query(
      `select to_jsonb(i) as invoice,
              (select jsonb_agg(to_jsonb(l) order by l.position) from paytrust_public.line_items l
                where l.invoice_id = i.id) as lines,
              (select jsonb_agg(to_jsonb(s) order by s.number) from paytrust_public.installments s
                where s.invoice_id = i.id) as plan
         from paytrust_public.invoices i where i.id = $1`,
      [invoiceId],
    );
    return rows[0];
  }

  /** Runs fn as the owner role (no RLS, every privilege) in a rolled-back transaction. */
  const asOwner = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
    inRolledBackTransaction(db.pool, fn);

  describe("immutability once a payment is initiated", () => {
    let invoice: any;
    let frozen: unknown;

    beforeAll(async () => {
      invoice = await createInvoice();
      await initiate(invoice.id);
      frozen = await snapshot(invoice.id);
    });

    it("updateInvoice works before initiation (control)", async () => {
      const open = await createInvoice();
      const res = await app.gql(
        UPDATE,
        { id: open.id, patch: { description: "Edited" } },
        tenant.apiKey,
      );
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      expect(res.body.data.updateInvoice.invoice.description).toBe("Edited");
    });

    it("refuses updateInvoice through GraphQL (PTIMM)", async () => {
      for (const patch of [
        { description: "Changed after payment" },
        { customerName: "Someone Else" },
        { customerEmail: "other@example.co.id" },
        { dueDate: "2031-01-01" },
        { externalRef: "NEW-REF" },
      ]) {
        const res = await app.gql(UPDATE, { id: invoice.id, patch }, tenant.apiKey);
        // JSON.stringify(res.body)
        expect(res.body.errors?.[0]?.extensions?.code).toBe("PTIMM");
      }
      expect(await snapshot(invoice.id)).toEqual(frozen);
    });

    it("refuses descriptive updates in SQL as the tenant role (PTIMM)", async () => {
      await asRole(db.pool, "paytrust_tenant", { tenantId: tenant.tenantId }, async (client) => {
        for (const set of [
          "description = 'changed'",
          "customer_name = 'Someone Else'",
          "customer_email = 'other@example.co.id'",
          "due_date = '2031-01-01'",
          "external_ref = 'NEW-REF'",
        ]) {
          expect(
            await sqlError(client, `update paytrust_public.invoices set ${set} where id = $1`, [
              invoice.id,
            ]),
          ).toBe("PTIMM");
        }
      });
      expect(await snapshot(invoice.id)).toEqual(frozen);
    });

    it("refuses every change of amounts, lines and plan even to the owner role (PTIMM)", async () => {
      await asOwner(async (client) => {
        const id = [invoice.id];
        const attempts: [string, string, unknown[]][] = [
          [
            "line quantity",
            "update paytrust_public.line_items set quantity = quantity + 1 where invoice_id = $1 and position = 1",
            id,
          ],
          [
            "line amount (consistent)",
            `update paytrust_public.line_items set quantity = quantity + 1, line_amount = (quantity + 1) * unit_price
              where invoice_id = $1 and position = 1`,
            id,
          ],
          [
            "line tax rate",
            "update paytrust_public.line_items set tax_rate = 0 where invoice_id = $1",
            id,
          ],
          [
            "line description",
            "update paytrust_public.line_items set description = 'x' where invoice_id = $1",
            id,
          ],
          [
            "delete a line",
            "delete from paytrust_public.line_items where invoice_id = $1 and position = 2",
            id,
          ],
          [
            "insert a line",
            `insert into paytrust_public.line_items
               (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
             values ($2, $1, 3, 'Sneaked in', 1, 0, 0, 0, 0)`,
            [invoice.id, tenant.tenantId],
          ],
          [
            "installment principal",
            "update paytrust_public.installments set principal = principal + 1, total = total + 1 where invoice_id = $1 and number = 1",
            id,
          ],
          [
            "installment due date",
            "update paytrust_public.installments set due_date = due_date + 1 where invoice_id = $1 and number = 2",
            id,
          ],
          [
            "delete an installment",
            "delete from paytrust_public.installments where invoice_id = $1 and number = 3",
            id,
          ],
          [
            "insert an installment",
            `insert into paytrust_public.installments
               (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
             values ($2, $1, 4, current_date, 0, 0, 0, 0)`,
            [invoice.id, tenant.tenantId],
          ],
          [
            "invoice total",
            "update paytrust_public.invoices set total = total + 1, service_fee = service_fee + 1 where id = $1",
            id,
          ],
          [
            "invoice currency",
            "update paytrust_public.invoices set currency = 'USD' where id = $1",
            id,
          ],
          [
            "invoice gateway",
            "update paytrust_public.invoices set gateway = 'midtrans' where id = $1",
            id,
          ],
          [
            "invoice fee config",
            "update paytrust_public.invoices set fee_percent = 0 where id = $1",
            id,
          ],
          [
            "invoice description",
            "update paytrust_public.invoices set description = 'x' where id = $1",
            id,
          ],
          [
            "un-initiate",
            "update paytrust_public.invoices set payment_initiated_at = null where id = $1",
            id,
          ],
          [
            "re-parent",
            "update paytrust_public.invoices set parent_invoice_id = (select id from paytrust_public.invoices where id <> $1 limit 1) where id = $1",
            id,
          ],
          ["delete the invoice", "delete from paytrust_public.invoices where id = $1", id],
        ];
        // Collect every outcome first, so one report shows all the attempts that were not PTIMM.
        const outcomes: Record<string, string | null> = {};
        for (const [label, sql, params] of attempts)
          outcomes[label] = await sqlError(client, sql, params);
        expect(outcomes).toEqual(Object.fromEntries(attempts.map(([label]) => [label, "PTIMM"])));
      });
      expect(await snapshot(invoice.id)).toEqual(frozen);
    });

    it("still lets payment progress move: installment status/paid_amount, invoice amount_paid/status", async () => {
      await asOwner(async (client) => {
        expect(
          await sqlError(
            client,
            `update paytrust_public.installments set status = 'paid', paid_amount = total, paid_at = now()
              where invoice_id = $1 and number = 1`,
            [invoice.id],
          ),
        ).toBe(null);
        expect(
          await sqlError(
            client,
            `update paytrust_public.invoices
                set amount_paid = (select total from paytrust_public.installments where invoice_id = $1 and number = 1),
                    status = 'partially_paid'
              where id = $1`,
            [invoice.id],
          ),
        ).toBe(null);
        // The deferred consistency check accepts it too.
        expect(await sqlError(client, "set constraints all immediate")).toBe(null);
        const { rows } = await client.query(
          "select status, paid_amount = total as fully from paytrust_public.installments where invoice_id = $1 and number = 1",
          [invoice.id],
        );
        expect(rows[0]).toEqual({ status: "paid", fully: true });
      });
    });

    it("does not let an installment of a frozen invoice move to another tenant (PTIMM)", async () => {
      // The installment trigger lets status/paid_amount/paid_at move; tenant_id is
      // not payment progress and must stay with the invoice's tenant.
      await asOwner(async (client) => {
        expect(
          await sqlError(
            client,
            "update paytrust_public.installments set tenant_id = $2 where invoice_id = $1 and number = 1",
            [invoice.id, other.tenantId],
          ),
        ).toBe("PTIMM");
      });
    });

    it("before initiation the owner may edit, but currency and tenant never change (PTIMM)", async () => {
      const open = await createInvoice();
      await asOwner(async (client) => {
        expect(
          await sqlError(
            client,
            "update paytrust_public.invoices set description = 'ok' where id = $1",
            [open.id],
          ),
        ).toBe(null);
        expect(
          await sqlError(
            client,
            "update paytrust_public.invoices set currency = 'USD' where id = $1",
            [open.id],
          ),
        ).toBe("PTIMM");
        expect(
          await sqlError(
            client,
            "update paytrust_public.invoices set tenant_id = $2 where id = $1",
            [open.id, other.tenantId],
          ),
        ).toBe("PTIMM");
        // deleting an invoice without payment is possible (cascades to its lines and plan)
        expect(
          await sqlError(client, "delete from paytrust_public.invoices where id = $1", [open.id]),
        ).toBe(null);
      });
    });
  });

  describe("consistency at commit (PTSUM)", () => {
    async function commitFails(statements: [string, unknown[]][]): Promise<string | null> {
      const client = await db.pool.connect();
      try {
        await client.query("begin");
        for (const [sql, params] of statements) await client.query(sql, params);
        await client.query("commit");
        return null;
      } catch (error: any) {
        await client.query("rollback").catch(() => {});
        return error.code ?? "UNKNOWN";
      } finally {
        client.release();
      }
    }

    it("refuses to commit a line change that leaves the invoice totals stale", async () => {
      const open = await createInvoice();
      const before = await snapshot(open.id);
      const code = await commitFails([
        [
          `update paytrust_public.line_items set quantity = quantity + 1, line_amount = (quantity + 1) * unit_price
            where invoice_id = $1 and position = 1`,
          [open.id],
        ],
      ]);
      expect(code).toBe("PTSUM");
      expect(await snapshot(open.id)).toEqual(before);
    });

    it("checks a line or installment inserted later into an existing invoice", async () => {
      const open = await createInvoice();
      const before = await snapshot(open.id);
      const extraLine = await commitFails([
        [
          `insert into paytrust_public.line_items
             (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
           select tenant_id, id, 99, 'sneaked in', 1, 100, 0, 100, 0 from paytrust_public.invoices where id = $1`,
          [open.id],
        ],
      ]);
      expect(extraLine).toBe("PTSUM");
      // Even with the skip flag set by hand for ANOTHER invoice, this invoice is checked.
      const flagged = await commitFails([
        ["select set_config('paytrust.inserting_invoice', gen_random_uuid()::text, true)", []],
        [
          `insert into paytrust_public.installments
             (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
           select tenant_id, id, 12, current_date, 1, 0, 0, 1 from paytrust_public.invoices where id = $1`,
          [open.id],
        ],
      ]);
      expect(flagged).toBe("PTSUM");
      expect(await snapshot(open.id)).toEqual(before);
    });

    it("refuses to commit invoice amounts that no longer match lines and plan", async () => {
      const open = await createInvoice();
      const before = await snapshot(open.id);
      expect(
        await commitFails([
          [
            "update paytrust_public.invoices set subtotal = subtotal + 1, total = total + 1 where id = $1",
            [open.id],
          ],
        ]),
      ).toBe("PTSUM");
      expect(
        await commitFails([
          [
            "delete from paytrust_public.installments where invoice_id = $1 and number = 3",
            [open.id],
          ],
        ]),
      ).toBe("PTSUM");
      // an invoice without any line item
      expect(
        await commitFails([
          ["delete from paytrust_public.line_items where invoice_id = $1", [open.id]],
          [
            "update paytrust_public.invoices set subtotal = 0, tax_total = 0, total = service_fee where id = $1",
            [open.id],
          ],
          [
            "update paytrust_public.installments set principal = 0, tax_amount = 0, total = fee_amount where invoice_id = $1",
            [open.id],
          ],
        ]),
      ).toBe("PTSUM");
      expect(await snapshot(open.id)).toEqual(before);
    });

    it("commits a coordinated change whose sums still match (control)", async () => {
      const open = await createInvoice();
      // move one unit of principal from installment 3 to installment 1
      expect(
        await commitFails([
          [
            `update paytrust_public.installments set principal = principal + 1, total = total + 1
              where invoice_id = $1 and number = 1`,
            [open.id],
          ],
          [
            `update paytrust_public.installments set principal = principal - 1, total = total - 1
              where invoice_id = $1 and number = 3`,
            [open.id],
          ],
        ]),
      ).toBe(null);
    });
  });

  describe("status transitions", () => {
    it("refuses paid → open and other backward moves (PTSTS)", async () => {
      const inv = await createInvoice();
      await initiate(inv.id);
      await asOwner(async (client) => {
        const set = (status: string) =>
          sqlError(client, "update paytrust_public.invoices set status = $2 where id = $1", [
            inv.id,
            status,
          ]);
        expect(await set("partially_paid")).toBe(null); // pending → partially_paid
        expect(await set("pending")).toBe("PTSTS"); // backwards
        expect(await set("paid")).toBe(null); // partially_paid → paid
        for (const back of ["open", "pending", "partially_paid", "expired", "cancelled"]) {
          // `paid → ${back}`
          expect(await set(back)).toBe("PTSTS");
        }
        expect(await set("paid")).toBe(null); // no-op stays allowed
      });
    });

    it("lets late money land on an expired invoice, but never reopens a cancelled one", async () => {
      const expiring = await createInvoice();
      const cancelled = await createInvoice();
      await asOwner(async (client) => {
        const set = (id: string, status: string) =>
          sqlError(client, "update paytrust_public.invoices set status = $2 where id = $1", [
            id,
            status,
          ]);
        expect(await set(expiring.id, "expired")).toBe(null);
        expect(await set(expiring.id, "open")).toBe("PTSTS");
        expect(await set(expiring.id, "cancelled")).toBe("PTSTS");
        expect(await set(expiring.id, "paid")).toBe(null);
        expect(await set(cancelled.id, "cancelled")).toBe(null);
        for (const next of ["open", "pending", "partially_paid", "paid", "expired"]) {
          // `cancelled → ${next}`
          expect(await set(cancelled.id, next)).toBe("PTSTS");
        }
      });
    });
  });

  describe("cancelInvoice", () => {
    it("cancels an open invoice, idempotently", async () => {
      const inv = await createInvoice();
      const first = await app.gql(CANCEL, { id: inv.id }, tenant.apiKey);
      // JSON.stringify(first.body.errors)
      expect(first.body.errors).toBe(undefined);
      const cancelled = first.body.data.cancelInvoice.invoice;
      expect(cancelled.status).toBe("cancelled");
      expect(cancelled.cancelledAt).toBeTruthy();
      expect(cancelled.total).toBe(inv.total);

      const again = await app.gql(CANCEL, { id: inv.id }, tenant.apiKey);
      // JSON.stringify(again.body.errors)
      expect(again.body.errors).toBe(undefined);
      expect(again.body.data.cancelInvoice.invoice.status).toBe("cancelled");
      expect(again.body.data.cancelInvoice.invoice.cancelledAt).toBe(cancelled.cancelledAt);
      const { rows } = await db.pool.query(
        "select count(*)::int as n from paytrust_public.audit_events where action = 'invoice.cancel' and subject_id = $1",
        [inv.id],
      );
      // one cancellation recorded
      expect(rows[0].n).toBe(1);
    });

    it("refuses to cancel once a payment is initiated (PTSTS)", async () => {
      const inv = await createInvoice();
      await initiate(inv.id);
      const before = await snapshot(inv.id);
      const res = await app.gql(CANCEL, { id: inv.id }, tenant.apiKey);
      // JSON.stringify(res.body)
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTSTS");
      expect(await snapshot(inv.id)).toEqual(before);
    });

    it("does not find another tenant's invoice (PTNFD)", async () => {
      const inv = await createInvoice();
      const before = await snapshot(inv.id);
      const res = await app.gql(CANCEL, { id: inv.id }, other.apiKey);
      // JSON.stringify(res.body)
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
      expect(await snapshot(inv.id)).toEqual(before);
      const missing = await app.gql(
        CANCEL,
        { id: "00000000-0000-0000-0000-000000000001" },
        tenant.apiKey,
      );
      expect(missing.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
    });
  });

  describe("createSupplementaryInvoice", () => {
    const EXTRA = {
      lineItems: [
        { description: "Extra delivery", quantity: 1, unitPrice: "50000", taxRate: "11" },
        { description: "Gift wrap", quantity: 4, unitPrice: "7500", taxRate: "0" },
      ],
      installmentCount: 2,
    };

    async function counts() {
      const { rows } = await db.pool.query(
        `select (select count(*)::int from paytrust_public.invoices) as invoices,
                (select count(*)::int from paytrust_public.line_items) as lines,
                (select count(*)::int from paytrust_public.installments) as installments`,
      );
      return rows[0];
    }

    it("is refused for a parent without a payment initiated (PTPAR)", async () => {
      const parent = await createInvoice();
      const before = await counts();
      const res = await app.gql(
        SUPPLEMENT,
        { input: { parentInvoiceId: parent.id, ...EXTRA } },
        tenant.apiKey,
      );
      // JSON.stringify(res.body)
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTPAR");
      expect(await counts()).toEqual(before);
    });

    it("adds a linked invoice in the parent's currency, gateway and customer; the parent stays unchanged", async () => {
      const parent = await createInvoice({
        currency: "USD",
        customerName: "Acme Corp",
        customerEmail: "ap@acme.example",
        lineItems: [{ description: "Licence", quantity: 1, unitPrice: "99900", taxRate: "6" }],
      });
      await initiate(parent.id);
      const before = await snapshot(parent.id);
      const res = await app.gql(
        SUPPLEMENT,
        { input: { parentInvoiceId: parent.id, ...EXTRA } },
        tenant.apiKey,
      );
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      const sup = res.body.data.createSupplementaryInvoice.invoice;
      expect(sup.id).not.toBe(parent.id);
      expect(sup.parentInvoiceId).toBe(parent.id);
      expect(sup.parentInvoice.id).toBe(parent.id);
      expect(sup.currency).toBe("USD");
      expect(sup.gateway).toBe("xendit");
      expect(sup.customerName).toBe("Acme Corp");
      expect(sup.customerEmail).toBe("ap@acme.example");
      expect(sup.status).toBe("open");
      expect(sup.paymentInitiatedAt).toBe(null);
      expect(sup.description).toMatch(/^Supplement to invoice \d+$/);
      // Own lines and plan, USD fee 2.90 % + 30:
      // 50,000 + tax 5,500; 4 × 7,500 = 30,000 tax 0 → subtotal 80,000, tax 5,500
      // fee = 85,500 × 2.90 % = 2,479.5 → 2,480, + 30 = 2,510; total 88,010
      // plan: principal 40,000 / 40,000; tax 2,750 / 2,750; fee 1,255 / 1,255
      expect(sup.lineItems.nodes.map((l: any) => l.description)).toEqual([
        "Extra delivery",
        "Gift wrap",
      ]);
      expect([sup.subtotal, sup.taxTotal, sup.serviceFee, sup.total]).toEqual([
        "80000",
        "5500",
        "2510",
        "88010",
      ]);
      expect(
        sup.installments.nodes.map((i: any) => [i.principal, i.taxAmount, i.feeAmount, i.total]),
      ).toEqual([
        ["40000", "2750", "1255", "44005"],
        ["40000", "2750", "1255", "44005"],
      ]);
      // the parent is unchanged
      expect(await snapshot(parent.id)).toEqual(before);
      const { rows } = await db.pool.query(
        "select id from paytrust_public.invoices where parent_invoice_id = $1",
        [parent.id],
      );
      expect(rows).toEqual([{ id: sup.id }]);
    });

    it("validates the supplement's own lines and plan (PTEMP, PTINS), writing nothing", async () => {
      const parent = await createInvoice();
      await initiate(parent.id);
      const before = await counts();
      const empty = await app.gql(
        SUPPLEMENT,
        { input: { parentInvoiceId: parent.id, lineItems: [] } },
        tenant.apiKey,
      );
      expect(empty.body.errors?.[0]?.extensions?.code).toBe("PTEMP");
      const plan = await app.gql(
        SUPPLEMENT,
        { input: { parentInvoiceId: parent.id, ...EXTRA, installmentCount: 13 } },
        tenant.apiKey,
      );
      expect(plan.body.errors?.[0]?.extensions?.code).toBe("PTINS");
      expect(await counts()).toEqual(before);
    });

    it("does not find another tenant's parent (PTNFD)", async () => {
      const parent = await createInvoice();
      await initiate(parent.id);
      const before = await counts();
      const res = await app.gql(
        SUPPLEMENT,
        { input: { parentInvoiceId: parent.id, ...EXTRA } },
        other.apiKey,
      );
      // JSON.stringify(res.body)
      expect(res.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
      expect(await counts()).toEqual(before);
    });
  });

  describe("installment sequencing", () => {
    it("installment 2 cannot start until installment 1 is paid", async () => {
      const inv = await createInvoice({ installmentCount: 3 });
      await initiate(inv.id);
      const canStart = async (n: number) => {
        const res = await app.gql(CAN_START, { id: inv.id, n }, tenant.apiKey);
        // JSON.stringify(res.body.errors)
        expect(res.body.errors).toBe(undefined);
        return [res.body.data.installmentCanStart, res.body.data.invoice.nextInstallmentNumber];
      };
      expect(await canStart(1)).toEqual([true, 1]);
      expect(await canStart(2)).toEqual([false, 1]);
      expect(await canStart(3)).toEqual([false, 1]);
      expect(await canStart(4)).toEqual([false, 1]); // no such installment

      // Installment 1 paid (as the webhook processing would, as owner): allowed by the trigger.
      await db.pool.query(
        `update paytrust_public.installments set status = 'paid', paid_amount = total, paid_at = now()
          where invoice_id = $1 and number = 1`,
        [inv.id],
      );
      expect(await canStart(1)).toEqual([false, 2]); // already paid
      expect(await canStart(2)).toEqual([true, 2]);
      expect(await canStart(3)).toEqual([false, 2]);

      // The same answer in SQL as the tenant role.
      await asRole(db.pool, "paytrust_tenant", { tenantId: tenant.tenantId }, async (client) => {
        const { rows } = await client.query(
          `select paytrust_public.installment_can_start($1, 1) as one,
                  paytrust_public.installment_can_start($1, 2) as two,
                  paytrust_public.installment_can_start($1, 3) as three`,
          [inv.id],
        );
        expect(rows[0]).toEqual({ one: false, two: true, three: false });
      });

      await db.pool.query(
        `update paytrust_public.installments set status = 'paid', paid_amount = total, paid_at = now()
          where invoice_id = $1 and number = 2`,
        [inv.id],
      );
      expect(await canStart(3)).toEqual([true, 3]);
    });

    it("another tenant learns nothing from installmentCanStart", async () => {
      const inv = await createInvoice({ installmentCount: 2 });
      const res = await app.gql(CAN_START, { id: inv.id, n: 1 }, other.apiKey);
      // JSON.stringify(res.body.errors)
      expect(res.body.errors).toBe(undefined);
      expect(res.body.data.installmentCanStart).toBe(false);
      expect(res.body.data.invoice).toBe(null);
    });
  });
});
