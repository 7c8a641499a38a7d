/**
 * GraphiQL as a newcomer meets it, in a real browser (Debian's Chromium,
 * driven by playwright-core): the page loads the schema without a key (the
 * docs explorer and autocompletion work), its editors say how to add the
 * Authorization header, and a data query without a key answers 401.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chromium } from "playwright-core";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { freshDatabase, type TestDatabase } from "../helpers/db.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("GraphiQL in a real browser", () => {
  let db: TestDatabase;
  let app: TestApp;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it("loads the schema before a key is pasted and explains the Authorization header", async () => {
    expect(existsSync(CHROMIUM)).toBeTruthy();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      const introspection = page.waitForResponse(
        (r) => r.url().endsWith("/graphql") && (r.request().postData() ?? "").includes("__schema"),
        { timeout: 30_000 },
      );
      await page.goto(`${app.url}/graphiql`);
      const response = await introspection;
      expect(response.status()).toBe(200);
      const body = await response.json();
      expect(body.errors).toBe(undefined);
      expect(body.data.__schema.queryType.name).toBe("Query");
      // The query editor opens with the instructions; the headers editor with the template.
      await page.waitForFunction(
        () => (document.body.textContent ?? "").includes("create-tenant"),
        null,
        {
          timeout: 30_000,
        },
      );
      const text = await page.evaluate(() => document.body.textContent ?? "");
      expect(text).toContain("Authorization");
      expect(text).toContain("create-tenant");
      // Running the first query with the placeholder key: 401, with the error shown.
      const run = page.waitForResponse(
        (r) =>
          r.url().endsWith("/graphql") && (r.request().postData() ?? "").includes("MyInvoices"),
        { timeout: 30_000 },
      );
      await page.keyboard.press("Control+Enter");
      await page
        .locator(".graphiql-execute-button")
        .click()
        .catch(() => {});
      const answered = await run;
      expect(answered.status()).toBe(401);
    } finally {
      await browser.close();
    }
  });
});
