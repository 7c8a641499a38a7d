/**
 * GET /pay/:id — PayTrust's hosted checkout link, returned by initiatePayment
 * at once. It forwards to the gateway's checkout page as soon as the worker
 * has created it, and says plainly when the attempt failed. The id is an
 * unguessable UUID; the page shows nothing but the state of that attempt.
 */
import type { Request, Response } from "express";
import type pg from "pg";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function page(title: string, body: string, refresh = false): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
${refresh ? '<meta http-equiv="refresh" content="1">' : ""}
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2937}</style>
</head><body><h1>${title}</h1><p>${body}</p></body></html>`;
}

export function checkoutRedirectHandler(pool: pg.Pool) {
  return async (req: Request, res: Response) => {
    const id = String(req.params.id ?? "");
    if (!UUID.test(id))
      return res.status(404).type("html").send(page("Payment not found", "Check the link."));
    let tx: { status: string; gateway_checkout_url: string | null } | undefined;
    try {
      const { rows } = await pool.query(
        // An attempt past expiresAt is over even before the expiry cron marks it.
        `select case when status = 'pending' and expires_at <= now() then 'expired' else status end as status,
                gateway_checkout_url
           from paytrust_public.payment_transactions where id = $1`,
        [id],
      );
      tx = rows[0];
    } catch {
      res.setHeader("Retry-After", "5");
      return res
        .status(503)
        .type("html")
        .send(page("Temporarily unavailable", "Please retry in a few seconds.", false));
    }
    if (!tx) return res.status(404).type("html").send(page("Payment not found", "Check the link."));
    res.setHeader("Cache-Control", "no-store");
    if (tx.status === "pending" && tx.gateway_checkout_url)
      return res.redirect(303, tx.gateway_checkout_url);
    if (tx.status === "pending") {
      return res
        .type("html")
        .send(page("Preparing your payment…", "This page refreshes by itself.", true));
    }
    if (tx.status === "paid" || tx.status === "settled") {
      return res.type("html").send(page("Payment received", "Thank you. You can close this page."));
    }
    return res
      .type("html")
      .send(page("This payment link is no longer valid", `The payment is ${tx.status}.`));
  };
}
