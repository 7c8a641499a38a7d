/**
 * The schema contract (issue 16.1): `schema.graphql` at the repository root is
 * the API as PostGraphile builds it from the migrations (printed, sorted
 * lexicographically). A change to the SQL that changes the API — a renamed
 * column, a new function — fails here until the file is regenerated, so the
 * change shows up as a diff in review.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { projectRoot } from "../../src/db/bootstrap.ts";
import { printLiveSchema, schemaDiff } from "../../src/plugins/schemaExport.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

const SCHEMA_FILE = join(projectRoot, "schema.graphql");
const REGENERATE = "node scripts/export-schema.ts";

describe("schema.graphql", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("is the schema PostGraphile builds from the migrations", async () => {
    const live = await printLiveSchema(db.authUrl);
    let committed = "";
    try {
      committed = readFileSync(SCHEMA_FILE, "utf8");
    } catch {
      // missing: reported below like any other difference
    }
    const problem =
      live === committed
        ? ""
        : [
            committed
              ? "schema.graphql differs from the live schema (- in the file, + live):"
              : "schema.graphql is missing.",
            schemaDiff(committed, live),
            `Regenerate it with: ${REGENERATE}   (then review and commit the diff)`,
          ].join("\n");
    expect(problem).toBe("");
  });

  it("is sorted and names the contract's root fields", () => {
    const text = readFileSync(SCHEMA_FILE, "utf8");
    const types = [...text.matchAll(/^(?:type|input|enum|scalar|interface|union) (\w+)/gm)].map(
      (m) => m[1],
    );
    expect(types).toEqual([...types].sort());
    for (const field of ["createInvoice(", "initiatePayment(", "invoice(id: UUID!)", "invoices("]) {
      expect(text).toContain(field);
    }
  });
});
