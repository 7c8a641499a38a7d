/**
 * GraphQL query limits, enforced BEFORE PostGraphile plans or executes anything:
 * an Express middleware mounted on /graphql in front of grafserv.
 *
 * - Body size: the body is read here with a byte limit; a bigger one ends in the
 *   app's error handler as 413 PTSIZE (grafserv's own maxRequestLength is then
 *   never reached, but stays as a second fence for other mounts).
 * - Malformed JSON: 400 PTBODY here, in the same JSON error shape as the rest of
 *   the API, instead of whatever the GraphQL server makes of it.
 * - Depth: the deepest chain of fields, fragments expanded (a fragment cannot
 *   hide depth). Inside introspection (__schema, __type) `ofType` does not
 *   count: it is a chain that cannot branch, and the standard introspection
 *   query (GraphiQL, codegen) needs about eight of them.
 * - Fields (`maxCost`): the number of field selections once fragments are
 *   expanded, so aliases (`a1: invoices {…} a2: invoices {…}`) and fragment
 *   fan-out ("fragment bombs") count every time they are used.
 * - Rows (`maxRowCost`): the worst-case size of the response. Every field
 *   counts once per row it can appear in: a connection's `nodes`/`edges` hold
 *   its `first`/`last` rows, or PAGE_SIZE without them (connectionLimits.ts
 *   applies that default page), any other list of objects PAGE_SIZE, and
 *   nested lists multiply. Aliases, fragments and every document of a batch
 *   count. Introspection lists count once (the schema is not data).
 * - Pages: `first`/`last` above PAGE_SIZE (or below 0), literal or in variables, are refused.
 * - Tokens: graphql-js stops parsing a document with more tokens than this,
 *   so a huge document costs little even before depth and cost are measured.
 * Refusals are 400 with code PTQRY and say which limit was hit.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  parse,
  type SelectionSetNode,
  type ValueNode,
} from "postgraphile/graphql";
import { sendError } from "../http/errors.ts";
import { PAGE_SIZE } from "./connectionLimits.ts";

export interface QueryLimits {
  /** Deepest allowed chain of fields (fragments expanded). */
  maxDepth: number;
  /** Most field selections allowed, fragments expanded, aliases counted. */
  maxCost: number;
  /** Largest worst-case response: Σ over fields of the rows each can appear in. */
  maxRowCost: number;
  /** graphql-js parser token limit. */
  maxTokens: number;
  /** Request body limit in bytes. */
  maxBodyBytes: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 10,
  maxCost: 500,
  maxRowCost: 50_000,
  maxTokens: 10_000,
  maxBodyBytes: 1_000_000,
};

export interface QueryMeasure {
  depth: number;
  cost: number;
  /** Worst-case number of values in the response (lists multiplied). */
  rowCost: number;
  /** The first `first`/`last` above PAGE_SIZE, if any. */
  pageError?: string;
}

/** Why a document is refused, or null when it is within the limits (or not parseable: the server says why). */
export type LimitVerdict =
  | { ok: true; measure: QueryMeasure | null }
  | { ok: false; message: string };

const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);
const META_FIELDS = new Set(["__typename", "__schema", "__type"]);

/** The value of an Int argument: literal or variable; undefined when absent or null. */
function intValue(
  node: ValueNode | undefined,
  variables: Record<string, unknown>,
  defaults: Map<string, ValueNode>,
): number | undefined {
  if (!node) return undefined;
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) {
    const name = node.name.value;
    const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (value === undefined) return intValue(defaults.get(name), {}, new Map());
    return typeof value === "number" ? value : undefined;
  }
  return undefined;
}

/** A connection type: PostGraphile's `XConnection { nodes edges pageInfo }`. */
function isConnectionType(type: GraphQLNamedType | null | undefined): boolean {
  return isObjectType(type) && "pageInfo" in type.getFields();
}

/**
 * Depth, field count and worst-case rows of every operation in a document.
 * Stops counting as soon as one passes its limit, so a fragment bomb is
 * refused without being expanded; fragment cycles (invalid GraphQL anyway)
 * count as too deep. Without a schema, `nodes`/`edges` are the only lists.
 */
