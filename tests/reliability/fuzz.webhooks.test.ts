/**
 * Hostile input on the two webhook endpoints, at least 2,000 generated
 * requests each: random bytes, wrong and broken content types, oversized
 * bodies, forged tokens and signatures, genuine notifications of one tenant
 * re-pointed at another tenant's transaction, signed fields tampered with,
 * valid signatures over malformed notifications, and exact replays of genuine
 * deliveries. Every forgery or malformed request is refused with a clear 4xx;
 * every replay is acknowledged as a duplicate; and the database is exactly as
 * before, checked after every single request.
 *
 * Not fuzzed here, because the gateway's own authentication cannot tell them
 * from genuine events: correctly signed notifications about unknown orders
 * (stored as 'ignored', by design) and Midtrans notifications whose unsigned
 * fields were changed (see security.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { midtransSignature } from "../../src/gateways/signatures.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, getInvoice, startPayment } from "../helpers/payments.ts";
import {
  changeDetector,
  hostileText,
  quiet,
  RUNS,
  SEED,
  unclearRefusal,
  wrongType,
} from "./fuzz.ts";
import { http, type LoggedApp, snapshot, startLoggedApp, trackedTables } from "./helpers.ts";

const TOKEN = "sandbox-callback-token";
const SERVER_KEY = "SB-Mid-server-sandbox";
const BODY_LIMIT = 64 * 1024;

interface Genuine {
  headers: Record<string, string>;
  body: string;
}

interface Case {
  label: string;
  headers: Record<string, string>;
  body: string | Uint8Array<ArrayBuffer>;
  /** "refused": a clear 4xx; "duplicate": 200 with duplicate: true; "either": one of those. */
  expect: "refused" | "duplicate" | "either";
}

const contentTypes = fc.constantFrom(
  "text/plain",
  "application/x-www-form-urlencoded",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/octet-stream",
  "application/json; charset=klingon",
  "",
);
const randomBytes = fc.uint8Array({ maxLength: 2048 }).map((bytes) => {
  // A leading "x" keeps random bytes from ever being a JSON object.
  const out = new Uint8Array(bytes.length + 1);
  out[0] = 0x78;
  out.set(bytes, 1);
  return out;
});
const oversized = fc
  .tuple(fc.integer({ min: BODY_LIMIT + 1, max: 2_000_000 }), fc.constantFrom("a", "{", " ", "é"))
  .map(([n, unit]) => unit.repeat(n));
/** Header-safe text that is not the token (Node trims header values, so compare trimmed). */
const forgedToken = fc
  .oneof(
    fc
      .string({ unit: "binary-ascii", minLength: 1, maxLength: 60 })
      .map((s) => s.replace(/[^\x20-\x7e]/g, "a")),
    fc.constantFrom(
      `${TOKEN}x`,
      TOKEN.slice(0, -1),
      TOKEN.toUpperCase(),
      `Bearer ${TOKEN}`,
      "null",
      "undefined",
    ),
  )
  .filter((t) => t.trim() !== TOKEN && t.trim() !== "");

function withHeader(headers: Record<string, string>, name: string, value: string | null) {
  const out = { ...headers };
  delete out[name];
  if (value !== null) out[name] = value;
  return out;
}

/** An object lacking a usable id, external_id or status (one of them broken). */
const brokenXenditObject = fc
  .tuple(
    fc.record({
      id: fc.string({ minLength: 1, maxLength: 20 }),
      external_id: fc.string({ minLength: 1, maxLength: 20 }),
      status: fc.constantFrom("PAID", "EXPIRED"),
    }),
    fc.constantFrom("id", "external_id", "status"),
    fc.oneof(
      wrongType.filter((v) => typeof v !== "string"),
      fc.constant(""),
      fc.constant(undefined),
    ),
    fc.dictionary(fc.string({ maxLength: 8 }), hostileText, { maxKeys: 4 }),
  )
  .map(([fields, broken, value, extra]) => {
    const body: Record<string, unknown> = { ...extra, ...fields };
    if (value === undefined) delete body[broken];
    else body[broken] = value;
    return body;
  });

