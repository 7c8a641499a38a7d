/**
 * paytrust CLI: start | serve | worker | migrate | create-tenant NAME --json |
 * create-admin-key --json | create-analyst NAME. Errors print a code and exit non-zero.
 */
import { format } from "node:util";
import pg from "pg";
import { issueApiKey } from "./auth/apiKeys.ts";
import { type Config, loadConfig } from "./config.ts";
import { createAnalyst } from "./db/analyst.ts";
import { migrateDatabase } from "./db/bootstrap.ts";
import { type DatabaseUrls, resolveDatabase } from "./db/connection.ts";
import { PayTrustError } from "./errors.ts";
import { createLogger, isPretty, type Logger, lineLog } from "./logger.ts";
import { startRuntime } from "./runtime.ts";

const USAGE = `Usage: paytrust <command>
  start                     API + worker + sandbox gateways (embedded PostgreSQL without DATABASE_URL)
  serve                     API only
  worker                    worker only
  migrate                   run migrations and exit
  create-tenant NAME --json create a tenant and its first API key
  create-admin-key --json   create a platform admin API key
  create-analyst NAME       create a read-only analyst login for the reporting schema`;

/** Bad command-line usage: PTUSAGE, exit code 64. */
const usageError = (message: string) => new PayTrustError("PTUSAGE", message);

/**
 * The process's logger. One-shot commands log to stderr (their stdout is the
 * command's output, e.g. create-tenant --json); start/serve/worker log to stdout.
 */
function processLogger(config: Config, destination: NodeJS.WriteStream): Logger {
  return createLogger({ level: config.logLevel, format: config.logFormat, destination });
}

/** Libraries' console.error / console.warn (grafserv, pg) become log lines too. */
function routeConsole(logger: Logger): void {
  const log = logger.child({ component: "console" });
  console.error = (...args: unknown[]) => log.error(format(...args));
  console.warn = (...args: unknown[]) => log.warn(format(...args));
}

/**
 * Runs fn against the migrated database (embedded or DATABASE_URL), then stops
 * what it started. With PAYTRUST_MIGRATE_ON_START=false (a DBA migrates; the
 * app's role may not create roles) only `migrate` itself migrates.
 */
async function withMigratedDatabase<T>(
  fn: (db: DatabaseUrls) => Promise<T>,
  options: { migrate?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  const logger = processLogger(config, process.stderr);
  const db = await resolveDatabase(config, { log: lineLog(logger, "database") });
  try {
    if (options.migrate ?? config.migrateOnStart)
      await migrateDatabase({
        ownerUrl: db.ownerUrl,
        rootUrl: db.rootUrl,
        authenticatorPassword: db.authenticatorPassword,
        includeCurrent: config.applyCurrentMigration,
        logger,
      });
    return await fn(db);
  } finally {
    await db.stop();
  }
}

function withOwner<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return withMigratedDatabase(async (db) => {
    const client = new pg.Client({ connectionString: db.ownerUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  });
}

function print(json: boolean, value: Record<string, string>, human: string) {
  console.log(json ? JSON.stringify(value) : human);
}

async function runServer(kind: "start" | "serve" | "worker") {
  const config = loadConfig();
  const logger = processLogger(config, process.stdout);
  const log = logger.child({ component: "cli" });
  routeConsole(logger);
  const runtime = await startRuntime({
    config,
    serve: kind !== "worker",
    work: kind !== "serve",
    migrate: config.migrateOnStart,
    logger,
  });
  // In a terminal the banner is printed for the person who ran `npm start`; otherwise one JSON line.
  const human = isPretty(config.logFormat, process.stdout);
  if (runtime.app) {
    const url = runtime.app.url;
    const urls = {
      url,
      graphql: `${url}/graphql`,
      ...(config.isDev ? { graphiql: `${url}/graphiql` } : {}),
      ...(config.gatewayMode === "sandbox" ? { sandbox: `${url}/sandbox` } : {}),
    };
    if (human) {
      const lines = [`PayTrust is running at ${url}`];
      if (urls.graphiql) lines.push(`  GraphiQL:  ${urls.graphiql}`);
      lines.push(`  GraphQL:   ${urls.graphql}   (Authorization: Bearer <api key>)`);
      if (urls.sandbox) lines.push(`  Sandbox gateways: ${urls.sandbox}`);
      lines.push(`  Get a key: npx paytrust create-tenant "My shop" --json`);
      process.stdout.write(`${lines.join("\n")}\n`);
    } else log.info(urls, "PayTrust is running");
  }
  if (runtime.worker) log.info("Worker running");
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Shutting down");
    await runtime.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const json = rest.includes("--json");
  const positional = rest.filter((a) => !a.startsWith("--"));
  switch (command) {
    case "start":
    case "serve":
    case "worker":
      return runServer(command);
    case "migrate": {
      await withMigratedDatabase(async () => console.log("Migrations are up to date."), {
        migrate: true,
      });
      return;
    }
    case "create-tenant": {
      const name = positional[0];
      if (!name) throw usageError("create-tenant needs a NAME");
      const result = await withOwner(async (client) => {
        await client.query("begin");
        const { rows } = await client.query(
          "insert into paytrust_public.tenants (name) values ($1) returning id",
          [name],
        );
        const tenantId = rows[0].id as string;
        const key = await issueApiKey(client, { tenantId, role: "tenant", name: "default" });
        await client.query(
          `insert into paytrust_public.audit_events (action, tenant_id, subject_id, actor_role, details)
           values ('tenant.create', $1::uuid, $1::text, 'cli', jsonb_build_object('name', $2::text)),
                  ('api_key.create', $1::uuid, $3, 'cli', jsonb_build_object('name', 'default'))`,
          [tenantId, name, key.id],
        );
        await client.query("commit");
        return { tenantId, apiKey: key.apiKey };
      });
      print(json, result, `Tenant ${result.tenantId}\nAPI key (shown once): ${result.apiKey}`);
      return;
    }
    case "create-admin-key": {
      const result = await withOwner(async (client) => {
        const key = await issueApiKey(client, {
          tenantId: null,
          role: "admin",
          name: positional[0] ?? "admin",
        });
        await client.query(
          `insert into paytrust_public.audit_events (action, subject_id, actor_role) values ('api_key.create', $1, 'cli')`,
          [key.id],
        );
        return { apiKey: key.apiKey };
      });
      print(json, result, `Admin API key (shown once): ${result.apiKey}`);
      return;
    }
    case "create-analyst": {
      const name = positional[0];
      if (!name) throw usageError("create-analyst needs a NAME");
      const login = await withMigratedDatabase((db) =>
        createAnalyst(db.rootUrl, decodeURIComponent(new URL(db.ownerUrl).pathname.slice(1)), name),
      );
      print(
        json,
        { user: login.user, password: login.password, connectionString: login.connectionString },
        `Analyst login ${login.user} (read-only, paytrust_reporting only; password shown once):\n` +
          `  psql "${login.connectionString}" -c "select * from paytrust_reporting.revenue_by_day"`,
      );
      return;
    }
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw usageError(`Unknown command "${command}"\n${USAGE}`);
  }
}

const isEntry = process.argv[1] && /(cli\.ts|paytrust(\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).catch((error) => {
    const code = error instanceof PayTrustError ? error.code : (error.code ?? "PTFATAL");
    // One plain line for the person at the terminal (not a log line; console may be routed).
    process.stderr.write(`paytrust: [${code}] ${error.message}\n`);
    process.exit(error instanceof PayTrustError && error.code === "PTUSAGE" ? 64 : 1);
  });
}
