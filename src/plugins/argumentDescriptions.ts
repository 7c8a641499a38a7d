/**
 * Descriptions for function arguments. PostgreSQL has no comment per argument
 * and PostGraphile 5.1 documents none, so the migrations put one smart tag per
 * argument in the function's comment:
 *
 *   comment on function paytrust_public.cancel_invoice(uuid) is
 *     E'@arg0description The invoice to cancel.\nCancels an invoice ...';
 *
 * N is the 0-based position of the SQL input argument (the row argument of a
 * computed column counts as 0). The text becomes the description of the GraphQL
 * argument (query fields, computed columns) or of the mutation input field.
 * The same tag name as upstream graphile/crystal#3168 (PostGraphile 5.2), so
 * this plugin can go once that ships. A description set elsewhere is kept.
 */
import type { PgResource } from "postgraphile/@dataplan/pg";

type AnyResource = PgResource<any, any, any, any, any>;

/** GraphQL argument name → description, from the resource's `@argNdescription` tags. */
function argumentDescriptions(
  build: GraphileBuild.Build,
  resource: AnyResource,
): Map<string, string> {
  const out = new Map<string, string>();
  const tags = (resource.extensions?.tags ?? {}) as Record<string, unknown>;
  const parameters = resource.parameters ?? [];
  parameters.forEach((param: any, index: number) => {
    const text = tags[`arg${index}description`];
    const description = Array.isArray(text) ? text.join("\n") : text;
    if (typeof description !== "string" || description.trim() === "") return;
    const name = build.inflection.argument({ param, resource, index } as any);
    out.set(name, description.trim());
  });
  return out;
}

function functionResources(build: GraphileBuild.Build): AnyResource[] {
  return Object.values(build.input.pgRegistry.pgResources).filter((r: any) =>
    Boolean(r.parameters),
  ) as AnyResource[];
}

/** "TypeName.fieldName" (query fields, computed columns) or "InputTypeName" (mutations) → resource. */
const indexes = new WeakMap<object, Map<string, AnyResource>>();
function indexOf(build: GraphileBuild.Build): Map<string, AnyResource> {
  let index = indexes.get(build);
  if (index) return index;
  index = new Map();
  const { inflection } = build;
  for (const resource of functionResources(build)) {
    try {
      if (resource.isMutation) {
        index.set(inflection.customMutationInput({ resource } as any), resource);
        continue;
      }
      index.set(`Query.${inflection.customQueryField({ resource } as any)}`, resource);
      const first = resource.parameters?.[0] as any;
      if (first?.codec?.attributes) {
        const typeName = inflection.tableType(first.codec);
        index.set(
          `${typeName}.${inflection.computedAttributeField({ resource } as any)}`,
          resource,
        );
      }
    } catch {
      // an inflector that does not apply to this resource: nothing to document
    }
  }
  indexes.set(build, index);
  return index;
}

export const ArgumentDescriptionsPlugin: GraphileConfig.Plugin = {
  name: "PayTrustArgumentDescriptionsPlugin",
  description: "Applies @argNdescription smart tags to function arguments and mutation inputs",
  version: "1.0.0",
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args(args, build, context) {
        const resource = indexOf(build).get(`${context.Self.name}.${context.scope.fieldName}`);
        if (!resource) return args;
        const descriptions = argumentDescriptions(build, resource);
        for (const [name, arg] of Object.entries(args)) {
          const description = descriptions.get(name);
          if (description && !arg.description) arg.description = description;
        }
        return args;
      },
      GraphQLInputObjectType_fields(fields, build, context) {
        if (!context.scope.isMutationInput) return fields;
        const resource = indexOf(build).get(context.Self.name);
        if (!resource) return fields;
        const descriptions = argumentDescriptions(build, resource);
        for (const [name, field] of Object.entries(fields)) {
          const description = descriptions.get(name);
          if (description && !field.description) field.description = description;
        }
        return fields;
      },
    },
  },
};
