import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import fc from "fast-check";
import { type Iso20022Invoice, renderPain001, renderPain002 } from "../../src/iso20022/index.ts";
import { invoiceArbitrary } from "./arbitraries.ts";
import {
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

function checkPain001(data: Iso20022Invoice, xml: string): void {
  const doc = readXml(xml).Document.CstmrCdtTrfInitn;
  const exponent = data.invoice.exponent;
  const amounts: string[] = doc.PmtInf.CdtTrfTxInf.map((tx: any) => leafText(tx.Amt.InstdAmt));
  const sum = sumMinor(amounts, exponent);
  assert.equal(sum, BigInt(data.invoice.total), "Σ InstdAmt = invoice total");
  assert.equal(sumMinor([doc.GrpHdr.CtrlSum], exponent), sum, "GrpHdr/CtrlSum = Σ InstdAmt");
  assert.equal(sumMinor([doc.PmtInf.CtrlSum], exponent), sum, "PmtInf/CtrlSum = Σ InstdAmt");
  assert.equal(doc.GrpHdr.NbOfTxs, String(data.installments.length));
}

function checkPain002(data: Iso20022Invoice, xml: string): void {
  const rpt = readXml(xml).Document.CstmrPmtStsRpt;
  const exponent = data.invoice.exponent;
  assert.equal(
    sumMinor([rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum], exponent),
    BigInt(data.invoice.total),
  );
  assert.equal(rpt.OrgnlPmtInfAndSts.TxInfAndSts?.length ?? 0, data.transactions.length);
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
            checkPain002(data, p210);
            checkPain002(data, p203);
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
    assert.ok(rendered >= 200, `only ${rendered} invoices checked`);
  });
});
