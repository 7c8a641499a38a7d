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
 * - Cost: the number of field selections once fragments are expanded, so
 *   aliases (`a1: invoices {…} a2: invoices {…}`) and fragment fan-out
 *   ("fragment bombs") count every time they are used.
 * - Tokens: graphql-js stops parsing a document with more tokens than this,
 *   so a huge document costs little even before depth and cost are measured.
 * Refusals are 400 with code PTQRY and say which limit was hit.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  parse,
  type SelectionSetNode,
} from "postgraphile/graphql";
import { sendError } from "../auth/middleware.ts";

export interface QueryLimits {
  /** Deepest allowed chain of fields (fragments expanded). */
  maxDepth: number;
  /** Most field selections allowed, fragments expanded, aliases counted. */
  maxCost: number;
  /** graphql-js parser token limit. */
  maxTokens: number;
  /** Request body limit in bytes. */
  maxBodyBytes: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 10,
  maxCost: 500,
  maxTokens: 10_000,
  maxBodyBytes: 1_000_000,
};

export interface QueryMeasure {
  depth: number;
  cost: number;
}

/** Why a document is refused, or null when it is within the limits (or not parseable: the server says why). */
export type LimitVerdict =
  | { ok: true; measure: QueryMeasure | null }
  | { ok: false; message: string };

const INTROSPECTION_ROOTS = new Set(["__schema", "__type"]);

/**
 * Depth and cost of every operation in a document. Stops counting as soon as
 * either passes its limit, so a fragment bomb is refused without being
 * expanded; fragment cycles (invalid GraphQL anyway) count as too deep.
 */
export function measureDocument(
  document: DocumentNode,
  limits: Pick<QueryLimits, "maxDepth" | "maxCost">,
): QueryMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  let cost = 0;
  let depth = 0;
  const tooMuch = () => cost > limits.maxCost || depth > limits.maxDepth;

  const walk = (
    set: SelectionSetNode,
    level: number,
    introspection: boolean,
    path: Set<string>,
  ): void => {
    for (const selection of set.selections) {
      if (tooMuch()) return;
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        const inIntrospection = introspection || INTROSPECTION_ROOTS.has(name);
        const next = inIntrospection && name === "ofType" ? level : level + 1;
        cost += 1;
        depth = Math.max(depth, next);
        if (selection.selectionSet) walk(selection.selectionSet, next, inIntrospection, path);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, level, introspection, path);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment) continue; // unknown fragment: validation reports it
        if (path.has(name)) {
          depth = Number.POSITIVE_INFINITY; // a cycle would be infinitely deep
          return;
        }
        path.add(name);
        walk(fragment.selectionSet, level, introspection, path);
        path.delete(name);
      }
    }
  };

  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION)
      walk(definition.selectionSet, 0, false, new Set());
    if (tooMuch()) break;
  }
  return { depth, cost };
}

/** Checks one GraphQL document text against the limits. */
export function checkQuery(query: string, limits: QueryLimits): LimitVerdict {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true, maxTokens: limits.maxTokens });
  } catch (error) {
    // graphql-js: "Document contains more that N tokens. Parsing aborted." (sic)
    if (error instanceof GraphQLError && /tokens\. Parsing aborted/.test(error.message)) {
      return { ok: false, message: `The query has more than ${limits.maxTokens} tokens` };
    }
    // A syntax error: let the GraphQL server report it with its position.
    return { ok: true, measure: null };
  }
  const measure = measureDocument(document, limits);
  if (measure.depth > limits.maxDepth) {
    return { ok: false, message: `The query is nested deeper than ${limits.maxDepth} levels` };
  }
  if (measure.cost > limits.maxCost) {
    return {
      ok: false,
      message: `The query selects more than ${limits.maxCost} fields (aliases and fragments counted)`,
    };
  }
  return { ok: true, measure };
}

/** The GraphQL document(s) in a request: JSON body (single or batched), application/graphql text, or ?query=. */
export function queriesOf(contentType: string, body: unknown, queryParam: unknown): unknown[] {
  const queries: unknown[] = [];
  if (typeof queryParam === "string") queries.push(queryParam);
  if (contentType === "application/graphql" && typeof body === "string") queries.push(body);
  const requests = Array.isArray(body) ? body : [body];
  for (const request of requests) {
    if (request && typeof request === "object" && "query" in request) queries.push(request.query);
  }
  return queries;
}

function mediaType(req: Request): string {
  return String(req.headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
}

/**
 * The middleware chain for POST/GET /graphql. Mount it after authentication
 * (an anonymous client never gets its body read) and before grafserv.
 */
/** Clients send the same few documents over and over: remember each verdict (bounded). */
const VERDICT_CACHE_SIZE = 500;

export function queryLimits(limits: QueryLimits = DEFAULT_QUERY_LIMITS) {
  const verdicts = new Map<string, LimitVerdict>();
  const cachedCheck = (query: string): LimitVerdict => {
    let verdict = verdicts.get(query);
    if (!verdict) {
      verdict = checkQuery(query, limits);
      if (verdicts.size >= VERDICT_CACHE_SIZE) verdicts.clear();
      verdicts.set(query, verdict);
    }
    return verdict;
  };
  // Raw text whatever the content type: the limit applies to every body, and
  // grafserv still sees the exact request (a parsed object for JSON).
  const readBody = express.text({ type: () => true, limit: limits.maxBodyBytes });
  const check = (req: Request, res: Response, next: NextFunction) => {
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
    for (const query of queriesOf(type, body, req.query?.query)) {
      if (typeof query !== "string") continue; // grafserv refuses a non-string query itself
      const verdict = cachedCheck(query);
      if (!verdict.ok) return sendError(res, 400, "PTQRY", verdict.message);
    }
    next();
  };
  return [readBody, check];
}
