import { describe, expect, it } from "@jest/globals";
import {
  INVALID_INPUT,
  type Iso20022Invoice,
  installmentEndToEndId,
  type Pain001Version,
  pain001MessageId,
  paymentInformationId,
  renderPain001,
} from "../../src/iso20022/index.ts";
import { minorToDecimal } from "../../src/money.ts";
import {
  allTransactions,
  assertSchemaValid,
  childNames,
  leafText,
  makeInvoice,
  readXml,
  type SchemaName,
  sameDay,
  sumMinor,
} from "./helpers.ts";

const VERSIONS: readonly Pain001Version[] = ["09", "03"];
const schemaOf = (version: Pain001Version): SchemaName => `pain.001.001.${version}`;

/** Renders both versions and validates each against its XSD. */
async function renderValid(data: Iso20022Invoice): Promise<Record<Pain001Version, string>> {
  const out = { "09": renderPain001(data), "03": renderPain001(data, { version: "03" }) };
  for (const version of VERSIONS) {
    await assertSchemaValid(schemaOf(version), [{ name: `v${version}`, xml: out[version] }]);
  }
  return out;
}

const initiation = (xml: string) => readXml(xml).Document.CstmrCdtTrfInitn;

function transactionsOf(xml: string): any[] {
  return allTransactions(initiation(xml));
}

/** ReqdExctnDt of a parsed PmtInf, in either version's shape. */
const executionDate = (pmtInf: any): string =>
  typeof pmtInf.ReqdExctnDt === "string" ? pmtInf.ReqdExctnDt : pmtInf.ReqdExctnDt.Dt;

/** Expects the invariant of every group: own NbOfTxs/CtrlSum, GrpHdr totals over all of them. */
function expectConsistentTotals(doc: any, exponent: number): void {
  let count = 0;
  let sum = 0n;
  for (const pmtInf of doc.PmtInf) {
    const amounts = pmtInf.CdtTrfTxInf.map((tx: any) => leafText(tx.Amt.InstdAmt));
    expect(pmtInf.NbOfTxs).toBe(String(amounts.length));
    expect(sumMinor([pmtInf.CtrlSum], exponent)).toBe(sumMinor(amounts, exponent));
    count += amounts.length;
    sum += sumMinor(amounts, exponent);
  }
  expect(doc.GrpHdr.NbOfTxs).toBe(String(count));
  expect(sumMinor([doc.GrpHdr.CtrlSum], exponent)).toBe(sum);
}

