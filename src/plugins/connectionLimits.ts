/**
 * Every connection pages: without `first` or `last` a connection returns its
 * first PAGE_SIZE rows (`pageInfo.hasNextPage` says when there are more), and
 * `first`/`last` above PAGE_SIZE (or negative) are refused with PTQRY.
 *
 * PostGraphile's connection fields plan a grafast ConnectionStep and apply
 * `first`/`last` through their arguments' `applyPlan`. This plugin wraps the
 * connection fields' plans: the wrapped plan sets `first` (the client's value,
 * or PAGE_SIZE when neither `first` nor `last` is given) and `last` itself,
 * each through a check that refuses values above PAGE_SIZE, and the two
 * arguments' own `applyPlan`s stand aside for the steps it handled. The HTTP
 * layer (queryLimits.ts) refuses literal and variable values above the page
 * before anything runs; the check here is the fence for every other way in.
 */
import { ConnectionStep, ConstantStep, constant, lambda, type Step } from "postgraphile/grafast";
import { PayTrustError } from "../errors.ts";

/** Rows per page: the default page and the largest `first`/`last` accepted. */
export const PAGE_SIZE = 100;

/** A refused page size: PTQRY, which maskError passes through as `extensions.code`. */
const queryLimitError = (message: string) => new PayTrustError("PTQRY", message);

function checkedPage(name: "first" | "last", value: unknown): number | null {
  if (value == null) return null;
  if (typeof value === "number" && (value > PAGE_SIZE || value < 0)) {
    throw queryLimitError(
      `\`${name}\` is ${value}: a page holds 0 to ${PAGE_SIZE} rows (at most ${PAGE_SIZE} rows per page)`,
    );
  }
  return value as number;
}

const firstOrDefault = ([first, last]: readonly unknown[]): number | null => {
  const page = checkedPage("first", first);
  if (page != null) return page;
  return checkedPage("last", last) == null ? PAGE_SIZE : null;
};
const checkedLast = (last: unknown): number | null => checkedPage("last", last);

/** Connection steps whose first/last this plugin applied. */
const bounded = new WeakSet<Step>();

type ApplyPlan = (parent: any, $target: any, input: any, info: any) => any;

export const ConnectionLimitsPlugin: GraphileConfig.Plugin = {
  name: "PayTrustConnectionLimitsPlugin",
  description: "Default page of 100 rows on every connection; first/last above 100 refused (PTQRY)",
  version: "1.0.0",
  after: ["PgFirstLastBeforeAfterArgsPlugin", "PgConnectionArgOrderByPlugin"],
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, _build, context) {
        if (!context.scope.isPgFieldConnection || typeof field.plan !== "function") return field;
        const plan = field.plan as (...args: any[]) => any;
        return {
          ...field,
          plan(this: unknown, $parent: any, fieldArgs: any, info: any) {
            const $connection = plan.call(this, $parent, fieldArgs, info);
            if (!($connection instanceof ConnectionStep)) return $connection;
            const argNames = new Set(
              (info?.field?.args ?? []).map((a: { name: string }) => a.name),
            );
            if (!argNames.has("first")) return $connection;
            const $first = fieldArgs.getRaw("first");
            const $last = argNames.has("last") ? fieldArgs.getRaw("last") : null;
            bounded.add($connection);
            // Literal (or absent) values are settled while planning: the SQL gets a constant limit.
            if (
              $first instanceof ConstantStep &&
              ($last === null || $last instanceof ConstantStep)
            ) {
              $connection.setFirst(constant(firstOrDefault([$first.data, $last?.data])));
              if ($last && $last.data != null)
                $connection.setLast(constant(checkedLast($last.data)));
              return $connection;
            }
            $connection.setFirst(
              lambda($last ? [$first, $last] : [$first], firstOrDefault) as Step<number>,
            );
            if ($last) $connection.setLast(lambda($last, checkedLast) as Step<number>);
            return $connection;
          },
        };
      },
      GraphQLObjectType_fields_field_args(args, build, context) {
        if (!context.scope.isPgFieldConnection) return args;
        for (const name of ["first", "last"] as const) {
          const arg = args[name];
          if (!arg) continue;
          const applyPlan = arg.applyPlan as ApplyPlan | undefined;
          args[name] = {
            ...arg,
            description: build.wrapDescription(
              name === "first"
                ? `Only read the first \`n\` values of the set (at most ${PAGE_SIZE}; without \`first\` or \`last\`, the first ${PAGE_SIZE}).`
                : `Only read the last \`n\` values of the set (at most ${PAGE_SIZE}).`,
              "arg",
            ),
            applyPlan: applyPlan
              ? (parent: any, $target: any, input: any, info: any) =>
                  bounded.has($target) ? undefined : applyPlan(parent, $target, input, info)
              : undefined,
          } as typeof arg;
        }
        return args;
      },
    },
  },
};
