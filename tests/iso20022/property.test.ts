import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  type Iso20022Invoice,
  installmentEndToEndId,
  paymentInformationId,
  renderPain001,
  renderPain002,
} from "../../src/iso20022/index.ts";
import { invoiceArbitrary } from "./arbitraries.ts";
import {
  allStatuses,
  assertSchemaValid,
  leafText,
  type NamedDocument,
  readXml,
  type SchemaName,
  schemaText,
  sumMinor,
} from "./helpers.ts";

const BATCH = 50;
const RUNS = 5; // 5 × 50 = 250 random invoices, 1000 documents
const SCHEMAS: readonly SchemaName[] = [
  "pain.001.001.09",
  "pain.001.001.03",
  "pain.002.001.10",
  "pain.002.001.03",
];

/** PmtInf blocks seen holding several transactions / invoices seen with several PmtInf. */
const seen = { sharedPmtInf: 0, multiPmtInf: 0 };

/** Installment EndToEndId → due date. */
const dueDates = (data: Iso20022Invoice) =>
  new Map(data.installments.map((i) => [installmentEndToEndId(data, i.number), i.dueDate]));

function checkPain001(data: Iso20022Invoice, xml: string): void {
  const doc = readXml(xml).Document.CstmrCdtTrfInitn;
  const exponent = data.invoice.exponent;
  const dueDateOf = dueDates(data);
  const distinctDates = [...new Set(data.installments.map((i) => i.dueDate))].sort();
  // One PmtInf per distinct due date, earliest first, each with its own totals.
  expect(doc.PmtInf).toHaveLength(distinctDates.length);
  if (distinctDates.length > 1) seen.multiPmtInf += 1;
  let all: string[] = [];
  for (const [i, pmtInf] of doc.PmtInf.entries()) {
    const date =
      typeof pmtInf.ReqdExctnDt === "string" ? pmtInf.ReqdExctnDt : pmtInf.ReqdExctnDt.Dt;
    expect(date).toBe(distinctDates[i]);
    expect(pmtInf.PmtInfId).toBe(paymentInformationId(data, i + 1));
    const amounts: string[] = pmtInf.CdtTrfTxInf.map((tx: any) => leafText(tx.Amt.InstdAmt));
    expect(pmtInf.NbOfTxs).toBe(String(amounts.length));
    if (amounts.length > 1) seen.sharedPmtInf += 1;
    // PmtInf/CtrlSum = Σ its InstdAmt.
    expect(sumMinor([pmtInf.CtrlSum], exponent)).toBe(sumMinor(amounts, exponent));
    for (const tx of pmtInf.CdtTrfTxInf) expect(dueDateOf.get(tx.PmtId.EndToEndId)).toBe(date);
    all = all.concat(amounts);
  }
  const sum = sumMinor(all, exponent);
  // Σ InstdAmt = invoice total; GrpHdr/CtrlSum = Σ InstdAmt over every PmtInf.
  expect(sum).toBe(BigInt(data.invoice.total));
  expect(sumMinor([doc.GrpHdr.CtrlSum], exponent)).toBe(sum);
  expect(doc.GrpHdr.NbOfTxs).toBe(String(data.installments.length));
  expect(all).toHaveLength(data.installments.length);
}

function checkPain002(data: Iso20022Invoice, pain001: string, xml: string): void {
  const rpt = readXml(xml).Document.CstmrPmtStsRpt;
  const original = readXml(pain001).Document.CstmrCdtTrfInitn;
  const exponent = data.invoice.exponent;
  expect(sumMinor([rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum], exponent)).toBe(BigInt(data.invoice.total));
  // One OrgnlPmtInfAndSts per PmtInf, with the same id and totals.
  expect(rpt.OrgnlPmtInfAndSts).toHaveLength(original.PmtInf.length);
  for (const [i, block] of rpt.OrgnlPmtInfAndSts.entries()) {
    expect(block.OrgnlPmtInfId).toBe(original.PmtInf[i].PmtInfId);
    expect(block.OrgnlNbOfTxs).toBe(original.PmtInf[i].NbOfTxs);
    expect(block.OrgnlCtrlSum).toBe(original.PmtInf[i].CtrlSum);
    const own = new Set(original.PmtInf[i].CdtTrfTxInf.map((tx: any) => tx.PmtId.EndToEndId));
    for (const status of block.TxInfAndSts ?? [])
      expect(own.has(status.OrgnlEndToEndId)).toBe(true);
  }
  expect(allStatuses(rpt)).toHaveLength(data.transactions.length);
}

describe("ISO 20022 rendering of random invoices (property)", () => {
  it(`${BATCH * RUNS} random invoices: pain.001 and pain.002, both versions, schema-valid`, async () => {
    // Read the XSDs first: a missing folder must fail at once, not after shrinking.
    for (const schema of SCHEMAS) schemaText(schema);
    let rendered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(invoiceArbitrary, { minLength: BATCH, maxLength: BATCH }),
        async (invoices) => {
          const docs: Record<SchemaName, NamedDocument[]> = {
            "pain.001.001.09": [],
            "pain.001.001.03": [],
            "pain.002.001.10": [],
            "pain.002.001.03": [],
          };
          for (const [i, data] of invoices.entries()) {
            const p109 = renderPain001(data);
            const p103 = renderPain001(data, { version: "03" });
            const p210 = renderPain002(data);
            const p203 = renderPain002(data, { version: "03" });
            checkPain001(data, p109);
            checkPain001(data, p103);
            checkPain002(data, p109, p210);
            checkPain002(data, p103, p203);
            docs["pain.001.001.09"]!.push({ name: `invoice ${i}`, xml: p109 });
            docs["pain.001.001.03"]!.push({ name: `invoice ${i}`, xml: p103 });
            docs["pain.002.001.10"]!.push({ name: `invoice ${i}`, xml: p210 });
            docs["pain.002.001.03"]!.push({ name: `invoice ${i}`, xml: p203 });
          }
          // One xmllint run per schema and batch.
          await Promise.all(SCHEMAS.map((schema) => assertSchemaValid(schema, docs[schema])));
          rendered += invoices.length;
        },
      ),
      // Shrinking 50-invoice batches can be slow: stop it (still failing) after 40 s.
      { numRuns: RUNS, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true },
    );
    expect(rendered).toBeGreaterThanOrEqual(200);
    // The generator reaches both shapes: several PmtInf, and a PmtInf with several transactions.
    expect(seen.multiPmtInf).toBeGreaterThan(0);
    expect(seen.sharedPmtInf).toBeGreaterThan(0);
  });
});