export function measureDocument(
  document: DocumentNode,
  limits: Pick<QueryLimits, "maxDepth" | "maxCost"> & Partial<Pick<QueryLimits, "maxRowCost">>,
  schema?: GraphQLSchema | null,
  variableValues?: unknown,
): QueryMeasure {
  const maxRowCost = limits.maxRowCost ?? Number.POSITIVE_INFINITY;
  const variables =
    variableValues && typeof variableValues === "object"
      ? (variableValues as Record<string, unknown>)
      : {};
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  let cost = 0;
  let depth = 0;
  let rowCost = 0;
  let pageError: string | undefined;
  let defaults = new Map<string, ValueNode>();
  const tooMuch = () =>
    cost > limits.maxCost || depth > limits.maxDepth || rowCost > maxRowCost || !!pageError;

  const typeNamed = (name: string | undefined, fallback: GraphQLNamedType | null) =>
    (name && schema?.getType(name)) || fallback;

  const walk = (
    set: SelectionSetNode,
    parentType: GraphQLNamedType | null,
    level: number,
    introspection: boolean,
    path: Set<string>,
    rows: number,
    page: number,
  ): void => {
    for (const selection of set.selections) {
      if (tooMuch()) return;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const inIntrospection = introspection || INTROSPECTION_ROOTS.has(name);
        const next = inIntrospection && name === "ofType" ? level : level + 1;
        cost += 1;
        rowCost += rows;
        depth = Math.max(depth, next);
        // This field's own page, when it takes first/last (a connection or a paged list).
        let ownPage = PAGE_SIZE;
        for (const argName of ["first", "last"] as const) {
          const arg = selection.arguments?.find((a) => a.name.value === argName);
          const value = intValue(arg?.value, variables, defaults);
          if (value === undefined) continue;
          if ((value > PAGE_SIZE || value < 0) && !pageError) {
            pageError = `\`${argName}: ${value}\` on \`${name}\`: a page holds 0 to ${PAGE_SIZE} rows (at most ${PAGE_SIZE} rows per page)`;
          }
          ownPage = Math.min(ownPage, Math.max(0, value));
        }
        if (!selection.selectionSet) continue;
        let fieldType: GraphQLNamedType | null = null;
        let listSize = 1;
        if (schema && (isObjectType(parentType) || isInterfaceType(parentType))) {
          const def: GraphQLField<unknown, unknown> | undefined = META_FIELDS.has(name)
            ? undefined
            : parentType.getFields()[name];
          if (name === "__schema") fieldType = schema.getType("__Schema") ?? null;
          else if (name === "__type") fieldType = schema.getType("__Type") ?? null;
          if (def) {
            fieldType = getNamedType(def.type);
            const isList = isListType(getNullableType(def.type));
            if (isList && isCompositeType(fieldType) && !inIntrospection) {
              const connectionList =
                (name === "nodes" || name === "edges") && isConnectionType(parentType);
              listSize = connectionList ? page : ownPage;
            }
          } else if (!fieldType) {
            continue; // unknown field: validation reports it
          }
        } else if (!schema && (name === "nodes" || name === "edges") && !inIntrospection) {
          listSize = page;
        }
        walk(
          selection.selectionSet,
          fieldType,
          next,
          inIntrospection,
          path,
          rows * listSize,
          ownPage,
        );
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = typeNamed(selection.typeCondition?.name.value, parentType);
        walk(selection.selectionSet, type, level, introspection, path, rows, page);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment) continue; // unknown fragment: validation reports it
        if (path.has(name)) {
          depth = Number.POSITIVE_INFINITY; // a cycle would be infinitely deep
          return;
        }
        path.add(name);
        const type = typeNamed(fragment.typeCondition.name.value, parentType);
        walk(fragment.selectionSet, type, level, introspection, path, rows, page);
        path.delete(name);
      }
    }
  };

  const rootType = (operation: OperationDefinitionNode): GraphQLNamedType | null => {
    if (!schema) return null;
    if (operation.operation === "mutation") return schema.getMutationType() ?? null;
    if (operation.operation === "subscription") return schema.getSubscriptionType() ?? null;
    return schema.getQueryType() ?? null;
  };

  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) {
      defaults = new Map();
      for (const v of definition.variableDefinitions ?? []) {
        if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
      }
      walk(definition.selectionSet, rootType(definition), 0, false, new Set(), 1, PAGE_SIZE);
    }
    if (tooMuch()) break;
  }
  return { depth, cost, rowCost, pageError };
}

