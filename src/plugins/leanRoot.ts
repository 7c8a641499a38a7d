/**
 * A lean root: PostGraphile turns every unique key into a lookup
 * (`invoiceByIdAndTenantId`) and an update (`updateInvoiceByTenantIdAndIdempotencyKey`).
 * A key that includes `tenant_id` asks callers for their own tenant, which the
 * API already knows from the API key (RLS scopes every row to it): those keys
 * get no root field and no mutation. `invoice(id)`, `invoiceByNumber(number)`
 * and `invoiceByIdempotencyKey(idempotencyKey)` (SQL functions in the
 * migrations) cover what clients look up.
 *
 * A plugin rather than smart tags, so a unique key added by any later
 * migration follows the same rule.
 */
export const LeanRootPlugin: GraphileConfig.Plugin = {
  name: "PayTrustLeanRootPlugin",
  description: "No root lookups or mutations by unique keys that include tenant_id",
  version: "1.0.0",
  after: ["PgBasicsPlugin", "PgRowByUniquePlugin", "PgMutationUpdateDeletePlugin"],
  schema: {
    entityBehavior: {
      pgResourceUnique: {
        override: {
          after: ["default"],
          callback(behavior, [, unique]) {
            return unique.attributes.includes("tenant_id")
              ? [behavior, "-single", "-update", "-delete"]
              : behavior;
          },
        },
      },
    },
  },
};

/**
 * Relation names that read naturally: a foreign key from a column named like
 * the table it references (`invoices.currency → currencies`) would be called
 * `currencyByCurrency`; it is `currencyDetails` (the column keeps `currency`).
 * A `@fieldName` smart tag on the constraint still wins.
 */
export const RelationNamesPlugin: GraphileConfig.Plugin = {
  name: "PayTrustRelationNamesPlugin",
  description: "currencyByCurrency → currencyDetails",
  version: "1.0.0",
  after: ["PgSimplifyInflectionPlugin"],
  inflection: {
    replace: {
      singleRelation(previous, _options, details) {
        const name = previous!(details);
        const relation = details.registry.pgRelations[details.codec.name]?.[details.relationName];
        const [attribute, ...others] = relation?.localAttributes ?? [];
        if (attribute === undefined || others.length > 0) return name;
        const base = this.camelCase(attribute);
        return name === `${base}By${this.upperCamelCase(attribute)}` ? `${base}Details` : name;
      },
    },
  },
};
