/**
 * Live status over websockets (graphql-transport-ws, key in connection_init):
 * invoiceUpdated and paymentTransactionUpdated see a sandbox payment become
 * paid; another tenant's id yields nothing; a missing or bad key closes the
 * socket at connection_init (4403, reason "PTAUTH: …").
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { type Client, createClient } from "graphql-ws";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";

interface Subscription {
  events: any[];
  errors: any[];
  done: boolean;
  stop(): void;
}

function subscribe(client: Client, query: string, variables: Record<string, unknown>) {
  const sub: Subscription = { events: [], errors: [], done: false, stop: () => {} };
  sub.stop = client.subscribe(
    { query, variables },
    {
      next: (value) => {
        if (value.errors) sub.errors.push(...value.errors);
        if (value.data) sub.events.push(value.data);
      },
      error: (error) => {
        sub.errors.push(error);
        sub.done = true;
      },
      complete: () => {
        sub.done = true;
      },
    },
  );
  return sub;
}

const INVOICE = `subscription($id: UUID!) { invoiceUpdated(invoiceId: $id) {
  invoice { id status amountPaid } } }`;
const TX = `subscription($id: UUID!) { paymentTransactionUpdated(id: $id) {
  paymentTransaction { id status paidAmount } } }`;

describe("GraphQL subscriptions over websockets", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;
  let otherKey: string;
  const clients: Client[] = [];

  const connect = (apiKey: string | null) => {
    const client = createClient({
      url: `${app.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      retryAttempts: 0,
      lazy: true,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Toko Budi")).apiKey;
    otherKey = (await createTenant(db.pool, "Toko Lain")).apiKey;
  });
  afterAll(async () => {
    for (const client of clients) await client.dispose();
    await app.stop();
    await db.drop();
  });

  it("invoiceUpdated and paymentTransactionUpdated see the payment become paid", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);

    const mine = connect(key);
    const invoiceSub = subscribe(mine, INVOICE, { id: invoice.id });
    const txSub = subscribe(mine, TX, { id: tx.id });
    // Another tenant subscribing to the same ids.
    const theirs = connect(otherKey);
    const spyInvoice = subscribe(theirs, INVOICE, { id: invoice.id });
    const spyTx = subscribe(theirs, TX, { id: tx.id });

    // The current state arrives first.
    const initial = await eventually(async () => invoiceSub.events[0]);
    expect(initial.invoiceUpdated.invoice).toMatchObject({ id: invoice.id, status: "pending" });
    const txInitial = await eventually(async () => txSub.events[0]);
    expect(txInitial.paymentTransactionUpdated.paymentTransaction).toMatchObject({
      id: tx.id,
      status: "pending",
    });

    await app.runtime.sandbox!.pay("xendit", tx.externalId);

    const paid = await eventually(async () =>
      invoiceSub.events.find((e) => e.invoiceUpdated.invoice?.status === "paid"),
    );
    expect(paid.invoiceUpdated.invoice).toEqual({
      id: invoice.id,
      status: "paid",
      amountPaid: invoice.total,
    });
    const txPaid = await eventually(async () =>
      txSub.events.find((e) =>
        ["paid", "settled"].includes(e.paymentTransactionUpdated.paymentTransaction?.status),
      ),
    );
    expect(txPaid.paymentTransactionUpdated.paymentTransaction.paidAmount).toBe(invoice.total);
    expect(invoiceSub.errors).toEqual([]);

    // Give the other tenant's subscriptions time to (not) receive anything.
    await new Promise((r) => setTimeout(r, 500));
    expect(spyInvoice.events).toEqual([]);
    expect(spyTx.events).toEqual([]);
    expect(spyInvoice.errors).toEqual([]);
    expect(spyTx.errors).toEqual([]);
    invoiceSub.stop();
    txSub.stop();
    spyInvoice.stop();
    spyTx.stop();
  });

  it("a missing or bad API key closes the socket at connection_init (4403 PTAUTH)", async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    for (const apiKey of [null, "pt_live_nope_nope", `${key}x`]) {
      // Not lazy: the client sends connection_init at once, before any operation.
      const events: string[] = [];
      let closedWith: { code: number; reason: string } | null = null;
      const client = createClient({
        url: `${app.url.replace(/^http/, "ws")}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
        retryAttempts: 0,
        lazy: false,
        on: {
          connected: () => void events.push("connected"),
          closed: (event: any) => {
            closedWith = { code: event.code, reason: event.reason };
          },
        },
        onNonLazyError: () => {},
      });
      clients.push(client);
      const closed = await eventually(async () => closedWith);
      expect(closed.code).toBe(4403);
      expect(closed.reason).toMatch(/^PTAUTH: /);
      expect(events).toEqual([]); // never acknowledged

      // An operation on such a connection gets nothing but the close.
      const sub = subscribe(connect(apiKey), INVOICE, { id: invoice.id });
      await eventually(async () => sub.done || sub.errors.length > 0);
      expect(sub.events).toEqual([]);
      expect(sub.errors.map((e: any) => [e.code, String(e.reason).slice(0, 7)])).toEqual([
        [4403, "PTAUTH:"],
      ]);
    }
  });

  it("a good key is acknowledged at connection_init", async () => {
    let acknowledged = false;
    const client = createClient({
      url: `${app.url.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: () => {
          acknowledged = true;
        },
      },
    });
    clients.push(client);
    await eventually(async () => acknowledged);
  });
});
