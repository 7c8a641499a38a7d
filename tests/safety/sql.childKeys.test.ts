/**
 * Migration 000017: the children of an invoice keep one foreign key,
 * (invoice_id, tenant_id) → invoices (id, tenant_id), instead of three, and
 * each table's row checks are merged into a few constraints. The integrity is
 * the same: every row the three keys refused is still refused, deletes still
 * cascade, and every condition of the merged checks still holds on its own.
 * Migration 000018 moved each table's conditions into one PL/pgSQL row check
 * (paytrust_hidden.<table>_row_check) and the INSERT timestamps into the
 * number trigger: the same cases hold.
 * As the owner (no RLS: the keys and checks are what stops a bad row), in
 * transactions that are rolled back.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import {
  asRole,
  createTenant,
  freshDatabase,
  inRolledBackTransaction,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";

const LINES = `array[('Kopi', 2, 25000, 11)::paytrust_public.invoice_line,
                      ('Ongkir', 1, 15000, 0)::paytrust_public.invoice_line]`;

describe("invoice children: one key to the invoice and its tenant; merged row checks", () => {
  let db: TestDatabase;
  let a: { tenantId: string; keyId: string };
  let b: { tenantId: string; keyId: string };
  let invoiceA: string;
  let invoiceB: string;

  async function createInvoice(tenant: { tenantId: string; keyId: string }): Promise<string> {
    return asRole(db.pool, "paytrust_tenant", tenant, async (client) => {
      const { rows } = await client.query(
        `select id from paytrust_public.create_invoice('IDR', 'xendit', 'Budi', 'budi@example.com', ${LINES},
           installment_count => 2)`,
      );
      // Kept: committed here, so asRole's closing rollback has nothing to undo.
      await client.query("commit");
      return rows[0].id as string;
    });
  }

  const asOwner = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
    inRolledBackTransaction(db.pool, fn);

  const insertLine = (client: pg.ClientBase, invoiceId: string, tenantId: string) =>
    sqlError(
      client,
      `insert into paytrust_public.line_items
         (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
       values ($2, $1, 50, 'Extra', 1, 0, 0, 0, 0)`,
      [invoiceId, tenantId],
    );
  const insertInstallment = (client: pg.ClientBase, invoiceId: string, tenantId: string) =>
    sqlError(
      client,
      `insert into paytrust_public.installments
         (tenant_id, invoice_id, number, due_date, principal, tax_amount, fee_amount, total)
       values ($2, $1, 12, current_date, 0, 0, 0, 0)`,
      [invoiceId, tenantId],
    );

  beforeAll(async () => {
    db = await freshDatabase();
    a = await createTenant(db.pool, "Child keys A");
    b = await createTenant(db.pool, "Child keys B");
    invoiceA = await createInvoice(a);
    invoiceB = await createInvoice(b);
  });

  afterAll(async () => {
    await db.drop();
  });

  it("has exactly one foreign key on each child table", async () => {
    const { rows } = await db.pool.query(
      `select conrelid::regclass::text as child, pg_get_constraintdef(oid) as def
         from pg_constraint
        where contype = 'f' and conrelid in ('paytrust_public.line_items'::regclass,
                                             'paytrust_public.installments'::regclass)
        order by 1`,
    );
    expect(rows).toEqual([
      {
        child: "paytrust_public.installments",
        def: "FOREIGN KEY (invoice_id, tenant_id) REFERENCES paytrust_public.invoices(id, tenant_id) ON DELETE CASCADE",
      },
      {
        child: "paytrust_public.line_items",
        def: "FOREIGN KEY (invoice_id, tenant_id) REFERENCES paytrust_public.invoices(id, tenant_id) ON DELETE CASCADE",
      },
    ]);
  });

  it("refuses a child of a missing invoice, of another tenant's invoice, or of a missing tenant", async () => {
    await asOwner(async (client) => {
      // The deferred sums check would refuse these at COMMIT too; the key refuses them at once.
      for (const insert of [insertLine, insertInstallment]) {
        expect(await insert(client, "00000000-0000-4000-8000-000000000001", a.tenantId)).toBe(
          "23503",
        );
        expect(await insert(client, invoiceB, a.tenantId)).toBe("23503");
        expect(await insert(client, invoiceA, "00000000-0000-4000-8000-000000000002")).toBe(
          "23503",
        );
      }
      // The same inserts with the invoice's own tenant pass the key (control).
      expect(await insertLine(client, invoiceA, a.tenantId)).toBe(null);
      expect(await insertInstallment(client, invoiceA, a.tenantId)).toBe(null);
    });
  });

  it("refuses moving a child to another tenant or another tenant's invoice", async () => {
    await asOwner(async (client) => {
      // Without the immutability trigger in the way: the invoice is still open.
      const moveTenant = await sqlError(
        client,
        "update paytrust_public.line_items set tenant_id = $2 where invoice_id = $1",
        [invoiceA, b.tenantId],
      );
      expect(moveTenant).toBe("23503");
      const moveInvoice = await sqlError(
        client,
        // (new numbers, so the key is what refuses it, not (invoice_id, number))
        "update paytrust_public.installments set invoice_id = $2, number = number + 5 where invoice_id = $1",
        [invoiceA, invoiceB],
      );
      expect(moveInvoice).toBe("23503");
    });
  });

  it("deletes the children with their invoice, and everything with the tenant", async () => {
    await asOwner(async (client) => {
      const count = async (invoiceId: string) =>
        (
          await client.query(
            `select (select count(*) from paytrust_public.line_items where invoice_id = $1)::int as lines,
                    (select count(*) from paytrust_public.installments where invoice_id = $1)::int as plan`,
            [invoiceId],
          )
        ).rows[0];
      expect(await count(invoiceA)).toEqual({ lines: 2, plan: 2 });
      expect(
        await sqlError(client, "delete from paytrust_public.invoices where id = $1", [invoiceA]),
      ).toBe(null);
      expect(await count(invoiceA)).toEqual({ lines: 0, plan: 0 });
      expect(await count(invoiceB)).toEqual({ lines: 2, plan: 2 });
      expect(
        await sqlError(client, "delete from paytrust_public.tenants where id = $1", [b.tenantId]),
      ).toBe(null);
      expect(await count(invoiceB)).toEqual({ lines: 0, plan: 0 });
    });
  });

  it("gives an invoice the time of its INSERT, whatever the INSERT says (000018: the number trigger)", async () => {
    await asOwner(async (client) => {
      const { rows } = await client.query(
        `insert into paytrust_public.invoices
           (tenant_id, currency, gateway, customer_name, customer_email, subtotal, tax_total, service_fee,
            total, fee_percent, fee_fixed, installment_count, created_at, updated_at)
         values ($1, 'IDR', 'xendit', 'Budi', 'budi@example.com', 100, 0, 0, 100, 0, 0, 1,
                 '2000-01-01', '2000-01-01')
         returning created_at = now() as created_now, updated_at = now() as updated_now, number >= 1 as numbered`,
        [a.tenantId],
      );
      expect(rows[0]).toEqual({ created_now: true, updated_now: true, numbered: true });
    });
  });

  it("enforces every condition of the row checks on its own", async () => {
    const cases: Array<[string, string]> = [
      [
        "negative amount paid",
        "update paytrust_public.invoices set amount_paid = -1 where id = $1",
      ],
      ["negative refund", "update paytrust_public.invoices set amount_refunded = -1 where id = $1"],
      [
        "negative overpayment",
        "update paytrust_public.invoices set overpayment_amount = -1 where id = $1",
      ],
      ["total not the sum", "update paytrust_public.invoices set total = total + 1 where id = $1"],
      [
        "total over max_amount()",
        "update paytrust_public.invoices set subtotal = 999999999999999, total = 999999999999999 + tax_total + service_fee where id = $1",
      ],
      [
        "13 installments",
        "update paytrust_public.invoices set installment_count = 13 where id = $1",
      ],
      [
        "empty customer name",
        "update paytrust_public.invoices set customer_name = '' where id = $1",
      ],
      [
        "bad email",
        "update paytrust_public.invoices set customer_email = 'not-an-email' where id = $1",
      ],
      [
        "long description",
        "update paytrust_public.invoices set description = repeat('x', 1001) where id = $1",
      ],
      ["empty externalRef", "update paytrust_public.invoices set external_ref = '' where id = $1"],
      [
        "empty idempotency key",
        "update paytrust_public.invoices set idempotency_key = '' where id = $1",
      ],
      [
        "line position 0",
        "update paytrust_public.line_items set position = 0 where invoice_id = $1 and position = 1",
      ],
      [
        "line quantity 0",
        "update paytrust_public.line_items set quantity = 0, line_amount = 0 where invoice_id = $1 and position = 1",
      ],
      [
        "line amount not the product",
        "update paytrust_public.line_items set line_amount = line_amount + 1 where invoice_id = $1 and position = 1",
      ],
      [
        "negative line tax",
        "update paytrust_public.line_items set tax_amount = -1 where invoice_id = $1 and position = 1",
      ],
      [
        "tax rate over 100",
        "update paytrust_public.line_items set tax_rate = 101 where invoice_id = $1 and position = 1",
      ],
      [
        "empty line description",
        "update paytrust_public.line_items set description = '' where invoice_id = $1 and position = 1",
      ],
      [
        "installment number 13",
        "update paytrust_public.installments set number = 13 where invoice_id = $1 and number = 2",
      ],
      [
        "negative principal",
        "update paytrust_public.installments set principal = -1, total = total - principal - 1 where invoice_id = $1 and number = 1",
      ],
      [
        "installment total not the sum",
        "update paytrust_public.installments set total = total + 1 where invoice_id = $1 and number = 1",
      ],
      [
        "negative paid amount",
        "update paytrust_public.installments set paid_amount = -1 where invoice_id = $1 and number = 1",
      ],
      [
        "unknown installment status",
        "update paytrust_public.installments set status = 'lost' where invoice_id = $1 and number = 1",
      ],
    ];
    const invoice = await createInvoice(a);
    await asOwner(async (client) => {
      const failures: Record<string, string | null> = {};
      for (const [name, sql] of cases) failures[name] = await sqlError(client, sql, [invoice]);
      expect(failures).toEqual(Object.fromEntries(cases.map(([name]) => [name, "23514"])));
      // Control: a change within every rule passes.
      expect(
        await sqlError(
          client,
          "update paytrust_public.invoices set description = 'Fine' where id = $1",
          [invoice],
        ),
      ).toBe(null);
      // An unknown status: tg_invoices__status refuses the move first (PTSTS); the row check
      // refuses the row itself.
      const { rows } = await client.query(
        `select paytrust_hidden.invoices_row_check(i) is not false as known,
                paytrust_hidden.invoices_row_check(jsonb_populate_record(i, '{"status": "lost"}')) as lost
           from paytrust_public.invoices i where i.id = $1`,
        [invoice],
      );
      expect(rows[0]).toEqual({ known: true, lost: false });
      // A missing optional value passes, as in any CHECK (the row checks are not STRICT).
      expect(
        await sqlError(
          client,
          "update paytrust_public.invoices set description = null, external_ref = null, idempotency_key = null where id = $1",
          [invoice],
        ),
      ).toBe(null);
    });
  });
});
