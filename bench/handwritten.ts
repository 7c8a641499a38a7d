/**
 * What a developer would write instead of PostGraphile: one Express route that
 * authenticates with the same cached key check (src/auth/keyVerifier.ts) and
 * calls the same SQL function in the same transaction shape, on a pool of the
 * same size as PostGraphile's (PAYTRUST_DB_POOL_SIZE, default 10). No rate limit, helmet or metrics: the
 * comparison shows what the generic GraphQL layer and its middleware cost.
 */
import { createServer, type Server } from "node:http";
import express from "express";
import { createKeyVerifier } from "../src/auth/keyVerifier.ts";
import { loadConfig } from "../src/config.ts";
import { makePool } from "../src/db/connection.ts";
import {
  CREATE_INVOICE_SQL,
  claimsFor,
  createInvoiceParams,
  invoiceJson,
  SET_CLAIMS_SQL,
} from "./lib/invoice.ts";

export async function startHandwritten(urls: { ownerUrl: string; authUrl: string }, port: number) {
  const ownerPool = makePool(urls.ownerUrl, 5);
  const pool = makePool(urls.authUrl, loadConfig().dbPoolSize);
  const verifier = await createKeyVerifier(ownerPool);
  const app = express();
  app.use(express.json({ limit: "1mb" }));
  app.post("/invoices", async (req, res) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const key = bearer ? await verifier.verify(bearer[1]).catch(() => null) : null;
    if (key?.role !== "tenant") return void res.status(401).json({ error: "PTAUTH" });
    const client = await pool.connect();
    try {
      await client.query("begin");
      const request = { ip: req.ip ?? "", userAgent: String(req.headers["user-agent"] ?? "") };
      await client.query(SET_CLAIMS_SQL, [claimsFor(key, { ...request, publicBaseUrl: "" })]);
      const { rows } = await client.query(CREATE_INVOICE_SQL, createInvoiceParams(req.body));
      await client.query("commit");
      res.status(201).json({ invoice: invoiceJson(rows[0]) });
    } catch (error: any) {
      await client.query("rollback").catch(() => {});
      const projectCode = typeof error?.code === "string" && error.code.startsWith("PT");
      res.status(projectCode ? 400 : 500).json({ error: projectCode ? error.code : "PTINTERNAL" });
    } finally {
      client.release();
    }
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await verifier.close();
      await Promise.all([pool.end(), ownerPool.end()]);
    },
  };
}
