/**
 * GET /invoices/:id/pain.001.xml and /pain.002.xml — the same documents as the
 * GraphQL fields, with the same authentication and tenant isolation: the
 * query runs as the key's role with its claims, so RLS decides, and another
 * tenant's invoice is simply not found (404).
 */
import type { Request, Response } from "express";
import type pg from "pg";
import { pgSettingsFor } from "../auth/pgSettings.ts";
import { PayTrustError } from "../errors.ts";
import { sendError, sendPayTrustError } from "../http/errors.ts";
import { type Iso20022Invoice, pain001Xml, pain002Xml } from "../iso20022/index.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Runs fn in a transaction with the request's role and claims, exactly like PostGraphile does. */
export async function withRequestSettings<T>(
  pool: pg.Pool,
  settings: Record<string, string>,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("begin");
    const keys = Object.keys(settings);
    await client.query(
      `select ${keys.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(", ")}`,
      keys.flatMap((k) => [k, settings[k]]),
    );
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export function invoiceDocumentHandler(
  deps: { authPool: pg.Pool; publicBaseUrl: string },
  kind: "pain.001" | "pain.002",
) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id ?? "");
    if (!UUID.test(id)) return sendError(res, 404, "PTNFD", "Invoice not found");
    const data = await withRequestSettings(
      deps.authPool,
      pgSettingsFor(req, deps.publicBaseUrl),
      async (client) => {
        const { rows } = await client.query(
          "select paytrust_hidden.invoices_iso20022_data(i) as data from paytrust_public.invoices i where i.id = $1",
          [id],
        );
        return (rows[0]?.data as Iso20022Invoice | undefined) ?? null;
      },
    );
    if (!data) return sendError(res, 404, "PTNFD", "Invoice not found");
    const version =
      typeof req.query.version === "string" ? req.query.version : kind === "pain.001" ? "09" : "10";
    try {
      const xml = kind === "pain.001" ? pain001Xml(data, version) : pain002Xml(data, version);
      res.type("application/xml").send(xml);
    } catch (error) {
      // PTVAL (an unknown version, 400) or PTISO (data no valid document can hold, 422).
      if (error instanceof PayTrustError) return sendPayTrustError(res, error);
      throw error;
    }
  };
}
