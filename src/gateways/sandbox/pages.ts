/**
 * The sandbox's HTML: an index, a checkout page per payment and a result page.
 * Self-contained (inline CSS, plain forms, no scripts or external assets) so it
 * works offline and under any CSP; every interpolated value is escaped.
 */
import { CURRENCY_EXPONENTS, minorToDecimal } from "../../money.ts";
import type { DeliveryResult } from "./delivery.ts";
import { PENDING_STATUS, type SandboxAction, type SandboxPayment } from "./state.ts";

export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** "1234567.50" → "1,234,567.50": string work on the decimal, no number formatting. */
export function groupDigits(decimal: string): string {
  const [whole, fraction] = decimal.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function amountDecimal(
  payment: SandboxPayment,
  minor: string = payment.amountMinor,
): string {
  return minorToDecimal(minor, CURRENCY_EXPONENTS[payment.currency]);
}

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
  main { max-width: 34rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 2rem;
         box-shadow: 0 2px 12px rgb(0 0 0 / 8%); }
  h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
  .gateway { text-transform: uppercase; letter-spacing: .08em; font-size: .75rem; color: #5b6475; }
  .amount { font-size: 2rem; font-weight: 600; margin: 1rem 0; }
  .muted { color: #5b6475; font-size: .875rem; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  .actions form { flex: 1; margin: 0; }
  button { width: 100%; padding: .75rem; border: 0; border-radius: 8px; font: inherit; cursor: pointer; }
  button:disabled { opacity: .4; cursor: not-allowed; }
  #pay { background: #1a7f37; color: #fff; }
  #fail { background: #cf222e; color: #fff; }
  #expire { background: #d0d7de; color: #1d2330; }
  table { width: 100%; border-collapse: collapse; font-size: .875rem; }
  th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #e5e7eb; }
  .ok { color: #1a7f37; } .bad { color: #cf222e; }
`;

function layout(title: string, content: string, wide = false): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}${wide ? "main { max-width: 60rem; }" : ""}</style>
</head>
<body><main>
${content}
</main></body>
</html>
`;
}

/** The key the checkout URL uses: Xendit invoice id, Midtrans Snap token. */
export function checkoutKey(payment: SandboxPayment): string {
  return payment.gateway === "midtrans" ? payment.token! : payment.id;
}

export function checkoutPath(basePath: string, payment: SandboxPayment): string {
  return `${basePath}/checkout/${payment.gateway}/${encodeURIComponent(checkoutKey(payment))}`;
}

const BUTTON_LABEL: Record<SandboxAction, string> = { pay: "Pay", fail: "Fail", expire: "Expire" };

export function checkoutPage(
  payment: SandboxPayment,
  basePath: string,
  duplicates: number,
): string {
  const pending = payment.status === PENDING_STATUS[payment.gateway];
  const query = duplicates > 0 ? `?duplicates=${duplicates}` : "";
  const buttons = (Object.keys(BUTTON_LABEL) as SandboxAction[])
    .map(
      (action) =>
        `<form method="post" action="${escapeHtml(`${checkoutPath(basePath, payment)}/${action}${query}`)}">` +
        `<button id="${action}" type="submit"${pending ? "" : " disabled"}>${BUTTON_LABEL[action]}</button></form>`,
    )
    .join("\n");
  const decimal = amountDecimal(payment);
  return layout(
    `Checkout — ${payment.description}`,
    `<div class="gateway">${escapeHtml(payment.gateway)} sandbox checkout</div>
<h1>${escapeHtml(payment.description)}</h1>
<div class="muted">Order ${escapeHtml(payment.externalId)}</div>
<div class="amount" id="amount" data-amount="${escapeHtml(decimal)}" data-currency="${escapeHtml(payment.currency)}">
${escapeHtml(payment.currency)} ${escapeHtml(groupDigits(decimal))}</div>
<div class="muted">Status: <span id="status">${escapeHtml(payment.status)}</span></div>
<div class="actions">
${buttons}
</div>
<p class="muted">Nothing is charged: the sandbox records the outcome and sends a signed webhook to PayTrust.</p>`,
  );
}

/** "webhook delivered (HTTP 200)", "webhook delivered 3 times (HTTP 200, 200, 200)", or why not. */
export function deliverySummary(results: DeliveryResult[]): string {
  if (results.length === 0) return "no webhook sent";
  const statusText = (r: DeliveryResult) =>
    r.status === null ? (r.attempts.at(-1)?.error ?? "no answer") : String(r.status);
  const failed = results.filter((r) => !r.delivered);
  if (failed.length === 0) {
    const times = results.length === 1 ? "" : ` ${results.length} times`;
    return `webhook delivered${times} (HTTP ${results.map(statusText).join(", ")})`;
  }
  const last = failed[0];
  return `webhook not delivered (${last.status === null ? statusText(last) : `HTTP ${last.status}`} after ${last.attempts.length} attempts)`;
}

const HEADLINE: Record<string, string> = {
  PAID: "Payment received",
  SETTLED: "Payment settled",
  EXPIRED: "Payment expired",
  settlement: "Payment received",
  deny: "Payment denied",
  expire: "Payment expired",
};

export function resultPage(
  payment: SandboxPayment,
  action: SandboxAction,
  results: DeliveryResult[],
  basePath: string,
): string {
  const summary = deliverySummary(results);
  const ok = results.every((r) => r.delivered);
  const note =
    payment.gateway === "xendit" && action === "fail"
      ? `<p class="muted">Xendit invoices have no failed state: a failed checkout leaves the invoice to expire, so the sandbox sends EXPIRED.</p>`
      : "";
  const back = payment.redirectUrl
    ? `<p><a id="return" href="${escapeHtml(payment.redirectUrl)}">Return to merchant</a></p>`
    : "";
  return layout(
    HEADLINE[payment.status] ?? payment.status,
    `<div class="gateway">${escapeHtml(payment.gateway)} sandbox</div>
<h1 id="result">${escapeHtml(HEADLINE[payment.status] ?? payment.status)} — <span class="${ok ? "ok" : "bad"}">${escapeHtml(summary)}</span></h1>
<div class="muted">${escapeHtml(payment.description)} · ${escapeHtml(payment.currency)} ${escapeHtml(groupDigits(amountDecimal(payment, payment.paidMinor ?? payment.amountMinor)))} · status ${escapeHtml(payment.status)}</div>
${note}${back}
<p><a href="${escapeHtml(`${basePath}/`)}">All sandbox payments</a></p>`,
  );
}

export function messagePage(title: string, message: string, basePath: string): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p><a href="${escapeHtml(`${basePath}/`)}">All sandbox payments</a></p>`,
  );
}

export function indexPage(payments: SandboxPayment[], basePath: string): string {
  const rows = payments
    .map(
      (
        p,
      ) => `<tr><td>${escapeHtml(p.gateway)}</td><td><a href="${escapeHtml(checkoutPath(basePath, p))}">${escapeHtml(p.externalId)}</a></td>
<td>${escapeHtml(p.description)}</td><td>${escapeHtml(p.currency)} ${escapeHtml(groupDigits(amountDecimal(p)))}</td><td>${escapeHtml(p.status)}</td><td>${escapeHtml(p.createdAt)}</td></tr>`,
    )
    .join("\n");
  return layout(
    "PayTrust sandbox gateways",
    `<h1>Sandbox gateways</h1>
<p class="muted">Xendit and Midtrans on loopback. Open a payment to pay, fail or expire it.</p>
<table><thead><tr><th>Gateway</th><th>Order</th><th>Description</th><th>Amount</th><th>Status</th><th>Created</th></tr></thead>
<tbody>${rows || '<tr><td colspan="6">No payments yet.</td></tr>'}</tbody></table>`,
    true,
  );
}