/** A parsed document, or the verdict when it cannot be measured (too many tokens, or a syntax error). */
type Parsed = { document: DocumentNode } | { verdict: LimitVerdict };

function parseLimited(query: string, maxTokens: number): Parsed {
  try {
    return { document: parse(query, { noLocation: true, maxTokens }) };
  } catch (error) {
    // graphql-js: "Document contains more that N tokens. Parsing aborted." (sic)
    if (error instanceof GraphQLError && /tokens\. Parsing aborted/.test(error.message)) {
      return { verdict: { ok: false, message: `The query has more than ${maxTokens} tokens` } };
    }
    // A syntax error: let the GraphQL server report it with its position.
    return { verdict: { ok: true, measure: null } };
  }
}

/** The verdict on one measured document. */
export function verdictOf(measure: QueryMeasure, limits: QueryLimits): LimitVerdict {
  if (measure.depth > limits.maxDepth) {
    return { ok: false, message: `The query is nested deeper than ${limits.maxDepth} levels` };
  }
  if (measure.cost > limits.maxCost) {
    return {
      ok: false,
      message: `The query selects more than ${limits.maxCost} fields (aliases and fragments counted)`,
    };
  }
  if (measure.pageError) return { ok: false, message: measure.pageError };
  if (measure.rowCost > limits.maxRowCost) {
    return {
      ok: false,
      message: `The query could return more than ${limits.maxRowCost} values (each field counted once per row it can appear in; a connection without \`first\` counts ${PAGE_SIZE} rows): ask for smaller pages with \`first\``,
    };
  }
  return { ok: true, measure };
}

/** Checks one GraphQL document text (and its variables) against the limits. */
export function checkQuery(
  query: string,
  limits: QueryLimits,
  schema?: GraphQLSchema | null,
  variables?: unknown,
): LimitVerdict {
  const parsed = parseLimited(query, limits.maxTokens);
  if ("verdict" in parsed) return parsed.verdict;
  return verdictOf(measureDocument(parsed.document, limits, schema, variables), limits);
}

export interface GraphQLRequestParams {
  query: unknown;
  variables: unknown;
}

/** The GraphQL request(s) in a body: JSON (single or batched), application/graphql text, or ?query=&variables=. */
export function requestsOf(
  contentType: string,
  body: unknown,
  queryParams: Record<string, unknown> | undefined,
): GraphQLRequestParams[] {
  const requests: GraphQLRequestParams[] = [];
  if (typeof queryParams?.query === "string") {
    let variables: unknown;
    try {
      variables =
        typeof queryParams.variables === "string" ? JSON.parse(queryParams.variables) : undefined;
    } catch {
      variables = undefined; // grafserv refuses malformed variables itself
    }
    requests.push({ query: queryParams.query, variables });
  }
  if (contentType === "application/graphql" && typeof body === "string")
    requests.push({ query: body, variables: undefined });
  for (const request of Array.isArray(body) ? body : [body]) {
    if (request && typeof request === "object" && "query" in request)
      requests.push({ query: request.query, variables: (request as any).variables });
  }
  return requests;
}

/** The GraphQL document(s) in a request (see requestsOf). */
export function queriesOf(contentType: string, body: unknown, queryParam: unknown): unknown[] {
  return requestsOf(contentType, body, { query: queryParam }).map((r) => r.query);
}

