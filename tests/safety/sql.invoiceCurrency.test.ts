/**
 * Migration 000019: invoices has no foreign key of its own to currencies. The
 * currency is still held by two keys: gateway_takes_currency, (gateway,
 * currency) → gateway_configurations, and gateway_configurations' own key to
 * currencies. Every row the dropped key refused is still refused, and no
 * currency or configuration an invoice relies on can be deleted.
 * As the owner (no RLS: the keys are what stops a bad row), in transactions
 * that are rolled back.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import {
  asRole,
  createTenant,
  freshDatabase,
  inRolledBackTransaction,
  sqlFailure,
  type TestDatabase,
} from "../helpers/db.ts";

const LINES = `array[('Kopi', 2, 25000, 11)::paytrust_public.invoice_line]`;

describe("invoices.currency: held by the gateway's configured pair (000019)", () => {
  let db: TestDatabase;
  let tenant: { tenantId: string; keyId: string };
  let invoiceId: string;

  const insertInvoice = (client: pg.ClientBase, gateway: string, currency: string) =>
    sqlFailure(
      client,
      `insert into paytrust_public.invoices
         (tenant_id, currency, gateway, customer_name, customer_email, subtotal, tax_total, service_fee,
          total, fee_percent, fee_fixed, installment_count)
       values ($1, $3, $2, 'Budi', 'budi@example.com', 0, 0, 0, 0, 0, 0, 1)`,
      [tenant.tenantId, gateway, currency],
    );

  beforeAll(async () => {
    db = await freshDatabase();
    tenant = await createTenant(db.pool, "Invoice currency");
    invoiceId = await asRole(db.pool, "paytrust_tenant", tenant, async (client) => {
      const { rows } = await client.query(
        `select id from paytrust_public.create_invoice('IDR', 'xendit', 'Budi', 'budi@example.com', ${LINES})`,
      );
      await client.query("commit");
      return rows[0].id as string;
    });
  });

  afterAll(async () => {
    await db.drop();
  });

  it("has no key to currencies, and keeps the one to the gateway's configured pair", async () => {
    const { rows } = await db.pool.query(
      `select conname, pg_get_constraintdef(oid) as def from pg_constraint
        where contype = 'f' and conrelid = 'paytrust_public.invoices'::regclass
          and confrelid in ('paytrust_public.currencies'::regclass,
                            'paytrust_public.gateway_configurations'::regclass)`,
    );
    expect(rows).toEqual([
      {
        conname: "gateway_takes_currency",
        def: "FOREIGN KEY (gateway, currency) REFERENCES paytrust_public.gateway_configurations(gateway, currency)",
      },
    ]);
  });

  it("refuses an invoice in an unknown currency, or in one its gateway is not configured for", async () => {
    await inRolledBackTransaction(db.pool, async (client) => {
      expect(await insertInvoice(client, "xendit", "XXX")).toEqual({
        code: "23503",
        constraint: "gateway_takes_currency",
      });
      // USD exists, but Midtrans is not configured for it (DESIGN.md: Midtrans is IDR only).
      const { rows } = await client.query(
        `select count(*)::int as n from paytrust_public.gateway_configurations
          where gateway = 'midtrans' and currency = 'USD'`,
      );
      expect(rows[0].n).toBe(0);
      expect(await insertInvoice(client, "midtrans", "USD")).toEqual({
        code: "23503",
        constraint: "gateway_takes_currency",
      });
      // The same insert in a configured pair passes the keys (control).
      expect(await insertInvoice(client, "xendit", "IDR")).toBe(null);
    });
  });

  it("refuses deleting the currency or the configuration an invoice relies on", async () => {
    await inRolledBackTransaction(db.pool, async (client) => {
      expect(
        await sqlFailure(
          client,
          "delete from paytrust_public.gateway_configurations where gateway = 'xendit' and currency = 'IDR'",
        ),
      ).toEqual({ code: "23503", constraint: "gateway_takes_currency" });
      expect(
        await sqlFailure(client, "delete from paytrust_public.currencies where code = 'IDR'"),
      ).toEqual({
        code: "23503",
        constraint: "gateway_configurations_currency_fkey",
      });
      const { rows } = await client.query(
        "select currency from paytrust_public.invoices where id = $1",
        [invoiceId],
      );
      expect(rows).toEqual([{ currency: "IDR" }]);
    });
  });
});
