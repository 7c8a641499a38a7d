/**
 * Database outage under load: a PostgreSQL of its own (embedded, under
 * .paytrust/, so stopping it disturbs no other test), an app and worker on
 * it, four clients creating invoices in a loop. The server is stopped (fast
 * shutdown) and started again. While it is down the API answers 503 JSON
 * (PTUNAV) quickly, /readyz says so, nothing hangs and nothing crashes; when
 * it is back, service resumes by itself and every invoice whose creation was
 * acknowledged is there.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type pg from "pg";
import {
  ensureDatabase,
  migrateDatabase,
  projectRoot,
  ROLES,
  withCredentials,
  withDatabase,
} from "../../src/db/bootstrap.ts";
import { makePool } from "../../src/db/connection.ts";
import { type EmbeddedServer, ensureEmbeddedServer } from "../../src/db/embedded.ts";
import { createTenant } from "../helpers/db.ts";
import { eventually } from "../helpers/payments.ts";
import { http, type LoggedApp, sleep, startLoggedApp } from "./helpers.ts";

const CREATE = `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id } } }`;
/** A request that takes longer than this counts as a hang. */
const HANG_MS = 10_000;

interface Outcome {
  kind: "acknowledged" | "unavailable" | "other";
  status: number;
  ms: number;
  id?: string;
  detail?: string;
}

/** One createInvoice call, classified. Unavailability must be PTUNAV, as 503 or as a GraphQL error. */
async function createOnce(url: string, apiKey: string, n: number): Promise<Outcome> {
  const started = Date.now();
  const input = {
    currency: "IDR",
    gateway: "xendit",
    customerName: `Load ${n}`,
    customerEmail: "load@example.com",
    lineItems: [{ description: "Item", quantity: 1, unitPrice: "10000", taxRate: "11" }],
  };
  try {
    const res = await http(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query: CREATE, variables: { input } }),
      timeoutMs: HANG_MS,
    });
    const ms = Date.now() - started;
    const id = res.json?.data?.createInvoice?.invoice?.id;
    if (res.status === 200 && id && !res.json.errors)
      return { kind: "acknowledged", status: 200, ms, id };
    const codes = (res.json?.errors ?? []).map((e: any) => e?.extensions?.code);
    if (
      codes.length > 0 &&
      codes.every((c: string) => c === "PTUNAV") &&
      (res.status === 503 || res.status === 200)
    ) {
      return { kind: "unavailable", status: res.status, ms };
    }
    return { kind: "other", status: res.status, ms, detail: res.text.slice(0, 300) };
  } catch (error) {
    return { kind: "other", status: 0, ms: Date.now() - started, detail: String(error) };
  }
}

