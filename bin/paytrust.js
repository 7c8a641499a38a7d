#!/usr/bin/env node
// The project's Node 22 (devDependency `node`) is on PATH for npm scripts and npx.
// Grafast reads GRAPHILE_ENV when it loads, so set it before importing anything.
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === "production" ? "production" : "development";
await import("../src/cli.ts");
