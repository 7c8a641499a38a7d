/** Starts real PayTrust processes (HTTP app and/or worker) against a test database. */
import { createServer } from "node:net";
import { loadConfig } from "../../src/config.ts";
import type { DatabaseUrls } from "../../src/db/connection.ts";
import { createLogger, lineSink } from "../../src/logger.ts";
import { type Runtime, startRuntime } from "../../src/runtime.ts";
import { AUTHENTICATOR_PASSWORD, type TestDatabase } from "./db.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface TestApp {
  url: string;
  runtime: Runtime;
  /**
   * Every line the runtime (HTTP app and worker) logged so far, as written: one
   * JSON object per line (e.g. to scan for secrets, or JSON.parse).
   */
  logs: string[];
  gql(
    query: string,
    variables?: Record<string, unknown>,
    apiKey?: string,
  ): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startTestApp(
  db: Pick<TestDatabase, "ownerUrl" | "authUrl" | "rootUrl">,
  options: {
    env?: Record<string, string>;
    worker?: boolean;
    serve?: boolean;
    authenticatorPassword?: string;
  } = {},
): Promise<TestApp> {
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: "test",
    PORT: String(port),
    DATABASE_URL: db.ownerUrl,
    // Limits are tested on purpose (tests/keys); elsewhere they must not interfere.
    PAYTRUST_RATE_LIMIT_PER_MINUTE: "100000",
    PAYTRUST_WEBHOOK_RATE_LIMIT_PER_MINUTE: "1000000",
    ...options.env,
  });
  const database: DatabaseUrls = {
    ownerUrl: db.ownerUrl,
    authUrl: db.authUrl,
    rootUrl: db.rootUrl,
    authenticatorPassword: options.authenticatorPassword ?? AUTHENTICATOR_PASSWORD,
    embedded: false,
    stop: async () => {},
  };
  const logs: string[] = [];
  // The app's own logger (level from PAYTRUST_LOG_LEVEL), writing JSON lines here instead of stdout.
  const logger = createLogger({
    level: config.logLevel,
    format: "json",
    destination: lineSink((line) => void logs.push(line)),
  });
  const runtime = await startRuntime({
    config,
    serve: options.serve ?? true,
    work: options.worker ?? false,
    migrate: false,
    database,
    logger,
  });
  const url = runtime.app?.url ?? `http://127.0.0.1:${port}`;
  return {
    url,
    runtime,
    logs,
    async gql(query, variables = {}, apiKey) {
      const res = await fetch(`${url}/graphql`, {
        signal: AbortSignal.timeout(30_000),
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, body };
    },
    stop: () => runtime.stop(),
  };
}