describe("fuzzing the webhook endpoints", () => {
  let db: TestDatabase;
  let app: LoggedApp;
  let xendit: Genuine[] = [];
  let midtrans: Genuine[] = [];
  /** Order ids of both tenants' transactions, for re-pointing notifications. */
  const orderIds: string[] = [];

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db, { worker: true });
    const sandbox = app.runtime.sandbox!;
    for (const name of ["Tenant A", "Tenant B"]) {
      const key = (await createTenant(db.pool, name)).apiKey;
      for (const gateway of ["xendit", "midtrans"] as const) {
        for (const pay of [true, false]) {
          const invoice = await createInvoice(app, key, { currency: "IDR", gateway });
          const tx = await startPayment(app, key, invoice.id);
          orderIds.push(tx.externalId);
          if (!pay) continue;
          await sandbox.pay(gateway, tx.externalId);
          await eventually(async () => (await getInvoice(app, key, invoice.id)).status === "paid");
        }
      }
    }
    const deliveries = sandbox.deliveries();
    xendit = deliveries.filter((d) => d.gateway === "xendit").map((d) => d.webhook);
    midtrans = deliveries.filter((d) => d.gateway === "midtrans").map((d) => d.webhook);
    expect(xendit.length).toBe(2);
    expect(midtrans.length).toBe(2);
    await quiet(db.pool);
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  async function run(path: string, cases: fc.Arbitrary<Case>) {
    const tables = await trackedTables(db.pool);
    const change = changeDetector(db.pool, tables, await snapshot(db.pool, tables));
    await fc.assert(
      fc.asyncProperty(cases, async ({ label, headers, body, expect: outcome }) => {
        const answer = await http(`${app.url}${path}`, { method: "POST", headers, body });
        const changed = await change(); // always, so the next case is judged on its own
        let problem: string | null;
        const duplicate = answer.status === 200 && answer.json?.duplicate === true;
        if (outcome === "either" && duplicate) {
          problem = null;
        } else if (outcome === "duplicate") {
          problem =
            answer.status === 200 && answer.json?.duplicate === true
              ? null
              : `not a duplicate: ${answer.status} ${answer.text.slice(0, 200)}`;
        } else {
          problem = unclearRefusal(answer);
          if (
            !problem &&
            !["PTSIG", "PTBODY", "PTSIZE"].includes(answer.json.errors[0]?.extensions?.code)
          ) {
            problem = `unexpected error code: ${answer.text.slice(0, 200)}`;
          }
        }
        expect({ label, status: answer.status, problem: problem ?? changed }).toEqual({
          label,
          status: answer.status,
          problem: null,
        });
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }

  it(`POST /webhooks/xendit: ${RUNS} forged, malformed and replayed callbacks`, async () => {
    const genuine = fc.constantFrom(...xendit);
    const tampered = fc
      .tuple(genuine, fc.constantFrom(...orderIds), fc.constantFrom("PAID", "SETTLED", "EXPIRED"))
      .map(([g, externalId, status]) =>
        JSON.stringify({ ...JSON.parse(g.body), external_id: externalId, status }),
      );
    const cases: fc.Arbitrary<Case> = fc.oneof(
      fc
        .tuple(
          genuine,
          fc.option(forgedToken, { nil: null }),
          fc.oneof(
            tampered,
            genuine.map((g) => g.body),
            randomBytes,
          ),
        )
        .map(([g, token, body]) => ({
          label: "forged or missing token",
          headers: withHeader(g.headers, "x-callback-token", token),
          body,
          expect: "refused" as const,
        })),
      fc
        .tuple(
          genuine,
          fc.oneof(
            randomBytes,
            fc
              .jsonValue()
              .map((v) => JSON.stringify(v))
              .filter((t) => !t.startsWith("{")),
            brokenXenditObject.map((o) => JSON.stringify(o)),
          ),
        )
        .map(([g, body]) => ({
          label: "valid token, malformed callback",
          headers: g.headers,
          body,
          expect: "refused" as const,
        })),
      fc.tuple(genuine, contentTypes).map(([g, type]) => ({
        label: `valid token, content type "${type}"`,
        headers: withHeader(g.headers, "content-type", type),
        body: g.body,
        expect: "refused" as const,
      })),
      fc.tuple(genuine, oversized, fc.boolean()).map(([g, body, token]) => ({
        label: "oversized body",
        headers: token ? g.headers : withHeader(g.headers, "x-callback-token", null),
        body,
        expect: "refused" as const,
      })),
      genuine.map((g) => ({
        label: "exact replay",
        headers: g.headers,
        body: g.body,
        expect: "duplicate" as const,
      })),
    );
    await run("/webhooks/xendit", cases);
  });

  it(`POST /webhooks/midtrans: ${RUNS} forged, malformed and replayed notifications`, async () => {
    const genuine = fc.constantFrom(...midtrans);
    const notification = (g: Genuine) => JSON.parse(g.body) as Record<string, unknown>;
    const signed = (body: Record<string, unknown>, key = SERVER_KEY) =>
      midtransSignature(
        String(body.order_id),
        String(body.status_code),
        String(body.gross_amount),
        key,
      );
    const forgedSignature = fc.oneof(
      fc.stringMatching(/^[0-9a-f]{128}$/),
      fc.constantFrom(...midtrans.map((g) => String(notification(g).signature_key))),
      fc.string({ maxLength: 20 }),
      wrongType,
      fc.constant(undefined),
    );
    const cases: fc.Arbitrary<Case> = fc.oneof(
      fc.tuple(genuine, forgedSignature).map(([g, signature]) => {
        const body = { ...notification(g), signature_key: signature };
        const honest = typeof signature === "string" && signature === signed(body);
        return {
          label: "forged or missing signature",
          headers: g.headers,
          body: JSON.stringify(body),
          expect: honest ? ("duplicate" as const) : ("refused" as const),
        };
      }),
      fc.tuple(genuine, fc.constantFrom(...orderIds)).map(([g, orderId]) => ({
        label: "re-pointed at another transaction (signature kept)",
        headers: g.headers,
        body: JSON.stringify({ ...notification(g), order_id: orderId }),
        expect:
          orderId === notification(g).order_id ? ("duplicate" as const) : ("refused" as const),
      })),
      fc
        .tuple(
          genuine,
          fc.constantFrom("gross_amount", "status_code"),
          fc.oneof(hostileText, fc.constantFrom("1.00", "999999999.00", "201", "200 ")),
        )
        .map(([g, field, value]) => {
          const body = notification(g);
          return {
            label: `signed field ${field} changed (signature kept)`,
            headers: g.headers,
            body: JSON.stringify({ ...body, [field]: value }),
            expect: value === body[field] ? ("duplicate" as const) : ("refused" as const),
          };
        }),
      fc
        .tuple(
          genuine,
          fc.constantFrom("long order_id", "no status", "status of the wrong type", "long status"),
        )
        .map(([g, how]) => {
          const body = notification(g);
          if (how === "long order_id") body.order_id = `${String(body.order_id)}-${"x".repeat(60)}`;
          if (how === "no status") delete body.transaction_status;
          if (how === "status of the wrong type") body.transaction_status = 200;
          if (how === "long status") body.transaction_status = "s".repeat(41);
          body.signature_key = signed(body);
          return {
            label: `valid signature, ${how}`,
            headers: g.headers,
            body: JSON.stringify(body),
            expect: "refused" as const,
          };
        }),
      randomBytes.map((body) => ({
        label: "random bytes",
        headers: { "content-type": "application/json" },
        body,
        expect: "refused" as const,
      })),
      fc.tuple(genuine, contentTypes).map(([g, type]) => ({
        label: `content type "${type}"`,
        headers: withHeader(g.headers, "content-type", type),
        body: g.body,
        expect: "refused" as const,
      })),
      oversized.map((body) => ({
        label: "oversized body",
        headers: { "content-type": "application/json" },
        body,
        expect: "refused" as const,
      })),
      fc
        .tuple(
          genuine,
          fc.dictionary(
            fc
              .string({ minLength: 1, maxLength: 8 })
              .filter((k) => !(k in notification(midtrans[0]))),
            hostileText,
            { maxKeys: 3 },
          ),
        )
        .map(([g, extra]) => ({
          label: "replay with extra unsigned fields",
          headers: g.headers,
          body: JSON.stringify({ ...extra, ...notification(g) }),
          // A duplicate, or refused when the extra text cannot be stored (e.g. a lone surrogate).
          expect: "either" as const,
        })),
      genuine.map((g) => ({
        label: "exact replay",
        headers: g.headers,
        body: g.body,
        expect: "duplicate" as const,
      })),
    );
    await run("/webhooks/midtrans", cases);
  });
});
