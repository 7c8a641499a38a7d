/**
 * The pg client of PostGraphile's pool: fewer round trips per GraphQL request.
 *
 * @dataplan/pg runs every request that has pgSettings as four statements, each
 * its own round trip: `begin`; `select set_config(el->>0, el->>1, true) from
 * json_array_elements($1::json) el`; the operation; `commit`. It has no option
 * to send `begin` with the settings (adaptors/pg.js, 1.x), but it takes any
 * `pg.Pool`, and a pool takes its client class (`new Pool({ Client })`). This
 * client:
 *
 * - holds back a bare `begin` and sends it with the next statement: when that
 *   is the settings statement, both go as ONE simple-protocol query
 *   (`begin; select set_config(...) from json_array_elements('<json>'::json) el`,
 *   the JSON escaped with escapeLiteral); any other statement gets its `begin`
 *   in front as before; a `commit`/`rollback` with nothing in between sends
 *   nothing (no transaction was opened);
 * - prepares the operations @dataplan/pg leaves unnamed (mutations: its
 *   executeMutation passes no statement name; queries are named and prepared by
 *   @dataplan/pg itself): a statement in row-array mode with parameters gets
 *   the name `pt_<sha1 of its text>`, so the server parses and plans it once
 *   per connection. At most MAX_PREPARED per connection (then unnamed, never
 *   deallocated); `DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE=0` (the
 *   @dataplan/pg switch for poolers without prepared statements) turns it off.
 *
 * Per createInvoice: 3 round trips instead of 4. Errors behave as before: a
 * failing settings statement fails inside the opened transaction, and the
 * adaptor's `rollback` closes it.
 */
import { createHash } from "node:crypto";
import pg from "pg";

/** @dataplan/pg's settings statement (adaptors/pg.js), matched exactly. */
export const SET_SETTINGS_SQL =
  "select set_config(el->>0, el->>1, true) from json_array_elements($1::json) el";
const MAX_PREPARED = 100;
const PREPARE =
  process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE === undefined ||
  Number.parseInt(process.env.DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE, 10) !== 0;

type QueryConfig = { text?: string; values?: unknown[]; name?: string; rowMode?: string };

const emptyResult = (command: string) => ({
  command,
  rowCount: null,
  oid: 0,
  rows: [],
  fields: [],
});

const isBare = (config: unknown, text: string) =>
  typeof config === "object" &&
  config !== null &&
  (config as QueryConfig).text === text &&
  !(config as QueryConfig).values?.length;

export class RequestClient extends pg.Client {
  private beginPending = false;
  private prepared = new Map<string, string>();

  // pg's query() has many overloads; only the promise form with a config object is changed.
  query(config: any, values?: any, callback?: any): any {
    if (callback !== undefined || typeof values === "function" || typeof config !== "object")
      return this.flushThen(() => super.query(config, values, callback));
    if (isBare(config, "begin") && values === undefined && !this.beginPending) {
      this.beginPending = true;
      return Promise.resolve(emptyResult("BEGIN"));
    }
    if (this.beginPending) {
      this.beginPending = false;
      if ((isBare(config, "commit") || isBare(config, "rollback")) && values === undefined)
        return Promise.resolve(emptyResult(config.text.toUpperCase()));
      const settings = settingsJson(config, values);
      if (settings !== null)
        return super
          .query(
            `begin; select set_config(el->>0, el->>1, true) from json_array_elements(${this.escapeLiteral(settings)}::json) el`,
          )
          .then((results: any) => (Array.isArray(results) ? results[results.length - 1] : results));
      return super.query("begin").then(() => super.query(this.named(config) as any, values));
    }
    return super.query(this.named(config) as any, values);
  }

  /** A callback-style query while a begin is held back: send the begin first. */
  private flushThen(run: () => any): any {
    if (!this.beginPending) return run();
    this.beginPending = false;
    super.query("begin").catch(() => {});
    return run();
  }

  private named(config: QueryConfig): QueryConfig {
    if (
      !PREPARE ||
      config.name !== undefined ||
      config.rowMode !== "array" ||
      !config.values?.length ||
      typeof config.text !== "string"
    )
      return config;
    let name = this.prepared.get(config.text);
    if (name === undefined) {
      if (this.prepared.size >= MAX_PREPARED) return config;
      name = `pt_${createHash("sha1").update(config.text).digest("hex")}`;
      this.prepared.set(config.text, name);
    }
    return { ...config, name };
  }
}

/** The JSON of @dataplan/pg's settings statement, or null for any other statement. */
function settingsJson(config: QueryConfig, values: unknown): string | null {
  if (config.text !== SET_SETTINGS_SQL || values !== undefined) return null;
  const params = config.values;
  if (!Array.isArray(params) || params.length !== 1 || typeof params[0] !== "string") return null;
  return params[0];
}
