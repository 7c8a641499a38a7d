/**
 * Introspection (the schema itself, not data) and GraphiQL for newcomers.
 *
 * - `PAYTRUST_INTROSPECTION` (config.introspection; on by default in
 *   development, off in production). On: documents that only introspect
 *   (`__schema`, `__type`; `__typename` beside them) are answered without an API key, so
 *   GraphiQL's docs and autocompletion work before a key is pasted; anything
 *   else still needs a key (401). Off: `__schema`/`__type` are refused for
 *   everyone (a validation error with code PTQRY).
 * - GraphiQL (Ruru) opens with a first query whose comment says how to get a
 *   key and where to put the `Authorization` header, and a headers template.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import {
  type ASTVisitor,
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  parse,
  type SelectionSetNode,
  type ValidationContext,
} from "postgraphile/graphql";

declare global {
  namespace Express {
    interface Request {
      /** The body holds only introspection documents and the schema is public: no key needed. */
      publicIntrospection?: boolean;
    }
  }
}

const INTROSPECTION_FIELDS = new Set(["__schema", "__type", "__typename"]);

/**
 * True when every operation of the document is a query selecting only __schema,
 * __type and __typename at its root, and at least one __schema or __type.
 */
export function documentIsIntrospectionOnly(document: DocumentNode): boolean {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  // Each fragment is judged once (a "fragment bomb" spreads the same ones 2^n times).
  const verdicts = new Map<string, boolean>();
  let schemaFields = 0;
  const onlyIntrospection = (set: SelectionSetNode): boolean =>
    set.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== "__typename") schemaFields++;
        return INTROSPECTION_FIELDS.has(selection.name.value);
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) return onlyIntrospection(selection.selectionSet);
      const name = selection.name.value;
      const known = verdicts.get(name);
      if (known !== undefined) return known;
      const fragment = fragments.get(name);
      if (!fragment) return false;
      verdicts.set(name, false); // a cycle is not introspection (and is invalid anyway)
      const verdict = onlyIntrospection(fragment.selectionSet);
      verdicts.set(name, verdict);
      return verdict;
    });
  let operations = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    operations++;
    if (definition.operation !== "query") return false;
    if (!onlyIntrospection(definition.selectionSet)) return false;
  }
  // `{ __typename }` alone is no introspection (clients use it to probe their key).
  return operations > 0 && schemaFields > 0;
}

/** The same for a document's text; false when it does not parse (the key is then required). */
export function isIntrospectionOnly(query: unknown): boolean {
  if (typeof query !== "string" || query.length > 100_000) return false;
  try {
    return documentIsIntrospectionOnly(parse(query, { noLocation: true, maxTokens: 10_000 }));
  } catch {
    return false;
  }
}

/**
 * Express middleware for POST /graphql, mounted before authentication: with a
 * public schema, reads a JSON body and marks the request when every document
 * in it only introspects (`req.publicIntrospection`); the authentication
 * middleware then lets it through without a key. Everything else goes on
 * untouched (the body, once read, is reused by queryLimits()).
 */
export function publicIntrospection(options: { enabled: boolean; maxBodyBytes: number }) {
  const readJson = express.text({ type: "application/json", limit: options.maxBodyBytes });
  return (req: Request, res: Response, next: NextFunction) => {
    if (!options.enabled || req.method !== "POST") return next();
    readJson(req, res, (error?: unknown) => {
      if (error) return next(error);
      if (typeof req.body === "string") {
        try {
          const body: unknown = JSON.parse(req.body);
          const requests = Array.isArray(body) ? body : [body];
          req.publicIntrospection =
            requests.length > 0 &&
            requests.every(
              (r) => r && typeof r === "object" && isIntrospectionOnly((r as any).query),
            );
        } catch {
          // Malformed JSON: the key is required, then queryLimits() answers PTBODY.
        }
      }
      next();
    });
  };
}

/** A validation rule refusing __schema and __type (introspection off). */
export function NoIntrospectionRule(context: ValidationContext): ASTVisitor {
  return {
    Field(node) {
      if (node.name.value === "__schema" || node.name.value === "__type") {
        context.reportError(
          new GraphQLError(
            "Introspection is disabled on this server (PAYTRUST_INTROSPECTION=false)",
            { nodes: node, extensions: { code: "PTQRY" } },
          ),
        );
      }
    },
  };
}

export const GRAPHIQL_QUERY = `# Welcome to PayTrust's GraphQL API.
#
# The schema (Docs, autocompletion) needs no key. Everything else does:
#   1. get a key:  npx paytrust create-tenant "My shop" --json
#   2. open "Headers" below and replace YOUR_API_KEY:
#        { "Authorization": "Bearer pt_live_..." }
#   3. run this query (Ctrl-Enter).
#
# Every list is a connection: at most 100 rows per page (first/after).
query MyInvoices {
  invoices(first: 10, orderBy: CREATED_AT_DESC) {
    nodes { id number status currency total amountPaid }
    pageInfo { hasNextPage endCursor }
  }
}
`;

/** Ruru (GraphiQL) settings: the first query explains keys, the headers editor has a template. */
export function graphiqlConfig(): GraphileConfig.Preset["ruru"] {
  const clientConfig = {
    defaultQuery: GRAPHIQL_QUERY,
    defaultHeaders: JSON.stringify({ Authorization: "Bearer YOUR_API_KEY" }, null, 2),
    isHeadersEditorEnabled: true,
  };
  // Ruru's types mark every GraphiQL prop as required; it takes any subset.
  return { clientConfig } as unknown as GraphileConfig.Preset["ruru"];
}

/** Refuses __schema/__type in every document grafserv validates (HTTP and websockets) when off. */
export function makeIntrospectionPlugin(enabled: boolean): GraphileConfig.Plugin {
  return {
    name: "PayTrustIntrospectionPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          if (!enabled) event.validationRules.push(NoIntrospectionRule);
          return next();
        },
      },
    },
  };
}
