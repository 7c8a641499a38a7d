/**
 * The GraphQL schema as a client sees it, printed the way `schema.graphql`
 * stores it: built by PostGraphile from a migrated database with PayTrust's
 * own preset and plugins, types and fields sorted lexicographically (so the
 * file only changes when the API does).
 */
import pg from "pg";
import { makeSchema } from "postgraphile";
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from "postgraphile/graphql";
import { schemaPlugins } from "./index.ts";
import { makePreset } from "./preset.ts";

export interface BuiltSchema {
  schema: GraphQLSchema;
  resolvedPreset: GraphileConfig.ResolvedPreset;
  release(): Promise<void>;
}

/** PayTrust's schema built by PostGraphile from the database `authUrl` (the authenticator's connection). */
export async function buildSchema(authUrl: string): Promise<BuiltSchema> {
  const pool = new pg.Pool({ connectionString: authUrl, max: 2 });
  try {
    const { schema, resolvedPreset } = await makeSchema(
      makePreset({
        authPool: pool,
        port: 0,
        graphiql: false,
        plugins: schemaPlugins,
        publicBaseUrl: "http://127.0.0.1",
      }),
    );
    return { schema, resolvedPreset, release: () => pool.end() };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/** The schema as `schema.graphql` stores it: printed, sorted lexicographically. */
export function printSorted(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

/** Prints the schema PostGraphile builds from the database `authUrl`. */
export async function printLiveSchema(authUrl: string): Promise<string> {
  const built = await buildSchema(authUrl);
  try {
    return printSorted(built.schema);
  } finally {
    await built.release();
  }
}

/** A short, diff-like summary of how two printed schemas differ (lines only in one of them). */
export function schemaDiff(expected: string, actual: string, maxLines = 80): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  // Longest common subsequence on lines: schema files are a few thousand lines.
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while ((i < n || j < m) && out.length < maxLines) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(`- ${a[i]}   (line ${i + 1} of schema.graphql)`);
      i++;
    } else {
      out.push(`+ ${b[j]}   (line ${j + 1} of the live schema)`);
      j++;
    }
  }
  if (out.length >= maxLines) out.push("… (more differences)");
  return out.join("\n");
}
