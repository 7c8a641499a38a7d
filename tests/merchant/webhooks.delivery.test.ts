/**
 * Outbound webhooks end to end over real HTTP on loopback: a sandbox payment
 * → invoice.paid (written in SQL in the payment's transaction) → the worker
 * POSTs it signed to a receiver; a 500 brings a retry under the same event id.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { verifySignature } from "../../src/outbound/signature.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, startPayment } from "../helpers/payments.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

const CREATE = `mutation($url: String!, $types: [String!]!) {
  createWebhookEndpoint(input: {url: $url, eventTypes: $types}) {
    webhookEndpoint { id url eventTypes enabled } secret } }`;

describe("outbound webhooks: delivery", () => {
  let db: TestDatabase;
  let app: TestApp;
  let receiver: Receiver;
  let key: string;
  let otherKey: string;
  let endpointId: string;
  let secret: string;

  beforeAll(async () => {
    db = await freshDatabase();
    // The first retry after 1 s instead of 30 s.
    app = await startTestApp(db, {
      worker: true,
      env: { PAYTRUST_WEBHOOK_RETRY_BASE_SECONDS: "1" },
    });
    receiver = await startReceiver();
    key = (await createTenant(db.pool, "Toko Budi")).apiKey;
    otherKey = (await createTenant(db.pool, "Toko Lain")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await receiver.close();
    await db.drop();
  });

  const paidInvoice = async () => {
    const invoice = await createInvoice(app, key, { currency: "IDR", gateway: "xendit" });
    const tx = await startPayment(app, key, invoice.id);
    await app.runtime.sandbox!.pay("xendit", tx.externalId);
    return { invoice, tx };
  };

  it("createWebhookEndpoint returns the endpoint and its secret once", async () => {
    const res = await app.gql(
      CREATE,
      { url: receiver.url, types: ["invoice.paid", "payment.succeeded"] },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    const created = res.body.data.createWebhookEndpoint;
    expect(created.webhookEndpoint).toMatchObject({
      url: receiver.url,
      eventTypes: ["invoice.paid", "payment.succeeded"],
      enabled: true,
    });
    expect(created.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    endpointId = created.webhookEndpoint.id;
    secret = created.secret;

    // Not readable back: the type has no secret field, and another tenant sees nothing.
    const read = await app.gql(`{ webhookEndpoints { nodes { id url } } }`, {}, otherKey);
    expect(read.body.data.webhookEndpoints.nodes).toEqual([]);
  });

  it("refuses unknown event types (PTEVT)", async () => {
    const res = await app.gql(CREATE, { url: receiver.url, types: ["invoice.exploded"] }, key);
    expect(res.body.errors?.[0]?.extensions?.code).toBe("PTEVT");
  });

  it("invoice.paid arrives after a sandbox payment, signed", async () => {
    const { invoice, tx } = await paidInvoice();
    const hit = await eventually(async () =>
      receiver.received.find(
        (r) => r.body?.type === "invoice.paid" && r.body.data.id === invoice.id,
      ),
    );
    expect(hit.body).toMatchObject({
      type: "invoice.paid",
      data: { object: "invoice", id: invoice.id, status: "paid", amountPaid: invoice.total },
    });
    expect(typeof hit.body.id).toBe("string");
    expect(new Date(hit.body.createdAt).toISOString()).toBe(hit.body.createdAt);
    expect(hit.headers["paytrust-event-id"]).toBe(hit.body.id);
    expect(hit.headers["content-type"]).toBe("application/json");
    const signature = String(hit.headers["paytrust-signature"]);
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature(signature, hit.raw, secret)).toBe(true);
    // A tampered body, a wrong secret or an old timestamp do not verify.
    expect(verifySignature(signature, hit.raw.replace("paid", "pa1d"), secret)).toBe(false);
    expect(verifySignature(signature, hit.raw, `${secret}x`)).toBe(false);
    expect(
      verifySignature(signature, hit.raw, secret, 300, Math.floor(Date.now() / 1000) + 301),
    ).toBe(false);

    // payment.succeeded too, carrying the money; not the unsubscribed invoice.partially_paid.
    const payment = await eventually(async () =>
      receiver.received.find(
        (r) => r.body?.type === "payment.succeeded" && r.body.data.id === tx.id,
      ),
    );
    expect(payment.body.data).toMatchObject({ status: "paid", paidAmount: invoice.total });
    expect(receiver.received.some((r) => r.body?.type === "invoice.partially_paid")).toBe(false);

    // The event row exists for the tenant (RLS) and the delivery is logged.
    const log = await app.gql(
      `{ webhookDeliveries { nodes { attempt status statusCode durationMs error event { id type } } } }`,
      {},
      key,
    );
    expect(log.body.errors).toBeUndefined();
    const delivered = log.body.data.webhookDeliveries.nodes.find(
      (d: any) => d.event.id === hit.body.id,
    );
    expect(delivered).toMatchObject({
      attempt: 1,
      status: "succeeded",
      statusCode: 200,
      error: null,
    });
    expect(delivered.durationMs).toBeGreaterThanOrEqual(0);
    const other = await app.gql(
      `{ webhookDeliveries { totalCount } outboundEvents { totalCount } }`,
      {},
      otherKey,
    );
    expect(other.body.data).toEqual({
      webhookDeliveries: { totalCount: 0 },
      outboundEvents: { totalCount: 0 },
    });
  });

  it("a 500 answer brings a retry with the same event id", async () => {
    const before = receiver.received.length;
    receiver.answers.push(500, 500);
    const { invoice } = await paidInvoice();
    const attempts = await eventually(async () => {
      const hits = receiver.received
        .slice(before)
        .filter((r) => r.body?.type === "invoice.paid" && r.body.data.id === invoice.id);
      return hits.length >= 2 && hits.some((h) => h.status === 200) ? hits : null;
    }, 30_000);
    const ids = new Set(attempts.map((a) => a.body.id));
    expect(ids.size).toBe(1);
    expect(attempts.map((a) => a.headers["paytrust-event-id"])).toEqual(
      attempts.map((a) => a.body.id),
    );
    for (const a of attempts)
      expect(verifySignature(String(a.headers["paytrust-signature"]), a.raw, secret)).toBe(true);
    expect(attempts.at(-1)!.status).toBe(200);

    const eventId = attempts[0].body.id;
    const log = await eventually(async () => {
      const res = await app.gql(
        `query($id: UUID!) { outboundEvent(id: $id) { type deliveries(orderBy: ID_ASC) { nodes { attempt status statusCode error responseBody } } } }`,
        { id: eventId },
        key,
      );
      const nodes = res.body.data?.outboundEvent?.deliveries.nodes ?? [];
      return nodes.some((n: any) => n.status === "succeeded") ? nodes : null;
    });
    expect(log[0]).toMatchObject({
      attempt: 1,
      status: "failed",
      statusCode: 500,
      error: "Endpoint answered HTTP 500",
      responseBody: "refused with 500",
    });
    expect(log.at(-1)).toMatchObject({ status: "succeeded", statusCode: 200 });
    expect(log.map((n: any) => n.attempt)).toEqual(log.map((_: any, i: number) => i + 1));

    // The endpoint is healthy again after the success.
    const ep = await app.gql(
      `query($id: UUID!) { webhookEndpoint(id: $id) { enabled failingSince } }`,
      { id: endpointId },
      key,
    );
    expect(ep.body.data.webhookEndpoint).toEqual({ enabled: true, failingSince: null });
  });

  it("redeliverWebhookEvent sends the same event again", async () => {
    const { rows } = await db.pool.query(
      "select id from paytrust_public.outbound_events where type = 'invoice.paid' order by created_at limit 1",
    );
    const eventId = rows[0].id;
    const before = receiver.received.length;
    const res = await app.gql(
      `mutation($id: UUID!) { redeliverWebhookEvent(input: {id: $id}) { outboundEvent { id type } } }`,
      { id: eventId },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data.redeliverWebhookEvent.outboundEvent).toEqual({
      id: eventId,
      type: "invoice.paid",
    });
    const again = await eventually(async () =>
      receiver.received.slice(before).find((r) => r.body?.id === eventId),
    );
    expect(again.headers["paytrust-delivery-attempt"]).toBe("2");
    // Another tenant cannot redeliver it (RLS: not found).
    const foreign = await app.gql(
      `mutation($id: UUID!) { redeliverWebhookEvent(input: {id: $id}) { outboundEvent { id } } }`,
      { id: eventId },
      otherKey,
    );
    expect(foreign.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
  });

  it("rotateWebhookEndpointSecret: both secrets sign during the grace period", async () => {
    const res = await app.gql(
      `mutation($id: UUID!) { rotateWebhookEndpointSecret(input: {id: $id, graceSeconds: 3600}) {
         webhookEndpoint { id } secret } }`,
      { id: endpointId },
      key,
    );
    expect(res.body.errors).toBeUndefined();
    const rotated = res.body.data.rotateWebhookEndpointSecret.secret;
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);

    const before = receiver.received.length;
    const { invoice } = await paidInvoice();
    const hit = await eventually(async () =>
      receiver.received
        .slice(before)
        .find((r) => r.body?.type === "invoice.paid" && r.body.data.id === invoice.id),
    );
    const signature = String(hit.headers["paytrust-signature"]);
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifySignature(signature, hit.raw, rotated)).toBe(true);
    expect(verifySignature(signature, hit.raw, secret)).toBe(true);

    // Another tenant cannot rotate it.
    const foreign = await app.gql(
      `mutation($id: UUID!) { rotateWebhookEndpointSecret(input: {id: $id}) { secret } }`,
      { id: endpointId },
      otherKey,
    );
    expect(foreign.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
  });

  it("updateWebhookEndpoint and deleteWebhookEndpoint", async () => {
    const upd = await app.gql(
      `mutation($id: UUID!) { updateWebhookEndpoint(input: {id: $id, eventTypes: ["*"], enabled: false}) {
         webhookEndpoint { id eventTypes enabled url } } }`,
      { id: endpointId },
      key,
    );
    expect(upd.body.errors).toBeUndefined();
    expect(upd.body.data.updateWebhookEndpoint.webhookEndpoint).toEqual({
      id: endpointId,
      eventTypes: ["*"],
      enabled: false,
      url: receiver.url,
    });
    const foreign = await app.gql(
      `mutation($id: UUID!) { deleteWebhookEndpoint(input: {id: $id}) { webhookEndpoint { id } } }`,
      { id: endpointId },
      otherKey,
    );
    expect(foreign.body.errors?.[0]?.extensions?.code).toBe("PTNFD");
    const del = await app.gql(
      `mutation($id: UUID!) { deleteWebhookEndpoint(input: {id: $id}) { webhookEndpoint { id } } }`,
      { id: endpointId },
      key,
    );
    expect(del.body.errors).toBeUndefined();
    const list = await app.gql(`{ webhookEndpoints { totalCount } }`, {}, key);
    expect(list.body.data.webhookEndpoints.totalCount).toBe(0);
  });
});