describe("pain.001 rendering", () => {
  const cases = [
    { currency: "IDR", amount: (n: number) => String(10n ** 15n - BigInt(n)) },
    { currency: "MYR", amount: (n: number) => String(1999 * n + 1) },
    { currency: "USD", amount: (n: number) => String(n === 1 ? 1 : 100_000_000 * n + 99) },
  ] as const;
  for (const { currency, amount } of cases) {
    for (const installments of [1, 12]) {
      it(`${currency}, ${installments} installment(s): valid in both versions, CtrlSum = Σ InstdAmt`, async () => {
        const data = makeInvoice({ currency, installments, amount });
        const docs = await renderValid(data);
        const exponent = data.invoice.exponent;
        const expectedSum = data.installments.reduce((acc, i) => acc + BigInt(i.total), 0n);
        for (const version of VERSIONS) {
          const doc = initiation(docs[version]);
          const txs = allTransactions(doc);
          expect(txs).toHaveLength(installments);
          // Monthly due dates: one PmtInf per installment.
          expect(doc.PmtInf).toHaveLength(installments);
          const amounts = txs.map((tx: any) => leafText(tx.Amt.InstdAmt));
          expect(amounts).toEqual(data.installments.map((i) => minorToDecimal(i.total, exponent)));
          for (const tx of txs) expect(tx.Amt.InstdAmt["@Ccy"]).toBe(currency);
          const sum = sumMinor(amounts, exponent);
          expect(sum).toBe(expectedSum);
          expect(sumMinor([doc.GrpHdr.CtrlSum], exponent)).toBe(sum);
          expect(doc.GrpHdr.CtrlSum).toBe(minorToDecimal(expectedSum, exponent));
          expect(doc.GrpHdr.NbOfTxs).toBe(String(installments));
          expectConsistentTotals(doc, exponent);
        }
      });
    }
  }

  it("renders amounts by exponent without floats (IDR whole, MYR/USD cents)", () => {
    const idr = makeInvoice({ currency: "IDR", amount: () => "145000" });
    expect(leafText(transactionsOf(renderPain001(idr))[0].Amt.InstdAmt)).toBe("145000");
    const usd = makeInvoice({ currency: "USD", amount: () => "5" });
    expect(leafText(transactionsOf(renderPain001(usd))[0].Amt.InstdAmt)).toBe("0.05");
    const big = makeInvoice({ currency: "MYR", amount: () => "999999999999999999" });
    expect(initiation(renderPain001(big)).GrpHdr.CtrlSum).toBe("9999999999999999.99");
  });

  it("follows the XSD sequences exactly (v09)", () => {
    const xml = renderPain001(makeInvoice({ installments: 2, dueDate: sameDay() }));
    const root = ["Document", "CstmrCdtTrfInitn"];
    expect(childNames(xml, ["Document"])).toEqual(["CstmrCdtTrfInitn"]);
    expect(childNames(xml, root)).toEqual(["GrpHdr", "PmtInf"]);
    expect(childNames(xml, [...root, "GrpHdr"])).toEqual([
      "MsgId",
      "CreDtTm",
      "NbOfTxs",
      "CtrlSum",
      "InitgPty",
    ]);
    expect(childNames(xml, [...root, "PmtInf"])).toEqual([
      "PmtInfId",
      "PmtMtd",
      "NbOfTxs",
      "CtrlSum",
      "ReqdExctnDt",
      "Dbtr",
      "DbtrAcct",
      "DbtrAgt",
      "CdtTrfTxInf",
      "CdtTrfTxInf",
    ]);
    expect(childNames(xml, [...root, "PmtInf", "ReqdExctnDt"])).toEqual(["Dt"]);
    expect(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf"])).toEqual([
      "PmtId",
      "Amt",
      "CdtrAgt",
      "Cdtr",
      "CdtrAcct",
      "RmtInf",
    ]);
    expect(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf", "PmtId"])).toEqual([
      "InstrId",
      "EndToEndId",
    ]);
    expect(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf", "CdtrAgt", "FinInstnId"])).toEqual([
      "BICFI",
    ]);
    // Distinct due dates: the PmtInf blocks follow GrpHdr, one after the other.
    const spread = renderPain001(makeInvoice({ installments: 3 }));
    expect(childNames(spread, root)).toEqual(["GrpHdr", "PmtInf", "PmtInf", "PmtInf"]);
  });

  it("follows the XSD sequences exactly (v03: plain ReqdExctnDt, BIC)", () => {
    const xml = renderPain001(makeInvoice(), { version: "03" });
    const pmtInf = ["Document", "CstmrCdtTrfInitn", "PmtInf"];
    expect(childNames(xml, [...pmtInf, "ReqdExctnDt"])).toEqual([]);
    expect(initiation(xml).PmtInf[0].ReqdExctnDt).toBe("2026-01-15");
    expect(childNames(xml, [...pmtInf, "CdtTrfTxInf", "CdtrAgt", "FinInstnId"])).toEqual(["BIC"]);
    expect(xml).toMatch(/<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain\.001\.001\.03">/);
  });

  it("writes the XML declaration, two-space indentation and one element per line", () => {
    const xml = renderPain001(makeInvoice({ currency: "USD", amount: () => "5" }));
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns=')).toBe(true);
    expect(xml.endsWith("</Document>\n")).toBe(true);
    expect(xml).toMatch(/\n {2}<CstmrCdtTrfInitn>\n {4}<GrpHdr>\n {6}<MsgId>PT/);
    expect(xml).toContain('\n          <InstdAmt Ccy="USD">0.05</InstdAmt>\n');
  });

  it("escapes markup in every text field and reads back the original text", async () => {
    const nasty = `Tom & Jerry <script>alert("x")</script> 'quoted'`;
    const data = makeInvoice({
      invoice: { customerName: nasty, description: "Fees & <taxes>", reference: "R&D<1>" },
      tenant: { legalName: 'A&B <Co> "Ltd"', accountNumber: "12&34" },
    });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const xml = docs[version];
      expect(xml).not.toContain("<script>");
      expect(xml).toContain(
        "Tom &amp; Jerry &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &apos;quoted&apos;",
      );
      const doc = initiation(xml);
      expect(doc.PmtInf[0].Dbtr.Nm).toBe(nasty);
      expect(doc.GrpHdr.InitgPty.Nm).toBe('A&B <Co> "Ltd"');
      const tx = doc.PmtInf[0].CdtTrfTxInf[0];
      expect(tx.Cdtr.Nm).toBe('A&B <Co> "Ltd"');
      expect(tx.CdtrAcct.Id.Othr.Id).toBe("12&34");
      expect(tx.RmtInf.Ustrd).toBe("Invoice R&D<1> due 2026-01-15 Fees & <taxes>");
    }
  });

  it("keeps non-Latin text valid and intact", async () => {
    const data = makeInvoice({
      currency: "MYR",
      invoice: { customerName: "Toko Budi 日本 ✓", description: "Pembayaran 🙂 مرحبا" },
      tenant: { legalName: null, name: "Kedai Ñandú 中文" },
    });
    const docs = await renderValid(data);
    const doc = initiation(docs["09"]);
    expect(doc.PmtInf[0].Dbtr.Nm).toBe("Toko Budi 日本 ✓");
    expect(doc.GrpHdr.InitgPty.Nm).toBe("Kedai Ñandú 中文");
    expect(doc.PmtInf[0].CdtTrfTxInf[0].RmtInf.Ustrd).toMatch(/Pembayaran 🙂 مرحبا$/);
    // Written as characters (UTF-8), not as character references.
    expect(docs["09"]).toContain("<Nm>Toko Budi 日本 ✓</Nm>");
  });

  it("cuts over-long text (300 chars) to the schema limits by code points", async () => {
    const data = makeInvoice({
      installments: 3,
      invoice: {
        customerName: "Ä".repeat(300),
        description: "😀".repeat(300),
        reference: "R".repeat(300),
      },
      tenant: { legalName: "日".repeat(300) },
    });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const doc = initiation(docs[version]);
      for (const pmtInf of doc.PmtInf) expect(pmtInf.Dbtr.Nm).toBe("Ä".repeat(140));
      expect(doc.GrpHdr.InitgPty.Nm).toBe("日".repeat(140));
      const ustrd: string = doc.PmtInf[0].CdtTrfTxInf[0].RmtInf.Ustrd;
      expect(Array.from(ustrd)).toHaveLength(140);
      expect(ustrd.startsWith(`Invoice ${"R".repeat(35)} installment 1/3 due 2026-01-15 😀`)).toBe(
        true,
      );
      // No split surrogate pair.
      expect(ustrd).not.toMatch(/[\uD800-\uDFFF]/u);
    }
  });

  it("uses placeholders where the schema needs text we do not have", async () => {
    const data = makeInvoice({
      invoice: { customerName: " \u0000\t ", description: null },
      tenant: { legalName: "", name: "", accountIban: null, accountNumber: null, bankBic: null },
    });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const pmtInf = initiation(docs[version]).PmtInf[0];
      expect(pmtInf.Dbtr.Nm).toBe("NOTPROVIDED");
      expect(pmtInf.DbtrAcct.Id.Othr.Id).toBe("NOTPROVIDED");
      expect(pmtInf.DbtrAgt.FinInstnId.Othr.Id).toBe("NOTPROVIDED");
      const tx = pmtInf.CdtTrfTxInf[0];
      expect(tx.Cdtr.Nm).toBe("NOTPROVIDED");
      expect(tx.CdtrAcct.Id.Othr.Id).toBe("NOTPROVIDED");
      expect(tx.CdtrAgt.FinInstnId.Othr.Id).toBe("NOTPROVIDED");
      expect(tx.RmtInf.Ustrd).toBe("Invoice 3f2b8a1c due 2026-01-15");
    }
  });

  it("prefers IBAN, then account number; BIC per version's pattern", async () => {
    const iban = makeInvoice({
      tenant: { accountIban: "gb82 west 1234 5698 7654 32", bankBic: "deutdeff500" },
    });
    const docs = await renderValid(iban);
    const v09 = transactionsOf(docs["09"])[0];
    expect(v09.CdtrAcct.Id.IBAN).toBe("GB82WEST12345698765432");
    expect(v09.CdtrAgt.FinInstnId.BICFI).toBe("DEUTDEFF500");
    expect(transactionsOf(docs["03"])[0].CdtrAgt.FinInstnId.BIC).toBe("DEUTDEFF500");

    // Valid BICFI since 2014 (digits in the bank code) but not a 2009 BICIdentifier.
    const digits = makeInvoice({ tenant: { bankBic: "1234IDJA" } });
    const digitDocs = await renderValid(digits);
    expect(transactionsOf(digitDocs["09"])[0].CdtrAgt.FinInstnId.BICFI).toBe("1234IDJA");
    expect(transactionsOf(digitDocs["03"])[0].CdtrAgt.FinInstnId.Othr.Id).toBe("NOTPROVIDED");

    // Malformed IBAN falls back to the account number; an over-long one to the placeholder.
    const badIban = makeInvoice({
      tenant: { accountIban: "not an iban", accountNumber: "0099-1" },
    });
    expect(transactionsOf((await renderValid(badIban))["09"])[0].CdtrAcct.Id.Othr.Id).toBe(
      "0099-1",
    );
    const longNumber = makeInvoice({ tenant: { accountNumber: "9".repeat(35) } });
    expect(transactionsOf((await renderValid(longNumber))["09"])[0].CdtrAcct.Id.Othr.Id).toBe(
      "NOTPROVIDED",
    );
  });

  it("derives stable identifiers ≤ 35 characters", () => {
    const data = makeInvoice({ installments: 12 });
    const a = renderPain001(data);
    // Deterministic output.
    expect(renderPain001(structuredClone(data))).toBe(a);
    const doc = initiation(a);
    expect(doc.GrpHdr.MsgId).toBe(pain001MessageId(data));
    expect(doc.GrpHdr.MsgId).toBe("PT3f2b8a1c5d6e4f708a9b0c1d2e3f4a5b");
    expect(initiation(renderPain001(data, { version: "03" })).GrpHdr.MsgId).toBe(doc.GrpHdr.MsgId);
    const pmtInfIds = doc.PmtInf.map((p: any) => p.PmtInfId);
    expect(pmtInfIds).toEqual(data.installments.map((_, i) => paymentInformationId(data, i + 1)));
    expect(pmtInfIds[0]).toBe("P3f2b8a1c5d6e4f708a9b0c1d2e3f4a5b01");
    expect(pmtInfIds[11]).toBe("P3f2b8a1c5d6e4f708a9b0c1d2e3f4a5b12");
    expect(new Set(pmtInfIds).size).toBe(12);
    const txs = allTransactions(doc);
    const ids = txs.map((tx: any) => tx.PmtId.EndToEndId);
    expect(new Set(ids).size).toBe(12);
    for (const [i, tx] of txs.entries()) {
      expect(tx.PmtId.EndToEndId).toBe(installmentEndToEndId(data, i + 1));
      expect(tx.PmtId.InstrId).toBe(tx.PmtId.EndToEndId);
    }
    for (const id of [doc.GrpHdr.MsgId, ...pmtInfIds, ...ids]) {
      expect(id.length).toBeGreaterThanOrEqual(1);
      expect(id.length).toBeLessThanOrEqual(35);
      expect(id).toMatch(/^[A-Za-z0-9-]+$/);
    }
    // Non-uuid ids are hashed to fit, still deterministic.
    const odd = makeInvoice({ invoice: { id: `invoice/${"x".repeat(80)}` } });
    expect(pain001MessageId(odd)).toHaveLength(34);
    expect(pain001MessageId(structuredClone(odd))).toBe(pain001MessageId(odd));
    expect(installmentEndToEndId(odd, 12).length).toBeLessThanOrEqual(35);
    expect(paymentInformationId(odd, 99)).toHaveLength(35);
    expect(() => paymentInformationId(odd, 100)).toThrow(RangeError);
  });

  it("uses the invoice's creation time unless told otherwise, and honours overrides", () => {
    const data = makeInvoice();
    const header = (xml: string) => initiation(xml).GrpHdr;
    expect(header(renderPain001(data)).CreDtTm).toBe("2025-11-28T02:15:30Z");
    const custom = header(
      renderPain001(data, { messageId: "MSG-1", createdAt: new Date("2026-02-03T04:05:06Z") }),
    );
    expect(custom.MsgId).toBe("MSG-1");
    expect(custom.CreDtTm).toBe("2026-02-03T04:05:06Z");
    const invalid = expect.objectContaining({ code: INVALID_INPUT });
    expect(() => renderPain001(data, { messageId: "M".repeat(36) })).toThrow(invalid);
    expect(() => renderPain001(data, { messageId: "  " })).toThrow(invalid);
    expect(() => renderPain001(data, { createdAt: "yesterday" })).toThrow(invalid);
  });

  it("requests execution of each PmtInf on its own due date, earliest first", () => {
    const data = makeInvoice({ installments: 3 });
    data.installments.reverse();
    data.installments[0]!.dueDate = "2025-12-31"; // installment 3, now due first
    const doc = initiation(renderPain001(data));
    expect(doc.PmtInf.map(executionDate)).toEqual(["2025-12-31", "2026-01-15", "2026-02-15"]);
    expect(doc.PmtInf.map((p: any) => p.CdtTrfTxInf.map((tx: any) => tx.PmtId.EndToEndId))).toEqual(
      [
        [installmentEndToEndId(data, 3)],
        [installmentEndToEndId(data, 1)],
        [installmentEndToEndId(data, 2)],
      ],
    );
    // Installments sharing a date share a PmtInf, and come out in installment order there.
    const shared = makeInvoice({ installments: 3, dueDate: sameDay("2026-05-01") });
    shared.installments.reverse();
    const pmtInf = initiation(renderPain001(shared)).PmtInf;
    expect(pmtInf).toHaveLength(1);
    expect(executionDate(pmtInf[0])).toBe("2026-05-01");
    expect(pmtInf[0].CdtTrfTxInf.map((tx: any) => tx.PmtId.EndToEndId.slice(-2))).toEqual([
      "01",
      "02",
      "03",
    ]);
  });

  it("a 12-month plan is one PmtInf per month, not 12 transfers executed on day one", async () => {
    const data = makeInvoice({ currency: "MYR", installments: 12 });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const doc = initiation(docs[version]);
      expect(doc.PmtInf).toHaveLength(12);
      expect(doc.PmtInf.map(executionDate)).toEqual(data.installments.map((i) => i.dueDate));
      for (const [i, pmtInf] of doc.PmtInf.entries()) {
        expect(pmtInf.NbOfTxs).toBe("1");
        expect(pmtInf.CtrlSum).toBe(minorToDecimal(data.installments[i]!.total, 2));
        expect(pmtInf.CdtTrfTxInf[0].PmtId.EndToEndId).toBe(installmentEndToEndId(data, i + 1));
      }
      expectConsistentTotals(doc, 2);
    }
  });

  it("one PmtInf per distinct due date with its own NbOfTxs and CtrlSum; GrpHdr totals all", async () => {
    // 7 installments on 3 dates, not in number order: #1-#3 and #7 on one day, #4 later, #5-#6 earliest.
    const dates: Record<number, string> = {
      1: "2026-03-01",
      2: "2026-03-01",
      3: "2026-03-01",
      4: "2026-06-30",
      5: "2026-01-31",
      6: "2026-01-31",
      7: "2026-03-01",
    };
    const data = makeInvoice({
      currency: "USD",
      installments: 7,
      amount: (n) => String(10_000 * n + n),
      dueDate: (n) => dates[n]!,
    });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const doc = initiation(docs[version]);
      expect(doc.PmtInf.map(executionDate)).toEqual(["2026-01-31", "2026-03-01", "2026-06-30"]);
      expect(doc.PmtInf.map((p: any) => p.PmtInfId)).toEqual([
        paymentInformationId(data, 1),
        paymentInformationId(data, 2),
        paymentInformationId(data, 3),
      ]);
      const numbers = doc.PmtInf.map((p: any) =>
        p.CdtTrfTxInf.map((tx: any) => Number(tx.PmtId.EndToEndId.slice(-2))),
      );
      expect(numbers).toEqual([[5, 6], [1, 2, 3, 7], [4]]);
      expect(doc.PmtInf.map((p: any) => p.NbOfTxs)).toEqual(["2", "4", "1"]);
      // Cents: 50005 + 60006; 10001 + 20002 + 30003 + 70007; 40004.
      expect(doc.PmtInf.map((p: any) => p.CtrlSum)).toEqual(["1100.11", "1300.13", "400.04"]);
      expect(doc.GrpHdr.NbOfTxs).toBe("7");
      expect(doc.GrpHdr.CtrlSum).toBe("2800.28");
      expect(sumMinor([doc.GrpHdr.CtrlSum], 2)).toBe(BigInt(data.invoice.total));
      expectConsistentTotals(doc, 2);
      // Every transaction sits in the PmtInf of its installment's due date.
      for (const pmtInf of doc.PmtInf) {
        for (const tx of pmtInf.CdtTrfTxInf) {
          expect(dates[Number(tx.PmtId.EndToEndId.slice(-2))]).toBe(executionDate(pmtInf));
        }
      }
    }
  });

  it("refuses data it cannot render correctly", () => {
    const bad = (change: (d: Iso20022Invoice) => void) => {
      const data = makeInvoice({ installments: 2 });
      change(data);
      expect(() => renderPain001(data)).toThrow(expect.objectContaining({ code: INVALID_INPUT }));
    };
    bad((d) => {
      d.installments[0]!.total = "-1";
    });
    bad((d) => {
      d.installments[0]!.total = "1.5";
    });
    bad((d) => {
      d.installments[0]!.total = "1000000000000000000";
    });
    bad((d) => {
      d.installments[1]!.total = "999999999999999999";
    });
    bad((d) => {
      d.installments = [];
    });
    bad((d) => {
      d.installments[1]!.number = 1;
    });
    bad((d) => {
      d.installments[0]!.dueDate = "2026-02-30";
    });
    bad((d) => {
      d.invoice.exponent = 2;
    });
    bad((d) => {
      (d.invoice as any).currency = "EUR";
    });
    expect(() => renderPain001(makeInvoice(), { version: "02" as any })).toThrow(RangeError);
  });
});
