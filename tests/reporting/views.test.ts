/**
 * The paytrust_reporting views on the fixed dataset of fixture.ts: exact
 * figures for every view (as the analyst, who sees every tenant), the same
 * views as each tenant role (own rows only), and the analyst's refusals
 * everywhere outside the reporting schema.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { asRole, freshDatabase, sqlError, type TestDatabase } from "../helpers/db.ts";
import { buildFixture, type Fixture } from "./fixture.ts";

/** Rows of a view as the given role, with tenants as labels (A, B, - for none) and dates as D0 / D40. */
async function rowsOf(
  db: TestDatabase,
  fx: Fixture,
  role: "paytrust_analyst" | "paytrust_tenant" | "paytrust_admin",
  tenantId: string | null,
  sql: string,
): Promise<string[]> {
  return asRole(db.pool, role, { tenantId }, async (client) => {
    const { rows } = await client.query(sql);
    return rows.map((row) =>
      Object.entries(row)
        .map(([key, value]) => {
          if (key === "tenant_id") return fx.label(value as string | null);
          if (key === "day")
            return value === fx.today ? "D0" : value === fx.day40 ? "D40" : String(value);
          return value === null ? "null" : String(value);
        })
        .join(" "),
    );
  });
}

const DAY = "to_char(day, 'YYYY-MM-DD') as day";

