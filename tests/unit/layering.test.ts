/**
 * Layering (issue 16.9, CONVENTIONS.md "Layers"): imports point inward only.
 *
 *   edges        server.ts, cli.ts, runtime.ts, worker.ts, metrics.ts, requestLog.ts,
 *                routes/, webhooks/, tasks/, plugins/  — where requests, jobs and
 *                commands come in
 *   services     auth/, gateways/, iso20022/, outbound/, http/  — what the edges use
 *   foundations  db/, config.ts, money.ts, errors.ts, logger.ts  — what everything uses
 *
 * Fails on (a) any import cycle among src/ files (type-only imports count: a
 * cycle of types is still a knot), (b) routes/ or the server importing
 * plugins/ other than the preset, (c) a foundation importing a service or an
 * edge, (d) a service importing an edge. The imports are read with a regular
 * expression over the source: `import … from "…"`, `export … from "…"` and
 * `import("…")`, relative specifiers only (packages are not layers).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { projectRoot } from "../../src/db/bootstrap.ts";

const SRC = join(projectRoot, "src");

type Layer = "edge" | "service" | "foundation";
const RANK: Record<Layer, number> = { foundation: 0, service: 1, edge: 2 };

/** The layer of a file, by its path relative to src/ ("routes/documents.ts"). */
function layerOf(file: string): Layer {
  const [top] = file.split("/");
  if (["db", "config.ts", "money.ts", "errors.ts", "logger.ts"].includes(top)) return "foundation";
  if (["auth", "gateways", "iso20022", "outbound", "http"].includes(top)) return "service";
  // server.ts, cli.ts, runtime.ts, worker.ts, metrics.ts, requestLog.ts, routes/,
  // webhooks/, tasks/, plugins/ — and anything new until it is placed above.
  return "edge";
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The relative module specifiers a source imports or re-exports (comments stripped). */
function importsOf(source: string): string[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/[^\n]*/g, "$1");
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'"`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns)
    for (const m of text.matchAll(pattern)) if (m[1].startsWith(".")) specifiers.push(m[1]);
  return specifiers;
}

/** file (relative to src/) → the src/ files it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const path of sourceFiles(SRC)) {
    const from = relative(SRC, path);
    const targets = importsOf(readFileSync(path, "utf8"))
      .map((spec) => relative(SRC, resolve(dirname(path), spec)))
      .filter((to) => !to.startsWith(".."));
    graph.set(from, [...new Set(targets)]);
  }
  return graph;
}

/** Every elementary cycle's smallest rotation, found by DFS (the graph is small). */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(" → "), rotated);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}

describe("layering of src/", () => {
  const graph = importGraph();

  it("the reader finds imports, re-exports and dynamic imports, not comments", () => {
    expect(
      importsOf(`import a from "./a.ts";
        import type { B } from "../b.ts";
        import {
          c,
          type D,
        } from "./c/d.ts";
        export { e } from "./e.ts";
        export * from "./f.ts";
        import "./g.ts";
        const h = await import("./h.ts");
        import pg from "pg";
        // import x from "./commented.ts";
        /* import y from "./block.ts"; */`),
    ).toEqual(["./a.ts", "../b.ts", "./c/d.ts", "./e.ts", "./f.ts", "./g.ts", "./h.ts"]);
    expect(layerOf("routes/documents.ts")).toBe("edge");
    expect(layerOf("http/errors.ts")).toBe("service");
    expect(layerOf("db/bootstrap.ts")).toBe("foundation");
    expect(
      cyclesOf(
        new Map([
          ["a", ["b"]],
          ["b", ["a", "c"]],
          ["c", []],
        ]),
      ),
    ).toEqual([["a", "b"]]);
  });

  it("sees the whole of src/", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get("server.ts")?.length).toBeGreaterThan(3);
  });

  it("(a) has no import cycle", () => {
    expect(cyclesOf(graph).map((cycle) => [...cycle, cycle[0]].join(" → "))).toEqual([]);
  });

  it("(b) routes/ and the server use plugins/ only through the preset", () => {
    const problems: string[] = [];
    for (const [from, targets] of graph) {
      if (!(from.startsWith("routes/") || from === "server.ts")) continue;
      for (const to of targets)
        if (to.startsWith("plugins/") && to !== "plugins/preset.ts")
          problems.push(`${from} imports ${to}`);
    }
    expect(problems).toEqual([]);
  });

  it("(c, d) imports point inward: foundations import neither services nor edges, services no edge", () => {
    const problems: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        if (RANK[layerOf(to)] > RANK[layerOf(from)])
          problems.push(`${from} (${layerOf(from)}) imports ${to} (${layerOf(to)})`);
      }
    }
    expect(problems).toEqual([]);
  });
});
