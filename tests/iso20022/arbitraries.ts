/** fast-check generators for ISO 20022 inputs, biased towards what breaks XML. */
import fc from "fast-check";
import type { Iso20022Invoice, Iso20022TxStatus } from "../../src/iso20022/index.ts";
import { EXPONENTS } from "./helpers.ts";

/** One code point, or a hostile fragment: markup, controls, lone surrogates, combining marks. */
const nastyUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "&",
      "<",
      ">",
      '"',
      "'",
      "]]>",
      "&amp;",
      "\u0000",
      "\u0007",
      "\t",
      "\n",
      "\r",
      "\u0085",
      "\u2028",
      "\uD800",
      "\uDFFF",
      "\uFFFE",
      "\uFFFF",
      "\u200D",
      "e\u0301",
      "日本",
      "✓",
      "🙂",
      " ",
    ),
  },
);

/** Random unicode text up to 300 units: empty, short, or far over any schema limit. */
export const nastyText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: nastyUnit, maxLength: 300 }),
  fc.string({ unit: nastyUnit, minLength: 141, maxLength: 300 }),
  fc.constantFrom("", "   ", "Toko Budi 日本 ✓", "A & B <C> \"D\" 'E'", "x".repeat(300)),
);

const date: fc.Arbitrary<Date> = fc.date({
  min: new Date("2000-01-01T00:00:00Z"),
  max: new Date("2099-12-31T23:59:59Z"),
  noInvalidDate: true,
});
const isoDay = date.map((d) => d.toISOString().slice(0, 10));
const identifier = fc.oneof(fc.uuid(), fc.string({ unit: nastyUnit, maxLength: 60 }));

const STATUSES: readonly Iso20022TxStatus[] = ["PDNG", "ACSP", "ACSC", "RJCT"];
const reason = fc.option(
  fc.oneof(fc.constantFrom("DS24", "MS02", "CUST", "AM04", "NARR", "ds24", "ZZZZ"), nastyText),
);

export const invoiceArbitrary: fc.Arbitrary<Iso20022Invoice> = fc
  .record({
    currency: fc.constantFrom("IDR", "MYR", "USD"),
    id: identifier,
    reference: nastyText,
    createdAt: date,
    dueDate: fc.option(isoDay),
    description: fc.option(nastyText),
    customerName: nastyText,
    customerEmail: nastyText,
    externalRef: fc.option(nastyText),
    tenantName: nastyText,
    legalName: fc.option(nastyText),
    iban: fc.option(
      fc.oneof(fc.constantFrom("GB82WEST12345698765432", "ID12 3456 7890"), nastyText),
    ),
    accountNumber: fc.option(fc.oneof(fc.stringMatching(/^[0-9-]{1,40}$/), nastyText)),
    bic: fc.option(
      fc.oneof(fc.constantFrom("BMRIIDJA", "MBBEMYKL", "1234IDJA", "CHASUS33XXX"), nastyText),
    ),
    installments: fc.array(
      fc.record({
        total: fc.bigInt({ min: 0n, max: 10n ** 15n }),
        // Often a shared date, so some PmtInf hold several transactions.
        dueDate: fc.oneof(isoDay, fc.constantFrom("2026-01-15", "2026-02-15", "2026-03-15")),
        id: identifier,
      }),
      { minLength: 1, maxLength: 12 },
    ),
    transactions: fc.array(
      fc.record({
        id: identifier,
        slot: fc.nat(),
        status: nastyText,
        iso20022Status: fc.constantFrom(...STATUSES),
        iso20022Reason: reason,
        gatewayReference: fc.option(fc.oneof(fc.uuid(), nastyText)),
        updatedAt: date,
      }),
      { maxLength: 8 },
    ),
  })
  .map((r) => {
    const installments = r.installments.map((i, index) => ({
      id: i.id,
      number: index + 1,
      dueDate: i.dueDate,
      total: i.total.toString(),
      status: "pending",
    }));
    return {
      invoice: {
        id: r.id,
        reference: r.reference,
        currency: r.currency,
        exponent: EXPONENTS[r.currency],
        total: r.installments.reduce((acc, i) => acc + i.total, 0n).toString(),
        createdAt: r.createdAt.toISOString(),
        dueDate: r.dueDate,
        description: r.description,
        customerName: r.customerName,
        customerEmail: r.customerEmail,
        externalRef: r.externalRef,
      },
      tenant: {
        id: "tenant",
        name: r.tenantName,
        legalName: r.legalName,
        accountIban: r.iban,
        accountNumber: r.accountNumber,
        bankBic: r.bic,
      },
      installments,
      transactions: r.transactions.map((t) => ({
        id: t.id,
        installmentNumber: (t.slot % installments.length) + 1,
        status: t.status,
        amount: "1",
        gatewayReference: t.gatewayReference,
        iso20022Status: t.iso20022Status,
        iso20022Reason: t.iso20022Reason,
        updatedAt: t.updatedAt.toISOString(),
      })),
    };
  });