describe("database stopped and restarted under load", () => {
  const stateDir = join(projectRoot, ".paytrust", `test-outage-${process.pid}`);
  let server: EmbeddedServer;
  let pool: pg.Pool;
  let app: LoggedApp;
  let apiKey: string;

  beforeAll(async () => {
    server = await ensureEmbeddedServer(stateDir);
    const rootUrl = server.rootUrl;
    await ensureDatabase(rootUrl, "paytrust");
    const ownerUrl = withDatabase(rootUrl, "paytrust");
    const password = server.state.authenticatorPassword;
    await migrateDatabase({
      ownerUrl,
      rootUrl,
      authenticatorPassword: password,
      includeCurrent: true,
      quiet: true,
    });
    pool = makePool(ownerUrl, 4);
    apiKey = (await createTenant(pool, "Outage shop")).apiKey;
    app = await startLoggedApp(
      { ownerUrl, rootUrl, authUrl: withCredentials(ownerUrl, ROLES.authenticator, password) },
      { worker: true, authenticatorPassword: password },
    );
  });
  afterAll(async () => {
    await app?.stop();
    await pool?.end();
    await server?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("answers 503 PTUNAV at once while down, resumes by itself, loses no acknowledged write", async () => {
    const outcomes: Outcome[] = [];
    let running = true;
    let n = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        const outcome = await createOnce(app.url, apiKey, n++);
        outcomes.push(outcome);
        // Unavailable answers come back at once: do not spin on them.
        if (outcome.kind !== "acknowledged") await sleep(50);
      }
    });

    await eventually(
      async () => outcomes.filter((o) => o.kind === "acknowledged").length >= 20,
      20_000,
    );
    const stoppedAt = Date.now();
    await server.stop();

    // While down: 503 JSON, readiness says unavailable, liveness stays up.
    const refused = await eventually(async () => {
      const o = await createOnce(app.url, apiKey, -1);
      return o.kind === "unavailable" && o.status === 503 ? o : null;
    }, 15_000);
    const noticedSeconds = (Date.now() - stoppedAt) / 1000;
    // `a refusal while down is immediate (${refused.ms} ms)`
    expect(refused.ms < 1000).toBeTruthy();
    const ready = await http(`${app.url}/readyz`, { timeoutMs: HANG_MS });
    expect(ready.status).toBe(503);
    expect(ready.json).toEqual({ status: "unavailable", reason: "database unreachable" });
    expect((await http(`${app.url}/healthz`)).status).toBe(200);
    const webhook = await http(`${app.url}/webhooks/xendit`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-callback-token": "sandbox-callback-token" },
      body: JSON.stringify({
        id: "inv-1",
        external_id: "pt-unknown",
        status: "PAID",
        amount: 1000,
        currency: "IDR",
      }),
      timeoutMs: HANG_MS,
    });
    // a webhook is refused with 503 so the gateway retries it later
    expect(webhook.status).toBe(503);
    expect(webhook.json?.errors?.[0]?.extensions?.code).toBe("PTUNAV");
    await sleep(2000); // a few more seconds of load against the stopped server

    const restartedAt = Date.now();
    server = await ensureEmbeddedServer(stateDir);
    await eventually(
      async () => (await createOnce(app.url, apiKey, -2)).kind === "acknowledged",
      30_000,
    );
    const resumedSeconds = (Date.now() - restartedAt) / 1000;
    await eventually(async () => (await http(`${app.url}/readyz`)).status === 200, 10_000);
    const ackedBeforeResume = outcomes.filter((o) => o.kind === "acknowledged").length;
    await eventually(
      async () =>
        outcomes.filter((o) => o.kind === "acknowledged").length >= ackedBeforeResume + 20,
      20_000,
    );
    running = false;
    await Promise.all(loops);

    const others = outcomes.filter((o) => o.kind === "other");
    // every answer is a success or a PTUNAV refusal
    expect(others).toEqual([]);
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    // `no request hangs (slowest ${slowest} ms)`
    expect(slowest < HANG_MS).toBeTruthy();
    const acknowledged = outcomes.filter((o) => o.kind === "acknowledged").map((o) => o.id!);
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from paytrust_public.invoices where id = any($1::uuid[])",
      [acknowledged],
    );
    // every acknowledged invoice exists
    expect(rows[0].n).toBe(acknowledged.length);
    // no unhandled error
    expect(!app.logs.some((l) => l.includes("Unhandled error"))).toBeTruthy();
    console.log(
      `${outcomes.length} requests: ${acknowledged.length} acknowledged (all present), ` +
        `${outcomes.filter((o) => o.kind === "unavailable").length} PTUNAV; 503 within ${noticedSeconds.toFixed(1)} s ` +
        `of the stop; service back ${resumedSeconds.toFixed(1)} s after the restart; slowest request ${slowest} ms`,
    );
  });

  it("the worker resumes by itself: a payment goes through after the outage", async () => {
    const res = await http(`${app.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        query: `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { id total } } }`,
        variables: {
          input: {
            currency: "IDR",
            gateway: "midtrans",
            customerName: "After outage",
            customerEmail: "after@example.com",
            lineItems: [{ description: "Item", quantity: 1, unitPrice: "10000", taxRate: "0" }],
          },
        },
      }),
    });
    const invoice = res.json.data.createInvoice.invoice;
    const started = await app.gql(
      `mutation($id: UUID!) { initiatePayment(input: {invoiceId: $id}) { paymentTransaction { id externalId } } }`,
      { id: invoice.id },
      apiKey,
    );
    const tx = started.body.data.initiatePayment.paymentTransaction;
    await eventually(async () => {
      const { rows } = await pool.query(
        "select gateway_reference from paytrust_public.payment_transactions where id = $1",
        [tx.id],
      );
      return rows[0].gateway_reference;
    }, 20_000);
    await app.runtime.sandbox!.pay("midtrans", tx.externalId);
    await eventually(async () => {
      const { rows } = await pool.query(
        "select status, amount_paid from paytrust_public.invoices where id = $1",
        [invoice.id],
      );
      return rows[0].status === "paid" && rows[0].amount_paid === invoice.total;
    }, 20_000);
  });
});
