/** Shared steps for payment tests: invoices through GraphQL, waiting for the worker. */

import { expect } from "@jest/globals";
import type { TestApp } from "./app.ts";

export const INVOICE_FIELDS = `id status currency gateway total amountPaid overpaymentAmount paymentInitiatedAt
  installments(orderBy: NUMBER_ASC) { nodes { number total status paidAmount } }`;

export const TX_FIELDS = `id status amount currency gateway checkoutUrl gatewayCheckoutUrl gatewayReference
  externalId iso20022Status iso20022Reason paidAmount failureReason installmentNumber`;

export async function createInvoice(
  app: TestApp,
  apiKey: string,
  input: Record<string, unknown>,
): Promise<any> {
  const res = await app.gql(
    `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) { invoice { ${INVOICE_FIELDS} } } }`,
    {
      input: {
        customerName: "Budi Santoso",
        customerEmail: "budi@example.com",
        lineItems: [{ description: "Kopi", quantity: 2, unitPrice: "50000", taxRate: "11" }],
        ...input,
      },
    },
    apiKey,
  );
  // JSON.stringify(res.body.errors)
  expect(res.body.errors).toBe(undefined);
  return res.body.data.createInvoice.invoice;
}

export async function initiatePayment(
  app: TestApp,
  apiKey: string,
  invoiceId: string,
  installmentNumber?: number,
): Promise<{ tx: any; errors: any }> {
  const res = await app.gql(
    `mutation($id: UUID!, $n: Int) { initiatePayment(input: {invoiceId: $id, installmentNumber: $n}) {
       paymentTransaction { ${TX_FIELDS} } } }`,
    { id: invoiceId, n: installmentNumber ?? null },
    apiKey,
  );
  return {
    tx: res.body.data?.initiatePayment?.paymentTransaction ?? null,
    errors: res.body.errors,
  };
}

export async function getInvoice(app: TestApp, apiKey: string, id: string): Promise<any> {
  const res = await app.gql(
    `query($id: UUID!) { invoice(id: $id) { ${INVOICE_FIELDS} } }`,
    { id },
    apiKey,
  );
  return res.body.data.invoice;
}

export async function getTransaction(app: TestApp, apiKey: string, id: string): Promise<any> {
  const res = await app.gql(
    `query($id: UUID!) { paymentTransaction(id: $id) { ${TX_FIELDS} } }`,
    { id },
    apiKey,
  );
  return res.body.data.paymentTransaction;
}

/** Polls until check() returns a value (the worker is asynchronous); fails after timeoutMs. */
export async function eventually<T>(
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`Condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** initiatePayment, then wait for the worker to create the gateway checkout. */
export async function startPayment(
  app: TestApp,
  apiKey: string,
  invoiceId: string,
  n?: number,
): Promise<any> {
  const { tx, errors } = await initiatePayment(app, apiKey, invoiceId, n);
  // JSON.stringify(errors)
  expect(errors).toBe(undefined);
  return eventually(async () => {
    const current = await getTransaction(app, apiKey, tx.id);
    return current.gatewayCheckoutUrl ? current : null;
  });
}