describe("reporting views", () => {
  let db: TestDatabase;
  let fx: Fixture;

  beforeAll(async () => {
    db = await freshDatabase();
    fx = await buildFixture(db.pool);
  });
  afterAll(async () => {
    await db.drop();
  });

  const analyst = (sql: string) => rowsOf(db, fx, "paytrust_analyst", null, sql);

  it("revenue_by_day: collected money per tenant, UTC day, currency and gateway", async () => {
    const rows = await analyst(
      `select tenant_id, ${DAY}, currency, gateway, transaction_count, invoice_count, gross_amount
         from paytrust_reporting.revenue_by_day`,
    );
    expect(rows.sort()).toEqual([
      "A D0 IDR midtrans 1 1 58610", // A2 installment 1
      "A D0 IDR xendit 1 1 219119", // A1 (its duplicate delivery counted once)
      "A D0 MYR xendit 1 1 7000", // A3: RM 70.00 paid for RM 66.41 (overpayment is cash too)
      "A D0 USD xendit 1 1 5690", // A5: paid, then settled: once
      "B D0 IDR midtrans 1 1 230440", // B4
      "B D0 MYR xendit 1 1 11213", // B2
      "B D0 USD xendit 1 1 10300", // B3 installment 1
      "B D40 IDR xendit 1 1 1144190", // B1, 40 days ago
    ]);
  });

  it("service_fees_by_day: fee (and tax, principal) shares of the installments completed", async () => {
    const rows = await analyst(
      `select tenant_id, ${DAY}, currency, gateway, installment_count, invoice_count,
              principal_amount, tax_amount, fee_amount
         from paytrust_reporting.service_fees_by_day`,
    );
    expect(rows.sort()).toEqual([
      "A D0 IDR midtrans 1 1 50000 5500 3110", // A2 installment 1 of 2
      "A D0 IDR xendit 1 1 200000 11000 8119", // A1
      "A D0 MYR xendit 1 1 5997 360 284", // A3 (the overpayment is not fee)
      "A D0 USD xendit 1 1 5000 500 190", // A5
      "B D0 IDR midtrans 1 1 200000 22000 8440", // B4
      "B D0 MYR xendit 1 1 10000 800 413", // B2
      "B D0 USD xendit 1 1 10000 0 300", // B3 installment 1 of 3
      "B D40 IDR xendit 1 1 1000000 110000 34190", // B1
    ]);
  });

  it("taxes_by_rate: line items of fully paid invoices per currency and rate", async () => {
    const rows = await analyst(
      `select tenant_id, ${DAY}, currency, tax_rate, invoice_count, line_count, taxable_amount, tax_amount
         from paytrust_reporting.taxes_by_rate`,
    );
    // A2 and B3 are only partly paid: not here yet.
    expect(rows.sort()).toEqual([
      "A D0 IDR 0.00 1 1 100000 0", // A1 exempt line
      "A D0 IDR 11.00 1 1 100000 11000", // A1 2 × 50,000
      "A D0 MYR 6.00 1 1 5997 360", // A3
      "A D0 USD 10.00 1 1 5000 500", // A5
      "B D0 IDR 11.00 1 1 200000 22000", // B4
      "B D0 MYR 8.00 1 1 10000 800", // B2
      "B D40 IDR 11.00 1 1 1000000 110000", // B1
    ]);
  });

  it("outstanding_installments: unpaid installments of owed invoices, overdue before today", async () => {
    const rows = await analyst(
      `select tenant_id, currency, gateway, invoice_count, outstanding_count, outstanding_amount,
              overdue_count, overdue_amount, to_char(oldest_due_date, 'YYYY-MM-DD') as oldest
         from paytrust_reporting.outstanding_installments`,
    );
    const d = fx.dueDates;
    expect(rows.sort()).toEqual([
      `A IDR midtrans 1 1 58610 1 58610 ${d.A2_2}`, // A2 installment 2, due 10 days ago
      `A IDR xendit 1 1 36266 0 0 ${d.A6}`, // A6, due in 20 days (A4 is cancelled: owes nothing)
      `B IDR midtrans 1 1 60610 1 60610 ${d.B5}`, // B5 expired but still owed, due 5 days ago
      `B USD xendit 1 2 20600 0 0 ${d.B3_2}`, // B3 installments 2 and 3
    ]);
  });

  it("overpayments: one row per invoice that received too much", async () => {
    const rows = await analyst(
      `select tenant_id, invoice_id, currency, gateway, status, total, amount_paid, overpayment_amount,
              last_paid_at is not null as has_paid_at
         from paytrust_reporting.overpayments`,
    );
    expect(rows).toEqual([`A ${fx.invoices.A3} MYR xendit paid 6641 7000 359 true`]);
  });

  it("webhook_health: events per tenant, day and gateway by processing status", async () => {
    const rows = await analyst(
      `select tenant_id, ${DAY}, gateway, received_count, processed_count, ignored_count, failed_count,
              pending_count, retried_count
         from paytrust_reporting.webhook_health`,
    );
    expect(rows.sort()).toEqual([
      "- D0 xendit 1 0 1 0 0 0", // unknown transaction: ignored, visible to analysts only
      "A D0 midtrans 1 1 0 0 0 0", // A2 settlement
      "A D0 xendit 4 4 0 0 0 0", // A1 (duplicate dropped), A3, A5 paid + settled
      "B D0 midtrans 2 2 0 0 0 0", // B4 settlement, B5 expire
      "B D0 xendit 4 2 0 1 1 1", // B2, B3 processed; B1 again failed (10 attempts); B2 again pending
      "B D40 xendit 1 1 0 0 0 0", // B1
    ]);
  });

  it("never adds currencies: every amount row has exactly one currency", async () => {
    for (const view of [
      "revenue_by_day",
      "service_fees_by_day",
      "taxes_by_rate",
      "outstanding_installments",
    ]) {
      const rows = await analyst(
        `select count(*) filter (where currency is null) as missing from paytrust_reporting.${view}`,
      );
      expect(rows).toEqual(["0"]);
    }
  });

  it("shows a tenant role only its own figures, in every view", async () => {
    for (const view of [
      "revenue_by_day",
      "service_fees_by_day",
      "taxes_by_rate",
      "outstanding_installments",
      "overpayments",
      "webhook_health",
    ]) {
      const all = await analyst(`select tenant_id from paytrust_reporting.${view}`);
      for (const tenant of [fx.a, fx.b]) {
        const own = await rowsOf(
          db,
          fx,
          "paytrust_tenant",
          tenant.tenantId,
          `select tenant_id from paytrust_reporting.${view}`,
        );
        const label = fx.label(tenant.tenantId);
        // `${view} as ${label}`
        expect(own).toEqual(all.filter((t) => t === label));
      }
      // asking for the other tenant's rows explicitly returns nothing
      const snoop = await rowsOf(
        db,
        fx,
        "paytrust_tenant",
        fx.a.tenantId,
        `select tenant_id from paytrust_reporting.${view} where tenant_id = '${fx.b.tenantId}'`,
      );
      expect(snoop).toEqual([]);
    }
  });

  it("gives a tenant role without a tenant claim nothing", async () => {
    const rows = await rowsOf(
      db,
      fx,
      "paytrust_tenant",
      null,
      "select * from paytrust_reporting.revenue_by_day",
    );
    expect(rows).toEqual([]);
  });

  it("keeps a tenant to its rows even inside a SECURITY DEFINER function", async () => {
    // current_user is the owner in there; the role setting stays paytrust_tenant.
    await db.pool.query(
      `create function paytrust_public.test_probe_revenue_tenants() returns uuid[] as $$
         select array_agg(distinct tenant_id) from paytrust_reporting.revenue_by_day
       $$ language sql stable security definer set search_path to pg_catalog`,
    );
    await db.pool.query(
      "grant execute on function paytrust_public.test_probe_revenue_tenants() to paytrust_tenant",
    );
    await asRole(db.pool, "paytrust_tenant", { tenantId: fx.a.tenantId }, async (client) => {
      const { rows } = await client.query(
        `select paytrust_public.test_probe_revenue_tenants() as seen,
                paytrust_reporting.sees_all_tenants() as sees_all, current_setting('role') as role`,
      );
      expect(rows[0]).toEqual({
        seen: [fx.a.tenantId],
        sees_all: false,
        role: "paytrust_tenant",
      });
    });
    await db.pool.query("drop function paytrust_public.test_probe_revenue_tenants()");
  });

  it("shows admins every tenant", async () => {
    const rows = await rowsOf(
      db,
      fx,
      "paytrust_admin",
      null,
      "select tenant_id from paytrust_reporting.revenue_by_day",
    );
    expect([...new Set(rows)].sort()).toEqual(["A", "B"]);
  });

  describe("the analyst role outside the reporting schema", () => {
    const asAnalyst = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
      asRole(db.pool, "paytrust_analyst", {}, fn);

    it("is refused the API schema, the private schema and the job queue (42501)", async () => {
      await asAnalyst(async (client) => {
        for (const sql of [
          "select * from paytrust_public.invoices",
          "select * from paytrust_public.payment_transactions",
          "select * from paytrust_public.tenants",
          "select * from paytrust_private.api_keys",
          "select * from paytrust_private.report_revenue_by_day",
          "select * from graphile_worker.jobs",
          "select paytrust_public.current_tenant_id()",
          "select * from paytrust_public.financial_report('2025-01-01', '2025-01-31')",
          "select paytrust_private.apply_webhook_event(1)",
          "select * from paytrust_private.receive_webhook('xendit', 'e', 'x', '{}')",
          "select graphile_worker.add_job('webhook__process', '{}')",
          "select * from paytrust_private.report_tenant('2025-01-01', '2025-01-31', null)",
        ]) {
          expect(await sqlError(client, sql)).toBe("42501");
        }
      });
    });

    it("cannot write anywhere, not even into the reporting views (42501)", async () => {
      await asAnalyst(async (client) => {
        // The views are not updatable at all (55000, raised before the privilege check)
        // and nobody has INSERT/UPDATE/DELETE on them anyway.
        for (const sql of [
          "insert into paytrust_reporting.overpayments (invoice_id) values (gen_random_uuid())",
          "update paytrust_reporting.overpayments set overpayment_amount = 0",
          "delete from paytrust_reporting.overpayments",
          "update paytrust_reporting.revenue_by_day set gross_amount = 0",
        ]) {
          expect(["55000", "42501"].includes((await sqlError(client, sql)) ?? "")).toBeTruthy();
        }
        for (const sql of [
          "insert into paytrust_public.tenants (name) values ('x')",
          "update paytrust_public.invoices set status = 'paid'",
          "delete from paytrust_public.audit_events",
          "insert into paytrust_private.api_keys (role, name, prefix, secret_hash) values ('admin', 'x', 'abcdefabcdef', '$argon2id$x')",
          "update graphile_worker.jobs set attempts = 0",
          "create table paytrust_reporting.mine (id int)",
          "create view paytrust_reporting.mine as select 1",
          "create table public.mine (id int)",
        ]) {
          expect(await sqlError(client, sql)).toBe("42501");
        }
      });
    });

    it("holds SELECT and nothing else on the reporting views", async () => {
      const { rows } = await db.pool.query(
        `select c.relname,
                has_table_privilege('paytrust_analyst', c.oid, 'SELECT') as can_select,
                has_table_privilege('paytrust_analyst', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                  as can_change
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname = 'paytrust_reporting' order by 1`,
      );
      expect(rows.length).toBe(6);
      for (const row of rows) expect([row.can_select, row.can_change]).toEqual([true, false]);
    });

    it("reads every reporting view", async () => {
      await asAnalyst(async (client) => {
        for (const view of [
          "revenue_by_day",
          "service_fees_by_day",
          "taxes_by_rate",
          "outstanding_installments",
          "overpayments",
          "webhook_health",
        ]) {
          const { rowCount } = await client.query(`select * from paytrust_reporting.${view}`);
          expect((rowCount ?? 0) > 0).toBeTruthy();
        }
      });
    });
  });

  it("documents every reporting view", async () => {
    const { rows } = await db.pool.query(
      `select c.relname, obj_description(c.oid, 'pg_class') as comment
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'paytrust_reporting' and c.relkind = 'v' order by 1`,
    );
    expect(rows.length).toBe(6);
    for (const row of rows) // row.relname
      expect((row.comment ?? "").length > 50).toBeTruthy();
  });
});
