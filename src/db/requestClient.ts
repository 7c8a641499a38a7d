/**
 * The pg client of PostGraphile's pool: fewer round trips per GraphQL request.
 *
 * @dataplan/pg runs every request that has pgSettings as four statements, each
 * awaited before the next: `begin`; `select set_config(el->>0, el->>1, true)
 * from json_array_elements($1::json) el`; the operation; `commit`. It has no
 * option to send them together (adaptors/pg.js, 1.x), but it takes any
 * `pg.Pool`, and a pool takes its client class (`new Pool({ Client })`). This
 * client runs in pg's pipeline mode (`pipeline: true`: statements are written
 * without waiting for the previous one's answer, each still its own Sync) and:
 *
 * - holds back a bare `begin` and the settings statement (both answered at
 *   once, as @dataplan/pg only awaits them) and writes them in FRONT of the
 *   next statement, in the same socket write: `begin; select set_config(...)
 *   from json_array_elements('<json>'::json) el` as one simple-protocol query
 *   (the JSON escaped with escapeLiteral), then the operation. The server runs
 *   them in order, so the operation sees the settings; the client waits once.
 *   A `commit`/`rollback` with nothing in between sends nothing (no
 *   transaction was opened);
 * - answers the operation with the settings' error when the settings failed
 *   (the operation then fails with 25P02 inside the aborted transaction, and the
 *   adaptor's `rollback` closes it), so errors read as before;
 * - prepares the operations @dataplan/pg leaves unnamed (mutations: its
 *   executeMutation passes no statement name; queries are named and prepared by
 *   @dataplan/pg itself): a statement in row-array mode with parameters gets
 *   the name `pt_<sha1 of its text>`, so the server parses and plans it once
 *   per connection. At most MAX_PREPARED per connection (then unnamed, never
 *   deallocated); `DATAPLAN_PG_PREPARED_STATEMENT_CACHE_SIZE=0` (the
 *   @dataplan/pg switch for poolers without prepared statements) turns it off.
 *
 * Per createInvoice: 2 round trips instead of 4 (the operation with its begin
 * and settings; the commit). Pipeline mode refuses cursors (pg-cursor, `rows`),
 * which nothing on this pool uses.
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
  /** A bare `begin` held back; with `pendingSettings`, the settings JSON held back too. */
  private beginPending = false;
  private pendingSettings: string | null = null;
  private prepared = new Map<string, string>();

  constructor(config?: string | pg.ClientConfig) {
    super({
      ...(typeof config === "string" ? { connectionString: config } : config),
      pipeline: true,
    } as pg.ClientConfig);
  }

  // pg's query() has many overloads; only the promise form with a config object is changed.
  query(config: any, values?: any, callback?: any): any {
    if (callback !== undefined || typeof values === "function" || typeof config !== "object")
      return this.flushThen(() => super.query(config, values, callback));
    if (isBare(config, "begin") && values === undefined && !this.beginPending) {
      this.beginPending = true;
      return Promise.resolve(emptyResult("BEGIN"));
    }
    if (!this.beginPending) return super.query(this.named(config) as any, values);
    if ((isBare(config, "commit") || isBare(config, "rollback")) && values === undefined) {
      // Nothing ran since the begin: no transaction was opened, nothing to close.
      this.beginPending = false;
      this.pendingSettings = null;
      return Promise.resolve(emptyResult(config.text.toUpperCase()));
    }
    const settings = settingsJson(config, values);
    if (settings !== null && this.pendingSettings === null) {
      this.pendingSettings = settings;
      return Promise.resolve(emptyResult("SELECT"));
    }
    return this.sendOpening(() => super.query(this.named(config) as any, values));
  }

  /**
   * Writes the held-back begin (and settings) and then `next` in one socket
   * write, pipelined; resolves as `next` does, or rejects with the opening's
   * error when the opening failed.
   */
  private sendOpening(next: () => Promise<any>): Promise<any> {
    const opening =
      this.pendingSettings === null
        ? "begin"
        : `begin; select set_config(el->>0, el->>1, true) from json_array_elements(${this.escapeLiteral(this.pendingSettings)}::json) el`;
    this.beginPending = false;
    this.pendingSettings = null;
    const stream = (this as any).connection?.stream;
    stream?.cork?.();
    let opened: Promise<unknown>;
    let result: Promise<any>;
    try {
      opened = super.query(opening);
      result = next();
    } finally {
      stream?.uncork?.();
    }
    return opened.then(
      () => result,
      (error) => {
        result.catch(() => {});
        throw error;
      },
    );
  }

  /**
   * Forgets a held-back opening. makePool calls it when the client goes back to
   * the pool, so a caller that never sent its commit cannot hand its begin and
   * settings (its role and tenant) to the next user of the connection.
   */
  discardHeldBack(): void {
    this.beginPending = false;
    this.pendingSettings = null;
  }

  /** A callback-style query while a begin is held back: send the opening first. */
  private flushThen(run: () => any): any {
    if (!this.beginPending) return run();
    let returned: any;
    this.sendOpening(() => {
      returned = run();
      return Promise.resolve(returned);
    }).catch(() => {});
    return returned;
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
