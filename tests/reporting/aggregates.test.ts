/**
 * @graphile/pg-aggregates through PayTrust's preset plus
 * src/plugins/aggregates.ts: grouped sums of invoices and transactions by
 * status, currency and day for a tenant key, on the fixture's dataset; only
 * invoices and payment_transactions get aggregates; RLS keeps them per tenant.
 *
 * Most cases build the schema here (preset + PayTrustAggregatesPreset) and
 * execute with grafast as an authenticated request would; the last one goes
 * through the real HTTP server with API keys.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { grafast } from "postgraphile/grafast";
import { type GraphQLSchema, printSchema } from "postgraphile/graphql";
import { PayTrustAggregatesPreset } from "../../src/plugins/aggregates.ts";
import { schemaPlugins } from "../../src/plugins/index.ts";
import { makePreset } from "../../src/plugins/preset.ts";
import { startTestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { buildFixture, type Fixture, type Tenant } from "./fixture.ts";

describe("GraphQL aggregates (pg-aggregates)", () => {
  let db: TestDatabase;
  let fx: Fixture;
  let authPool: pg.Pool;
  let pgl: ReturnType<typeof postgraphile>;
  let schema: GraphQLSchema;
  let resolvedPreset: GraphileConfig.ResolvedPreset;

  beforeAll(async () => {
    db = await freshDatabase();
    fx = await buildFixture(db.pool);
    authPool = new pg.Pool({ connectionString: db.authUrl, max: 4 });
    pgl = postgraphile({
      extends: [
        makePreset({
          authPool,
          port: 0,
          graphiql: false,
          publicBaseUrl: "http://127.0.0.1",
          plugins: schemaPlugins,
        }),
        PayTrustAggregatesPreset,
      ],
    });
    ({ schema, resolvedPreset } = await pgl.getSchemaResult());
  });
  afterAll(async () => {
    await pgl.release();
    await authPool.end();
    await db.drop();
  });

  /** Executes as the request of an authenticated tenant key would. */
  async function gql(tenant: Tenant, source: string, variableValues: Record<string, unknown> = {}) {
    const req = {
      apiKey: { id: tenant.keyId, prefix: "test", role: "tenant", tenantId: tenant.tenantId },
      headers: {},
      ip: "127.0.0.1",
    };
    const result = (await grafast({
      schema,
      source,
      variableValues,
      resolvedPreset,
      requestContext: { expressv4: { req } } as any,
    })) as { data?: any; errors?: readonly unknown[] };
    // JSON.stringify(result.errors)
    expect(result.errors).toBe(undefined);
    return JSON.parse(JSON.stringify(result.data)); // plain objects (grafast's have null prototypes)
  }

  const keysAndSums = (groups: { keys: string[]; sum: Record<string, string> }[], field: string) =>
    groups.map((g) => `${g.keys.join(" ")} ${g.sum[field]}`).sort();

  it("groups and sums a tenant's invoices by currency and status", async () => {
    const data = await gql(
      fx.a,
      `{ invoices {
           totalCount
           byCurrency: groupedAggregates(groupBy: [CURRENCY]) { keys sum { total amountPaid overpaymentAmount } }
           byStatus: groupedAggregates(groupBy: [CURRENCY, STATUS]) { keys sum { total } }
         } }`,
    );
    expect(data.invoices.totalCount).toBe(6);
    // IDR: A1 219,119 + A2 117,220 + A6 36,266 = 372,605; paid 219,119 + 58,610 = 277,729
    // MYR: A3 6,641, paid 7,000 (359 over)
    // USD: A4 11,349 (cancelled: 10,000 + 1,000 tax + 319 + 30 fee) + A5 5,690 = 17,039
    expect(
      data.invoices.byCurrency
        .map(
          (g: any) => `${g.keys[0]} ${g.sum.total} ${g.sum.amountPaid} ${g.sum.overpaymentAmount}`,
        )
        .sort(),
    ).toEqual(["IDR 372605 277729 0", "MYR 6641 7000 359", "USD 17039 5690 0"]);
    expect(keysAndSums(data.invoices.byStatus, "total")).toEqual([
      "IDR open 36266",
      "IDR paid 219119",
      "IDR partially_paid 117220",
      "MYR paid 6641",
      "USD cancelled 11349",
      "USD paid 5690",
    ]);
  });

  it("groups a tenant's collected transactions by day, currency and gateway", async () => {
    const data = await gql(
      fx.b,
      `{ paid: paymentTransactions(condition: { status: "paid" }) { totalCount }
         all: paymentTransactions {
           groupedAggregates(groupBy: [PAID_AT_TRUNCATED_TO_DAY, CURRENCY, GATEWAY, STATUS]) {
             keys sum { paidAmount } distinctCount { paidAmount }
           }
         } }`,
    );
    expect(data.paid.totalCount).toBe(3); // B1, B2, B3 (B4 is settled)
    const rows = data.all.groupedAggregates
      .map((g: any) => {
        const [day, currency, gateway, status] = g.keys;
        const label =
          day === null
            ? "-"
            : day.startsWith(fx.today)
              ? "D0"
              : day.startsWith(fx.day40)
                ? "D40"
                : day;
        return `${label} ${currency} ${gateway} ${status} ${g.sum.paidAmount}`;
      })
      .sort();
    expect(rows).toEqual([
      "- IDR midtrans expired 0", // B5's attempt expired: never paid
      "D0 IDR midtrans settled 230440", // B4
      "D0 MYR xendit paid 11213", // B2
      "D0 USD xendit paid 10300", // B3 installment 1
      "D40 IDR xendit paid 1144190", // B1
    ]);
  });

  it("aggregates the whole connection, after its conditions", async () => {
    const data = await gql(
      fx.a,
      `{ invoices(condition: { currency: "IDR" }) {
           aggregates { sum { total subtotal taxTotal serviceFee } min { total } max { total } }
         } }`,
    );
    // A1 + A2 + A6: subtotal 200,000 + 100,000 + 30,000; tax 11,000 + 11,000 + 3,300;
    // fee 8,119 + 6,220 + 2,966
    expect(data.invoices.aggregates).toEqual({
      sum: { total: "372605", subtotal: "330000", taxTotal: "25300", serviceFee: "17305" },
      min: { total: "36266" },
      max: { total: "219119" },
    });
  });

  it("never shows another tenant's rows in an aggregate", async () => {
    const a = await gql(fx.a, "{ paymentTransactions { aggregates { sum { paidAmount } } } }");
    const b = await gql(fx.b, "{ paymentTransactions { aggregates { sum { paidAmount } } } }");
    // A: 219,119 + 58,610 + 7,000 + 5,690; B: 1,144,190 + 11,213 + 10,300 + 230,440 (+ expired 0)
    expect(a.paymentTransactions.aggregates.sum.paidAmount).toBe("290419");
    expect(b.paymentTransactions.aggregates.sum.paidAmount).toBe("1396143");
  });

  it("is served by the API: grouped sums per tenant key over HTTP", async () => {
    const app = await startTestApp(db);
    try {
      const query = `{ invoices { groupedAggregates(groupBy: [CURRENCY]) { keys sum { total } } } }`;
      const sums = async (apiKey: string) => {
        const res = await app.gql(query, {}, apiKey);
        // JSON.stringify(res.body.errors)
        expect(res.body.errors).toBe(undefined);
        return res.body.data.invoices.groupedAggregates
          .map((g: any) => `${g.keys[0]} ${g.sum.total}`)
          .sort();
      };
      expect(await sums(fx.a.apiKey)).toEqual(["IDR 372605", "MYR 6641", "USD 17039"]);
      // B: IDR 1,144,190 + 230,440 + 60,610; MYR 11,213; USD 30,900
      expect(await sums(fx.b.apiKey)).toEqual(["IDR 1435240", "MYR 11213", "USD 30900"]);
    } finally {
      await app.stop();
    }
  });

  it("adds aggregates to invoices and payment transactions only, for money columns only", () => {
    const sdl = printSchema(schema);
    const aggregateTypes = [...sdl.matchAll(/^type (\w+)Aggregates \{/gm)].map((m) => m[1]);
    expect(
      aggregateTypes.includes("Invoice") && aggregateTypes.includes("PaymentTransaction"),
    ).toBeTruthy();
    for (const type of aggregateTypes) // type
      expect(type).toMatch(/^(Invoice|PaymentTransaction)/);
    const sumFields = (type: string) =>
      /type \w+SumAggregates \{([^}]*)\}/
        .exec(sdl.slice(sdl.indexOf(`type ${type}SumAggregates {`)))![1]
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => /^\w+:/.test(l))
        .map((l) => l.split(":")[0]);
    expect(sumFields("Invoice")).toEqual([
      "subtotal",
      "taxTotal",
      "serviceFee",
      "total",
      "amountPaid",
      "overpaymentAmount",
    ]);
    expect(sumFields("PaymentTransaction")).toEqual(["amount", "paidAmount"]);
    for (const value of [
      "STATUS",
      "CURRENCY",
      "GATEWAY",
      "CREATED_AT_TRUNCATED_TO_DAY",
      "PAID_AT_TRUNCATED_TO_DAY",
    ]) {
      expect(sdl).toMatch(new RegExp(`enum InvoiceGroupBy \\{[^}]*\\b${value}\\b`));
      expect(sdl).toMatch(new RegExp(`enum PaymentTransactionGroupBy \\{[^}]*\\b${value}\\b`));
    }
    // no ordering of other tables by related aggregates
    expect(sdl).not.toMatch(/_SUM_/);
  });
});
