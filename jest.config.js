/**
 * jest runs the whole suite in ESM mode (graphile-worker and PostGraphile are
 * pure ESM): `--experimental-vm-modules` comes from `.npmrc` (node-options),
 * so `npm test` and `npx jest …` both get it; @swc/jest strips the types.
 * globalSetup starts one real PostgreSQL and migrates a template database.
 */
const ci = process.env.CI === "true";

/** @type {import('jest').Config} */
export default {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  extensionsToTreatAsEsm: [".ts"],
  transform: {
    "^.+\\.ts$": [
      "@swc/jest",
      {
        jsc: { parser: { syntax: "typescript" }, target: "es2023" },
        module: { type: "es6" },
      },
    ],
  },
  globalSetup: "<rootDir>/tests/setup/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/setup/globalTeardown.ts",
  // Real databases, real servers and a real browser: generous per-test bounds.
  testTimeout: 180_000,
  maxWorkers: process.env.TEST_CONCURRENCY ? Number(process.env.TEST_CONCURRENCY) : 3,
  coverageProvider: "v8",
  collectCoverageFrom: ["src/**/*.ts"],
  verbose: !ci ? undefined : false,
};
