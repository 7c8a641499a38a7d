/** The paytrust CLI against a real database: keys it prints authenticate; bad usage has codes. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { projectRoot } from "../../src/db/bootstrap.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { AUTHENTICATOR_PASSWORD, freshDatabase, type TestDatabase } from "../helpers/db.ts";

const run = promisify(execFile);

describe("paytrust CLI", () => {
  let db: TestDatabase;
  let app: TestApp;
  const cli = (args: string[]) =>
    run(process.execPath, ["bin/paytrust.js", ...args], {
      cwd: projectRoot,
      // The authenticator role is cluster-wide: keep the password the other test processes use.
      env: {
        ...process.env,
        DATABASE_URL: db.ownerUrl,
        ROOT_DATABASE_URL: db.rootUrl,
        DATABASE_AUTHENTICATOR_PASSWORD: AUTHENTICATOR_PASSWORD,
      },
    });

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it("create-tenant NAME --json prints a tenant id and a key that authenticates", async () => {
    const { stdout } = await cli(["create-tenant", "Acme", "--json"]);
    const { tenantId, apiKey } = JSON.parse(stdout);
    expect(apiKey).toMatch(/^pt_live_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const res = await app.gql("{ currentTenantId }", {}, apiKey);
    expect(res.body.data.currentTenantId).toBe(tenantId);
  });

  it("create-admin-key --json prints an admin key", async () => {
    const { stdout } = await cli(["create-admin-key", "--json"]);
    const { apiKey } = JSON.parse(stdout);
    const res = await app.gql(
      'mutation { createTenant(input: {name: "Via CLI admin"}) { tenant { name } } }',
      {},
      apiKey,
    );
    expect(res.body.data.createTenant.tenant.name).toBe("Via CLI admin");
  });

  it("refuses unknown commands and missing arguments with a code and a non-zero exit", async () => {
    await assert.rejects(
      cli(["frobnicate"]),
      (error: any) => error.code === 64 && /PTUSAGE/.test(error.stderr),
    );
    await assert.rejects(
      cli(["create-tenant"]),
      (error: any) => error.code === 64 && /needs a NAME/.test(error.stderr),
    );
    await assert.rejects(
      run(process.execPath, ["bin/paytrust.js", "migrate"], {
        cwd: projectRoot,
        env: {
          ...process.env,
          DATABASE_URL: db.ownerUrl,
          DATABASE_AUTHENTICATOR_PASSWORD: AUTHENTICATOR_PASSWORD,
          PORT: "not-a-port",
        },
      }),
      (error: any) => error.code === 1 && /PTENV.*PORT/.test(error.stderr),
    );
  });
});
