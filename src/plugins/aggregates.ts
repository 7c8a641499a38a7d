/**
 * @graphile/pg-aggregates (0.2.0-rc, the V5 build) limited to where it makes
 * sense: aggregates are OFF for every resource and attribute, and ON only for
 * the invoices and payment_transactions tables, for their money columns
 * (sum, min, max, average, …) and for grouping by the columns a report groups
 * by (status, currency, gateway, dates; timestamps also truncated to the
 * hour or the (UTC) day: CREATED_AT_TRUNCATED_TO_DAY, PAID_AT_TRUNCATED_TO_DAY).
 *
 *   invoices { groupedAggregates(groupBy: [CURRENCY, STATUS]) { keys sum { total } } }
 *
 * Money is only ever meaningful per currency: group by CURRENCY (or use
 * `condition: { currency: "IDR" }`, or one invoice's transactions) before
 * summing; a sum over several currencies is not an amount (docs/reporting.md).
 *
 * Done with behaviors computed from the table names, not with `@behavior`
 * smart comments, so the tables' existing comments (descriptions and
 * `@behavior -insert -delete`) stay untouched. Ordering and filtering other
 * tables by related aggregates stay off (unindexed, expensive). Aggregates run
 * as the caller's role, so row-level security limits them to the tenant's rows.
 */
import { PgAggregatesPreset } from "@graphile/pg-aggregates";

const SCHEMA = "paytrust_public";

/**
 * Per table: columns that can be summed/averaged, columns that can be grouped
 * by, and columns usable in `condition` (so a client can aggregate one
 * currency without grouping).
 */
export const AGGREGATE_TABLES: Record<
  string,
  { aggregate: string[]; groupBy: string[]; condition: string[] }
> = {
  invoices: {
    aggregate: [
      "subtotal",
      "tax_total",
      "service_fee",
      "total",
      "amount_paid",
      "overpayment_amount",
    ],
    groupBy: [
      "status",
      "currency",
      "gateway",
      "installment_count",
      "due_date",
      "created_at",
      "paid_at",
      "parent_invoice_id",
    ],
    condition: ["status", "currency", "gateway"],
  },
  payment_transactions: {
    aggregate: ["amount", "paid_amount"],
    groupBy: [
      "status",
      "currency",
      "gateway",
      "iso20022_status",
      "installment_number",
      "created_at",
      "paid_at",
      "invoice_id",
    ],
    condition: ["status", "currency", "gateway"],
  },
};

/** Every pg-aggregates behavior a resource can carry (connection, grouping, ordering, filtering). */
const RESOURCE_BEHAVIORS = [
  "aggregates",
  "aggregate",
  "groupedAggregates",
  "resource:groupedAggregates",
  "having",
  "havingBy",
  "aggregates:filterBy",
  "aggregate:filterBy",
  "resource:relatedAggregates:orderBy",
];
const ATTRIBUTE_BEHAVIORS = ["aggregate", "attribute:groupBy", "havingBy", "aggregate:filterBy"];

const off = (behaviors: string[]) => behaviors.map((b) => `-${b}`).join(" ");

interface PgNamed {
  extensions?: { pg?: { schemaName?: string; name?: string } };
}

function tableName(entity: PgNamed & { parameters?: unknown }): string | null {
  const pg = entity.extensions?.pg;
  return pg?.schemaName === SCHEMA && pg.name ? pg.name : null;
}

export const PayTrustAggregatesBehaviorPlugin: GraphileConfig.Plugin = {
  name: "PayTrustAggregatesBehaviorPlugin",
  description: "Aggregates only on invoices and payment_transactions, for chosen columns",
  version: "1.0.0",
  after: ["PgAggregatesSpecsPlugin"],
  schema: {
    entityBehavior: {
      pgResource: {
        inferred: {
          provides: ["PayTrustAggregatesBehavior"],
          after: ["inferred", "postInferred"],
          callback(behavior, resource) {
            const name = resource.parameters ? null : tableName(resource as PgNamed);
            const table = name ? AGGREGATE_TABLES[name] : undefined;
            if (!table) return [behavior, off(RESOURCE_BEHAVIORS)] as any;
            return [
              behavior,
              "+aggregates +groupedAggregates +resource:groupedAggregates +having",
              "-aggregates:filterBy -resource:relatedAggregates:orderBy",
            ] as any;
          },
        },
      },
      pgCodecAttribute: {
        inferred: {
          provides: ["PayTrustAggregatesBehavior"],
          after: ["inferred", "postInferred"],
          callback(behavior, [codec, attributeName]) {
            const name = tableName(codec as PgNamed);
            const table = name ? AGGREGATE_TABLES[name] : undefined;
            const rules = [behavior, off(ATTRIBUTE_BEHAVIORS)];
            if (table?.aggregate.includes(attributeName)) rules.push("+aggregate +havingBy");
            // pg-aggregates groups only by orderable attributes, and PostGraphile
            // makes unindexed columns unorderable: allow ordering the grouping
            // columns too (the caller's own rows only, under RLS).
            if (table?.groupBy.includes(attributeName)) rules.push("+orderBy +attribute:groupBy");
            if (table?.condition.includes(attributeName)) rules.push("+filterBy");
            return rules as any;
          },
        },
      },
    },
  },
};

/** Add to the PostGraphile preset's `extends`. */
export const PayTrustAggregatesPreset: GraphileConfig.Preset = {
  extends: [PgAggregatesPreset],
  plugins: [PayTrustAggregatesBehaviorPlugin],
};
