/**
 * Analyst logins: a PostgreSQL LOGIN role per analyst, member of
 * paytrust_analyst (SELECT on the paytrust_reporting views, nothing else),
 * for psql, BI tools or notebooks. Used by `paytrust create-analyst NAME`.
 *
 * What the login cannot lift (docs/reliability.md, "Analyst logins"):
 * - read-only by grants: SELECT on the reporting views, no TEMP on the
 *   database (taken from PUBLIC here), no large objects, no schema to create
 *   in; `default_transaction_read_only` is only a convenience;
 * - statement and idle-in-transaction timeouts: set on the role AND recorded
 *   in paytrust_private.analyst_limits, which the worker enforces
 *   (enforce_analyst_limits) whatever the session SETs;
 * - a connection limit (a role attribute: changing it needs CREATEROLE);
 * - no pg_notify and no advisory locks (EXECUTE revoked from PUBLIC).
 * Running it again for an existing analyst issues a new password (the old one
 * stops working).
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PayTrustError } from "../errors.ts";
import { ROLES, withCredentials, withDatabase } from "./bootstrap.ts";

export interface AnalystLogin {
  user: string;
  password: string;
  connectionString: string;
}

/** Lower-case letters, digits and underscores; starts with a letter; at most 63 bytes. */
export const ANALYST_NAME = /^[a-z][a-z0-9_]{0,62}$/;

const quoteIdent = (value: string) => `"${value.replace(/"/g, '""')}"`;
const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

/**
 * Creates (or re-keys) the analyst login `name` for database `databaseName`.
 * `rootUrl` must be a superuser (or CREATEROLE + ADMIN OPTION on
 * paytrust_analyst) connection to any database of the cluster.
 */
export async function createAnalyst(
  rootUrl: string,
  databaseName: string,
  name: string,
  options: {
    statementTimeout?: string;
    idleInTransactionTimeout?: string;
    connectionLimit?: number;
  } = {},
): Promise<AnalystLogin> {
  const user = name.trim().toLowerCase();
  if (!ANALYST_NAME.test(user) || user.startsWith("pg_") || user.startsWith("paytrust_")) {
    throw new PayTrustError(
      "PTVAL",
      `"${name}" is not a valid analyst name: use lower-case letters, digits and underscores, ` +
        "starting with a letter (not pg_ or paytrust_)",
    );
  }
  const password = randomBytes(24).toString("base64url");
  const statementTimeout = options.statementTimeout ?? "60s";
  const idleTimeout = options.idleInTransactionTimeout ?? "60s";
  const connectionLimit = options.connectionLimit ?? 5;

  const client = new pg.Client({ connectionString: withDatabase(rootUrl, databaseName) });
  await client.connect();
  try {
    // Both limits as milliseconds, parsed by PostgreSQL itself ("60s", "5min", "30000").
    const limitMs: Record<string, number> = {};
    for (const [setting, value] of [
      ["statement_timeout", statementTimeout],
      ["idle_in_transaction_session_timeout", idleTimeout],
    ] as const) {
      await client.query("select set_config($1, $2, false)", [setting, value]).catch(() => {
        throw new PayTrustError("PTVAL", `${setting} "${value}" is not a valid duration`);
      });
      const { rows } = await client.query<{ ms: string }>(
        "select setting as ms from pg_settings where name = $1",
        [setting],
      );
      await client.query(`reset ${setting}`);
      limitMs[setting] = Number(rows[0].ms);
      if (!(limitMs[setting] > 0)) {
        throw new PayTrustError("PTVAL", `${setting} must be more than 0 for an analyst`);
      }
    }
    const group = await client.query("select 1 from pg_roles where rolname = $1", [ROLES.analyst]);
    if (!group.rowCount) {
      throw new PayTrustError(
        "PTDB",
        `Role ${ROLES.analyst} does not exist: run paytrust migrate first`,
      );
    }
    await client.query("begin");
    // Roles are cluster-wide: serialise with other bootstraps (ensureRoles uses the same lock).
    await client.query("select pg_advisory_xact_lock(hashtext('paytrust.ensure_roles'))");
    const { rows } = await client.query<{
      rolcanlogin: boolean;
      rolsuper: boolean;
      analyst: boolean;
      other_member_of: number;
    }>(
      `select r.rolcanlogin, r.rolsuper,
              pg_has_role(r.oid, $2, 'MEMBER') as analyst,
              (select count(*)::int from pg_auth_members m join pg_roles g on g.oid = m.roleid
                where m.member = r.oid and g.rolname <> $2) as other_member_of
         from pg_roles r where r.rolname = $1`,
      [user, ROLES.analyst],
    );
    const existing = rows[0];
    const attributes = `login inherit nosuperuser nocreatedb nocreaterole noreplication nobypassrls connection limit ${connectionLimit}`;
    if (!existing) {
      await client.query(
        `create role ${quoteIdent(user)} with ${attributes} password ${quoteLiteral(password)}`,
      );
      await client.query(`grant ${ROLES.analyst} to ${quoteIdent(user)}`);
    } else if (
      existing.rolcanlogin &&
      !existing.rolsuper &&
      existing.analyst &&
      existing.other_member_of === 0
    ) {
      // An analyst login already: issue a new password.
      await client.query(
        `alter role ${quoteIdent(user)} with ${attributes} password ${quoteLiteral(password)}`,
      );
    } else {
      throw new PayTrustError(
        "PTDUP",
        `A role named "${user}" already exists and is not an analyst login`,
      );
    }
    await client.query(
      `grant connect on database ${quoteIdent(databaseName)} to ${quoteIdent(user)}`,
    );
    // TEMP is PUBLIC's by default: analysts could write (and fill) temporary
    // tables even with read-only transactions. The PayTrust roles keep it.
    await client.query(`revoke temporary on database ${quoteIdent(databaseName)} from public`);
    await client.query(
      `grant temporary on database ${quoteIdent(databaseName)} to ${ROLES.authenticator}, ${ROLES.tenant}, ${ROLES.admin}, ${ROLES.runtime}`,
    );
    // The limits enforce_analyst_limits() applies, out of the analyst's reach.
    await client.query(
      `insert into paytrust_private.analyst_limits (role_name, statement_timeout, idle_in_transaction_timeout)
       values ($1, make_interval(secs => $2::numeric / 1000), make_interval(secs => $3::numeric / 1000))
       on conflict (role_name) do update
         set statement_timeout = excluded.statement_timeout,
             idle_in_transaction_timeout = excluded.idle_in_transaction_timeout, updated_at = now()`,
      [user, limitMs.statement_timeout, limitMs.idle_in_transaction_session_timeout],
    );
    for (const [setting, value] of [
      ["search_path", "paytrust_reporting"],
      ["default_transaction_read_only", "on"],
      ["statement_timeout", `${limitMs.statement_timeout}ms`],
      ["idle_in_transaction_session_timeout", `${limitMs.idle_in_transaction_session_timeout}ms`],
      // reports sort and hash a lot of rows: keep them in memory
      ["work_mem", "64MB"],
    ]) {
      await client.query(
        `alter role ${quoteIdent(user)} in database ${quoteIdent(databaseName)} set ${setting} = ${quoteLiteral(value)}`,
      );
    }
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
  return {
    user,
    password,
    connectionString: withCredentials(withDatabase(rootUrl, databaseName), user, password),
  };
}
