/**
 * Issue 14 item 1 (fail closed) and the strict parsing of the edge settings:
 * production needs an explicit gateway mode, live mode refuses missing or
 * publicly known secrets, the work-in-progress migration is development-only,
 * and every refusal is one `[PTENV]` line naming the variable, no stack trace.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "@jest/globals";
import { loadConfig, parseTrustProxy } from "../../src/config.ts";
import { projectRoot } from "../../src/db/bootstrap.ts";
import { PayTrustError } from "../../src/errors.ts";

const run = promisify(execFile);

const LIVE = {
  NODE_ENV: "production",
  PAYTRUST_GATEWAY_MODE: "live",
  XENDIT_SECRET_KEY: "xnd_production_0123456789abcdef",
  XENDIT_CALLBACK_TOKEN: "live-callback-token-0123456789",
  MIDTRANS_SERVER_KEY: "Mid-server-0123456789abcdef",
  PUBLIC_BASE_URL: "https://pay.example.com",
};

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(PayTrustError);
    expect((error as PayTrustError).code).toBe("PTENV");
    return (error as Error).message;
  }
  throw new Error("loadConfig accepted the environment");
}

describe("fail closed in production", () => {
  it("refuses NODE_ENV=production without PAYTRUST_GATEWAY_MODE", () => {
    expect(refusal({ NODE_ENV: "production" })).toMatch(/PAYTRUST_GATEWAY_MODE/);
  });

  it("still defaults to the sandbox in development", () => {
    expect(loadConfig({}).gatewayMode).toBe("sandbox");
    expect(loadConfig({ NODE_ENV: "test" }).gatewayMode).toBe("sandbox");
  });

  it("accepts an explicit sandbox in production (a demo) and a complete live set-up", () => {
    expect(
      loadConfig({ NODE_ENV: "production", PAYTRUST_GATEWAY_MODE: "sandbox" }).gatewayMode,
    ).toBe("sandbox");
    expect(loadConfig(LIVE).gatewayMode).toBe("live");
  });

  it.each(["XENDIT_SECRET_KEY", "XENDIT_CALLBACK_TOKEN", "MIDTRANS_SERVER_KEY", "PUBLIC_BASE_URL"])(
    "live refuses a missing %s",
    (name) => {
      expect(refusal({ ...LIVE, [name]: "" })).toMatch(new RegExp(name));
    },
  );

  it.each([
    ["XENDIT_SECRET_KEY", "xnd_development_sandbox"],
    ["XENDIT_CALLBACK_TOKEN", "sandbox-callback-token"],
    ["MIDTRANS_SERVER_KEY", "SB-Mid-server-sandbox"],
  ])("live refuses the sandbox's public %s", (name, value) => {
    expect(refusal({ ...LIVE, [name]: value })).toMatch(new RegExp(`${name}.*public default`));
  });

  it("live refuses a known default authenticator or database password", () => {
    expect(refusal({ ...LIVE, DATABASE_AUTHENTICATOR_PASSWORD: "change-me" })).toMatch(
      /DATABASE_AUTHENTICATOR_PASSWORD.*known default/,
    );
    expect(
      refusal({ ...LIVE, DATABASE_URL: "postgres://postgres:postgres@db:5432/paytrust" }),
    ).toMatch(/DATABASE_URL.*known default/);
    expect(
      loadConfig({ ...LIVE, DATABASE_AUTHENTICATOR_PASSWORD: "x7Rk2pQw9vLm4sTz8bNc" }).gatewayMode,
    ).toBe("live");
  });

  it("applies the work-in-progress migration only in development and only when asked", () => {
    expect(loadConfig({}).applyCurrentMigration).toBe(false);
    expect(loadConfig({ PAYTRUST_APPLY_CURRENT_MIGRATION: "true" }).applyCurrentMigration).toBe(
      true,
    );
    expect(refusal({ ...LIVE, PAYTRUST_APPLY_CURRENT_MIGRATION: "1" })).toMatch(
      /PAYTRUST_APPLY_CURRENT_MIGRATION/,
    );
    expect(refusal({ PAYTRUST_APPLY_CURRENT_MIGRATION: "maybe" })).toMatch(
      /PAYTRUST_APPLY_CURRENT_MIGRATION/,
    );
  });
});

describe("edge settings are parsed strictly", () => {
  it("PAYTRUST_TRUST_PROXY: false, hop counts, names, addresses and subnets", () => {
    expect(parseTrustProxy(undefined)).toEqual(["loopback"]);
    expect(parseTrustProxy("false")).toBe(false);
    expect(parseTrustProxy("0")).toBe(false);
    expect(parseTrustProxy("2")).toBe(2);
    expect(parseTrustProxy("loopback, 10.0.0.0/8,fd00::/8,192.0.2.7")).toEqual([
      "loopback",
      "10.0.0.0/8",
      "fd00::/8",
      "192.0.2.7",
    ]);
    expect(loadConfig({ PAYTRUST_TRUST_PROXY: "uniquelocal" }).trustProxy).toEqual(["uniquelocal"]);
  });

  it.each(["true", "yes", "11", "10.0.0.0/33", "300.1.1.1", "loopback,,", "10.0.0.1/8/2"])(
    "PAYTRUST_TRUST_PROXY=%s is refused",
    (value) => {
      expect(refusal({ PAYTRUST_TRUST_PROXY: value })).toMatch(/PAYTRUST_TRUST_PROXY/);
    },
  );

  it("PAYTRUST_METRICS_TOKEN must be long enough; unset means /metrics is not served", () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(refusal({ PAYTRUST_METRICS_TOKEN: "short" })).toMatch(/PAYTRUST_METRICS_TOKEN/);
    expect(loadConfig({ PAYTRUST_METRICS_TOKEN: "m".repeat(32) }).metricsToken).toBe(
      "m".repeat(32),
    );
  });

  it("public page limits are whole numbers in range", () => {
    expect(refusal({ PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE: "1.5" })).toMatch(
      /PAYTRUST_PUBLIC_RATE_LIMIT_PER_MINUTE/,
    );
    expect(refusal({ PAYTRUST_PUBLIC_DB_CONCURRENCY: "0" })).toMatch(
      /PAYTRUST_PUBLIC_DB_CONCURRENCY/,
    );
  });
});

describe("the CLI refuses to start, with one line and no stack trace", () => {
  // No database is needed: the configuration is refused before anything starts.
  const spawnCli = (args: string[], env: Record<string, string>) =>
    run(process.execPath, ["bin/paytrust.js", ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      timeout: 60_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: any) => ({ code: error.code as number, stdout: error.stdout, stderr: error.stderr }),
    );

  it.each([
    ["serve", { NODE_ENV: "production" }, /PAYTRUST_GATEWAY_MODE/],
    ["start", { NODE_ENV: "production" }, /PAYTRUST_GATEWAY_MODE/],
    [
      "serve",
      { ...LIVE, XENDIT_CALLBACK_TOKEN: "sandbox-callback-token" },
      /XENDIT_CALLBACK_TOKEN/,
    ],
    ["serve", { PAYTRUST_TRUST_PROXY: "true" }, /PAYTRUST_TRUST_PROXY/],
  ])("paytrust %s with a bad environment exits non-zero", async (command, env, pattern) => {
    const result = await spawnCli([command], env as Record<string, string>);
    expect(result.code).not.toBe(0);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^paytrust: \[PTENV\] /);
    expect(lines[0]).toMatch(pattern);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