function mediaType(req: Request): string {
  return String(req.headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
}

/** Clients send the same few documents over and over: remember each parse (bounded). */
const PARSE_CACHE_SIZE = 500;

/** The schema the documents are measured against (PostGraphile's, which can change in watch mode). */
export type SchemaSource = () => GraphQLSchema | PromiseLike<GraphQLSchema> | null | undefined;

/**
 * The middleware chain for POST/GET /graphql. Mount it after authentication
 * (an anonymous client never gets its body read) and before grafserv. With
 * `schema`, lists are known by their types (connections, lists of objects);
 * without it, only `nodes`/`edges` multiply.
 */
export function queryLimits(limits: QueryLimits = DEFAULT_QUERY_LIMITS, schema?: SchemaSource) {
  const parsedQueries = new Map<string, Parsed>();
  const cachedParse = (query: string): Parsed => {
    let parsed = parsedQueries.get(query);
    if (!parsed) {
      parsed = parseLimited(query, limits.maxTokens);
      if (parsedQueries.size >= PARSE_CACHE_SIZE) parsedQueries.clear();
      parsedQueries.set(query, parsed);
    }
    return parsed;
  };
  // Raw text whatever the content type: the limit applies to every body, and
  // grafserv still sees the exact request (a parsed object for JSON).
  const readBody = express.text({ type: () => true, limit: limits.maxBodyBytes });
  const check = async (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "POST" && req.method !== "GET") return next();
    const type = mediaType(req);
    let body: unknown = req.body;
    if (req.method === "POST" && type === "application/json") {
      if (typeof body !== "string" || body.trim() === "") {
        return sendError(res, 400, "PTBODY", "Empty request body: send a JSON GraphQL request");
      }
      try {
        body = JSON.parse(body);
      } catch {
        return sendError(res, 400, "PTBODY", "Malformed JSON in the request body");
      }
      if (body === null || typeof body !== "object") {
        return sendError(res, 400, "PTBODY", "The request body must be a JSON object");
      }
      // grafserv takes an object body as already-parsed JSON.
      req.body = body;
    }
    const requests = requestsOf(type, body, req.query as Record<string, unknown>);
    let currentSchema: GraphQLSchema | null = null;
    if (schema && requests.length > 0) {
      try {
        currentSchema = (await schema()) ?? null;
      } catch {
        currentSchema = null; // the schema failed to build: grafserv reports that itself
      }
    }
    let rowCost = 0;
    for (const { query, variables } of requests) {
      if (typeof query !== "string") continue; // grafserv refuses a non-string query itself
      const parsed = cachedParse(query);
      if ("verdict" in parsed) {
        if (!parsed.verdict.ok) return sendError(res, 400, "PTQRY", parsed.verdict.message);
        continue;
      }
      const measure = measureDocument(parsed.document, limits, currentSchema, variables);
      const verdict = verdictOf(measure, limits);
      if (!verdict.ok) return sendError(res, 400, "PTQRY", verdict.message);
      // A batch is one response: its documents share the budget.
      rowCost += measure.rowCost;
      if (rowCost > limits.maxRowCost) {
        return sendError(
          res,
          400,
          "PTQRY",
          `The batch could return more than ${limits.maxRowCost} values: send fewer or smaller documents`,
        );
      }
    }
    next();
  };
  return [readBody, check];
}

/**
 * The same limits for documents that arrive over websockets (graphql-transport-ws
 * `subscribe` messages never pass the Express middleware): measured after
 * grafserv parsed and validated them, before anything is planned.
 */
export function makeWebsocketLimitsPlugin(
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): GraphileConfig.Plugin {
  return {
    name: "PayTrustWebsocketQueryLimitsPlugin",
    version: "1.0.0",
    grafserv: {
      middleware: {
        async onSubscribe(next) {
          const result = await next();
          if (!result || Array.isArray(result)) return result;
          const args = result as {
            document: DocumentNode;
            schema: GraphQLSchema;
            variableValues?: unknown;
          };
          const verdict = verdictOf(
            measureDocument(args.document, limits, args.schema, args.variableValues),
            limits,
          );
          if (verdict.ok) return result;
          return [new GraphQLError(verdict.message, { extensions: { code: "PTQRY" } })];
        },
      },
    },
  };
}
