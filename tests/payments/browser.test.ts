/**
 * The newcomer path in a real browser: open the checkout link returned by
 * initiatePayment in headless Chromium (Debian's package, driven by
 * playwright-core), click Pay, and see the invoice paid. Fails, never skips,
 * when Chromium is missing: .ci/run installs it.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chromium } from "playwright-core";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { createTenant, freshDatabase, type TestDatabase } from "../helpers/db.ts";
import { createInvoice, eventually, getInvoice, initiatePayment } from "../helpers/payments.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("checkout in a real browser", () => {
  let db: TestDatabase;
  let app: TestApp;
  let key: string;

  beforeAll(async () => {
    db = await freshDatabase();
    app = await startTestApp(db, { worker: true });
    key = (await createTenant(db.pool, "Browser shop")).apiKey;
  });
  afterAll(async () => {
    await app.stop();
    await db.drop();
  });

  it("opens the checkout link, clicks Pay, and the invoice is paid", async () => {
    // `Chromium not found at ${CHROMIUM}: apt-get install chromium (.ci/run does)`
    expect(existsSync(CHROMIUM)).toBeTruthy();
    const invoice = await createInvoice(app, key, { currency: "MYR", gateway: "xendit" });
    const { tx } = await initiatePayment(app, key, invoice.id);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
    });
    try {
      const page = await browser.newPage();
      // The hosted link shows "Preparing…" until the worker has created the gateway checkout.
      await page.goto(tx.checkoutUrl);
      await page.waitForSelector("#pay", { timeout: 15_000 });
      expect(await page.content()).toMatch(/MYR/);
      await page.click("#pay");
      await page.waitForLoadState("load");
      expect(await page.content()).toMatch(/Payment received/i);
    } finally {
      await browser.close();
    }
    const paid = await eventually(async () => {
      const inv = await getInvoice(app, key, invoice.id);
      return inv.status === "paid" ? inv : null;
    });
    expect(paid.amountPaid).toBe(invoice.total);
  });
});
