/**
 * Issue 14 item 13: least privilege at run time. The worker, webhook
 * receivers, /pay/:id and key lookups connect as paytrust_runtime, which is
 * not the owner: it cannot set the custom GUCs that used to relax checks
 * (paytrust.audit_purge, paytrust.inserting_invoice) to any effect, cannot
 * disable triggers or change the schema; audit purging runs only through the
 * definer function purge_audit_events.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import { makePool, runtimeUrlOf } from "../../src/db/connection.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import {
  AUTHENTICATOR_PASSWORD,
  asRole,
  createTenant,
  freshDatabase,
  inRolledBackTransaction,
  sqlError,
  type TestDatabase,
} from "../helpers/db.ts";

describe("the runtime role", () => {
  let db: TestDatabase;
  let runtime: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase();
    runtime = makePool(
      runtimeUrlOf({ ownerUrl: db.ownerUrl, authenticatorPassword: AUTHENTICATOR_PASSWORD }),
      4,
    );
  });
  afterAll(async () => {
    await runtime?.end();
    await db?.drop();
  });

  const inTx = <T>(fn: (client: pg.PoolClient) => Promise<T>) =>
    inRolledBackTransaction(runtime, fn);

  it("is not the owner, not a superuser, and not a member of the owner", async () => {
    const { rows } = await runtime.query(
      `select current_user as me, r.rolsuper, r.rolbypassrls,
              (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = 'paytrust_public.invoices'::regclass) as owner,
              pg_has_role(current_user, (select c.relowner from pg_class c where c.oid = 'paytrust_public.invoices'::regclass), 'MEMBER') as member_of_owner
         from pg_roles r where r.rolname = current_user`,
    );
    expect(rows[0]).toMatchObject({
      me: "paytrust_runtime",
      rolsuper: false,
      member_of_owner: false,
    });
    expect(rows[0].owner).not.toBe("paytrust_runtime");
  });

  it("the process's pool (worker) connects as paytrust_runtime, and the worker runs", async () => {
    let app: TestApp | undefined;
    try {
      app = await startTestApp(db, { serve: false, worker: true });
      const { rows } = await app.runtime.runtimePool.query("select current_user as me");
      expect(rows[0].me).toBe("paytrust_runtime");
      // graphile-worker works as that role: the start-up sweep job is taken and done.
      const deadline = Date.now() + 20_000;
      let left = 1;
      while (Date.now() < deadline) {
        const r = await db.pool.query(
          "select count(*)::int as n from graphile_worker.jobs where task_identifier = 'maintenance__sweep_stalled' and run_at <= now() and attempts = 0",
        );
        left = r.rows[0].n;
        if (left === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(left).toBe(0);
      expect(app.logs.join("\n")).not.toMatch(/permission denied/);
    } finally {
      await app?.stop();
    }
  });

  it("setting paytrust.audit_purge does not let it delete audit rows; only purge_audit_events does", async () => {
    await db.pool.query(
      `insert into paytrust_public.audit_events (occurred_at, action, subject_id)
       values (now() - interval '30 days', 'test.old', 'runtime-test')`,
    );
    await inTx(async (c) => {
      await c.query("set local paytrust.audit_purge = 'on'");
      expect(
        await sqlError(c, "delete from paytrust_public.audit_events where action = 'test.old'"),
      ).toBe("42501");
      expect(await sqlError(c, "update paytrust_public.audit_events set action = 'x'")).toBe(
        "42501",
      );
      expect(await sqlError(c, "truncate paytrust_public.audit_events")).toBe("42501");
    });
    // Even with a DELETE grant, a session that is not the owner is refused by the trigger.
    const owner = await db.pool.connect();
    try {
      await owner.query("begin");
      await owner.query("grant delete on paytrust_public.audit_events to paytrust_runtime");
      await owner.query("set local role paytrust_runtime");
      await owner.query("set local paytrust.audit_purge = 'on'");
      expect(
        await sqlError(owner, "delete from paytrust_public.audit_events where action = 'test.old'"),
      ).toBe("PTAUD");
    } finally {
      await owner.query("rollback");
      owner.release();
    }
    // The narrow definer: at least a day of retention, and it works for the runtime role.
    await expect(
      runtime.query("select paytrust_private.purge_audit_events(interval '1 hour')"),
    ).rejects.toMatchObject({ code: "PTVAL" });
    const { rows } = await runtime.query(
      "select paytrust_private.purge_audit_events(interval '7 days') as purged",
    );
    expect(Number(rows[0].purged)).toBeGreaterThanOrEqual(1);
    const left = await db.pool.query(
      "select count(*)::int as n from paytrust_public.audit_events where action = 'test.old'",
    );
    expect(left.rows[0].n).toBe(0);
  });

  it("cannot disable triggers, replicate-mode around them, or change the schema", async () => {
    await inTx(async (c) => {
      for (const sql of [
        "alter table paytrust_public.audit_events disable trigger _100_append_only",
        "alter table paytrust_public.invoices disable trigger all",
        "alter table paytrust_public.invoices disable trigger user",
        "set session_replication_role = replica",
        "drop trigger _200_immutable on paytrust_public.invoices",
        "create table paytrust_public.scratch (x int)",
        "alter table paytrust_public.invoices no force row level security",
        "set role paytrust_admin",
      ]) {
        expect([sql, await sqlError(c, sql)]).toEqual([sql, "42501"]);
      }
    });
  });

  it("setting paytrust.inserting_invoice does not skip the invoice sum check", async () => {
    const tenant = await createTenant(db.pool, "Runtime sums");
    const invoiceId = await asRole(
      db.pool,
      "paytrust_tenant",
      { tenantId: tenant.tenantId },
      async (c) => {
        const { rows } = await c.query(
          `select id from paytrust_public.create_invoice('IDR', 'xendit', 'Andi', 'andi@example.co.id',
           array[row('Shirt', 1, 100000, 11)::paytrust_public.invoice_line])`,
        );
        await c.query("commit");
        return rows[0].id as string;
      },
    );
    const client = await runtime.connect();
    try {
      await client.query("begin");
      await client.query("select set_config('paytrust.inserting_invoice', $1, true)", [invoiceId]);
      await client.query(
        `insert into paytrust_public.line_items
           (tenant_id, invoice_id, position, description, quantity, unit_price, tax_rate, line_amount, tax_amount)
         values ($1, $2, 99, 'Smuggled', 1, 5, 0, 5, 0)`,
        [tenant.tenantId, invoiceId],
      );
      await expect(client.query("commit")).rejects.toMatchObject({ code: "PTSUM" });
    } finally {
      await client.query("rollback").catch(() => {});
      client.release();
    }
    const { rows } = await db.pool.query(
      "select count(*)::int as n from paytrust_public.line_items where invoice_id = $1",
      [invoiceId],
    );
    expect(rows[0].n).toBe(1);
  });
});
