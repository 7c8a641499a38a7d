import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
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
  assertSchemaValid,
  childNames,
  leafText,
  makeInvoice,
  readXml,
  type SchemaName,
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

function transactionsOf(xml: string): any[] {
  return readXml(xml).Document.CstmrCdtTrfInitn.PmtInf.CdtTrfTxInf;
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
          const doc = readXml(docs[version]).Document.CstmrCdtTrfInitn;
          const txs = doc.PmtInf.CdtTrfTxInf;
          assert.equal(txs.length, installments);
          const amounts = txs.map((tx: any) => leafText(tx.Amt.InstdAmt));
          assert.deepEqual(
            amounts,
            data.installments.map((i) => minorToDecimal(i.total, exponent)),
          );
          for (const tx of txs) assert.equal(tx.Amt.InstdAmt["@Ccy"], currency);
          const sum = sumMinor(amounts, exponent);
          assert.equal(sum, expectedSum);
          assert.equal(sumMinor([doc.GrpHdr.CtrlSum], exponent), sum);
          assert.equal(sumMinor([doc.PmtInf.CtrlSum], exponent), sum);
          assert.equal(doc.GrpHdr.CtrlSum, minorToDecimal(expectedSum, exponent));
          assert.equal(doc.GrpHdr.NbOfTxs, String(installments));
          assert.equal(doc.PmtInf.NbOfTxs, String(installments));
        }
      });
    }
  }

  it("renders amounts by exponent without floats (IDR whole, MYR/USD cents)", () => {
    const idr = makeInvoice({ currency: "IDR", amount: () => "145000" });
    assert.equal(leafText(transactionsOf(renderPain001(idr))[0].Amt.InstdAmt), "145000");
    const usd = makeInvoice({ currency: "USD", amount: () => "5" });
    assert.equal(leafText(transactionsOf(renderPain001(usd))[0].Amt.InstdAmt), "0.05");
    const big = makeInvoice({ currency: "MYR", amount: () => "999999999999999999" });
    assert.equal(
      readXml(renderPain001(big)).Document.CstmrCdtTrfInitn.GrpHdr.CtrlSum,
      "9999999999999999.99",
    );
  });

  it("follows the XSD sequences exactly (v09)", () => {
    const xml = renderPain001(makeInvoice({ installments: 2 }));
    const root = ["Document", "CstmrCdtTrfInitn"];
    assert.deepEqual(childNames(xml, ["Document"]), ["CstmrCdtTrfInitn"]);
    assert.deepEqual(childNames(xml, root), ["GrpHdr", "PmtInf"]);
    assert.deepEqual(childNames(xml, [...root, "GrpHdr"]), [
      "MsgId",
      "CreDtTm",
      "NbOfTxs",
      "CtrlSum",
      "InitgPty",
    ]);
    assert.deepEqual(childNames(xml, [...root, "PmtInf"]), [
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
    assert.deepEqual(childNames(xml, [...root, "PmtInf", "ReqdExctnDt"]), ["Dt"]);
    assert.deepEqual(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf"]), [
      "PmtId",
      "Amt",
      "CdtrAgt",
      "Cdtr",
      "CdtrAcct",
      "RmtInf",
    ]);
    assert.deepEqual(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf", "PmtId"]), [
      "InstrId",
      "EndToEndId",
    ]);
    assert.deepEqual(childNames(xml, [...root, "PmtInf", "CdtTrfTxInf", "CdtrAgt", "FinInstnId"]), [
      "BICFI",
    ]);
  });

  it("follows the XSD sequences exactly (v03: plain ReqdExctnDt, BIC)", () => {
    const xml = renderPain001(makeInvoice(), { version: "03" });
    const pmtInf = ["Document", "CstmrCdtTrfInitn", "PmtInf"];
    assert.deepEqual(childNames(xml, [...pmtInf, "ReqdExctnDt"]), []);
    assert.equal(readXml(xml).Document.CstmrCdtTrfInitn.PmtInf.ReqdExctnDt, "2026-01-15");
    assert.deepEqual(childNames(xml, [...pmtInf, "CdtTrfTxInf", "CdtrAgt", "FinInstnId"]), ["BIC"]);
    assert.match(xml, /<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain\.001\.001\.03">/);
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
      assert.ok(!xml.includes("<script>"));
      assert.ok(
        xml.includes(
          "Tom &amp; Jerry &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &apos;quoted&apos;",
        ),
      );
      const doc = readXml(xml).Document.CstmrCdtTrfInitn;
      assert.equal(doc.PmtInf.Dbtr.Nm, nasty);
      assert.equal(doc.GrpHdr.InitgPty.Nm, 'A&B <Co> "Ltd"');
      const tx = doc.PmtInf.CdtTrfTxInf[0];
      assert.equal(tx.Cdtr.Nm, 'A&B <Co> "Ltd"');
      assert.equal(tx.CdtrAcct.Id.Othr.Id, "12&34");
      assert.equal(tx.RmtInf.Ustrd, "Invoice R&D<1> due 2026-01-15 Fees & <taxes>");
    }
  });

  it("keeps non-Latin text valid and intact", async () => {
    const data = makeInvoice({
      currency: "MYR",
      invoice: { customerName: "Toko Budi 日本 ✓", description: "Pembayaran 🙂 مرحبا" },
      tenant: { legalName: null, name: "Kedai Ñandú 中文" },
    });
    const docs = await renderValid(data);
    const doc = readXml(docs["09"]).Document.CstmrCdtTrfInitn;
    assert.equal(doc.PmtInf.Dbtr.Nm, "Toko Budi 日本 ✓");
    assert.equal(doc.GrpHdr.InitgPty.Nm, "Kedai Ñandú 中文");
    assert.match(doc.PmtInf.CdtTrfTxInf[0].RmtInf.Ustrd, /Pembayaran 🙂 مرحبا$/);
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
      const doc = readXml(docs[version]).Document.CstmrCdtTrfInitn;
      assert.equal(doc.PmtInf.Dbtr.Nm, "Ä".repeat(140));
      assert.equal(doc.GrpHdr.InitgPty.Nm, "日".repeat(140));
      const ustrd: string = doc.PmtInf.CdtTrfTxInf[0].RmtInf.Ustrd;
      assert.equal(Array.from(ustrd).length, 140);
      assert.ok(ustrd.startsWith(`Invoice ${"R".repeat(35)} installment 1/3 due 2026-01-15 😀`));
      assert.doesNotMatch(ustrd, /[\uD800-\uDFFF]/u, "no split surrogate pair");
    }
  });

  it("uses placeholders where the schema needs text we do not have", async () => {
    const data = makeInvoice({
      invoice: { customerName: " \u0000\t ", description: null },
      tenant: { legalName: "", name: "", accountIban: null, accountNumber: null, bankBic: null },
    });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const pmtInf = readXml(docs[version]).Document.CstmrCdtTrfInitn.PmtInf;
      assert.equal(pmtInf.Dbtr.Nm, "NOTPROVIDED");
      assert.equal(pmtInf.DbtrAcct.Id.Othr.Id, "NOTPROVIDED");
      assert.equal(pmtInf.DbtrAgt.FinInstnId.Othr.Id, "NOTPROVIDED");
      const tx = pmtInf.CdtTrfTxInf[0];
      assert.equal(tx.Cdtr.Nm, "NOTPROVIDED");
      assert.equal(tx.CdtrAcct.Id.Othr.Id, "NOTPROVIDED");
      assert.equal(tx.CdtrAgt.FinInstnId.Othr.Id, "NOTPROVIDED");
      assert.equal(tx.RmtInf.Ustrd, "Invoice 3f2b8a1c due 2026-01-15");
    }
  });

  it("prefers IBAN, then account number; BIC per version's pattern", async () => {
    const iban = makeInvoice({
      tenant: { accountIban: "gb82 west 1234 5698 7654 32", bankBic: "deutdeff500" },
    });
    const docs = await renderValid(iban);
    const v09 = transactionsOf(docs["09"])[0];
    assert.equal(v09.CdtrAcct.Id.IBAN, "GB82WEST12345698765432");
    assert.equal(v09.CdtrAgt.FinInstnId.BICFI, "DEUTDEFF500");
    assert.equal(transactionsOf(docs["03"])[0].CdtrAgt.FinInstnId.BIC, "DEUTDEFF500");

    // Valid BICFI since 2014 (digits in the bank code) but not a 2009 BICIdentifier.
    const digits = makeInvoice({ tenant: { bankBic: "1234IDJA" } });
    const digitDocs = await renderValid(digits);
    assert.equal(transactionsOf(digitDocs["09"])[0].CdtrAgt.FinInstnId.BICFI, "1234IDJA");
    assert.equal(transactionsOf(digitDocs["03"])[0].CdtrAgt.FinInstnId.Othr.Id, "NOTPROVIDED");

    // Malformed IBAN falls back to the account number; an over-long one to the placeholder.
    const badIban = makeInvoice({
      tenant: { accountIban: "not an iban", accountNumber: "0099-1" },
    });
    assert.equal(
      transactionsOf((await renderValid(badIban))["09"])[0].CdtrAcct.Id.Othr.Id,
      "0099-1",
    );
    const longNumber = makeInvoice({ tenant: { accountNumber: "9".repeat(35) } });
    assert.equal(
      transactionsOf((await renderValid(longNumber))["09"])[0].CdtrAcct.Id.Othr.Id,
      "NOTPROVIDED",
    );
  });

  it("derives stable identifiers ≤ 35 characters", () => {
    const data = makeInvoice({ installments: 12 });
    const a = renderPain001(data);
    assert.equal(a, renderPain001(structuredClone(data)), "deterministic output");
    const doc = readXml(a).Document.CstmrCdtTrfInitn;
    assert.equal(doc.GrpHdr.MsgId, pain001MessageId(data));
    assert.equal(doc.GrpHdr.MsgId, "PT3f2b8a1c5d6e4f708a9b0c1d2e3f4a5b");
    assert.equal(
      readXml(renderPain001(data, { version: "03" })).Document.CstmrCdtTrfInitn.GrpHdr.MsgId,
      doc.GrpHdr.MsgId,
    );
    assert.equal(doc.PmtInf.PmtInfId, paymentInformationId(data));
    const ids = doc.PmtInf.CdtTrfTxInf.map((tx: any) => tx.PmtId.EndToEndId);
    assert.equal(new Set(ids).size, 12);
    for (const [i, tx] of doc.PmtInf.CdtTrfTxInf.entries()) {
      assert.equal(tx.PmtId.EndToEndId, installmentEndToEndId(data, i + 1));
      assert.equal(tx.PmtId.InstrId, tx.PmtId.EndToEndId);
    }
    for (const id of [doc.GrpHdr.MsgId, doc.PmtInf.PmtInfId, ...ids]) {
      assert.ok(id.length >= 1 && id.length <= 35, id);
      assert.match(id, /^[A-Za-z0-9-]+$/);
    }
    // Non-uuid ids are hashed to fit, still deterministic.
    const odd = makeInvoice({ invoice: { id: `invoice/${"x".repeat(80)}` } });
    assert.equal(pain001MessageId(odd).length, 34);
    assert.equal(pain001MessageId(odd), pain001MessageId(structuredClone(odd)));
    assert.ok(installmentEndToEndId(odd, 12).length <= 35);
  });

  it("uses the invoice's creation time unless told otherwise, and honours overrides", () => {
    const data = makeInvoice();
    const header = (xml: string) => readXml(xml).Document.CstmrCdtTrfInitn.GrpHdr;
    assert.equal(header(renderPain001(data)).CreDtTm, "2025-11-28T02:15:30Z");
    const custom = header(
      renderPain001(data, { messageId: "MSG-1", createdAt: new Date("2026-02-03T04:05:06Z") }),
    );
    assert.equal(custom.MsgId, "MSG-1");
    assert.equal(custom.CreDtTm, "2026-02-03T04:05:06Z");
    assert.throws(() => renderPain001(data, { messageId: "M".repeat(36) }), {
      code: INVALID_INPUT,
    });
    assert.throws(() => renderPain001(data, { messageId: "  " }), { code: INVALID_INPUT });
    assert.throws(() => renderPain001(data, { createdAt: "yesterday" }), { code: INVALID_INPUT });
  });

  it("requests execution on the earliest installment due date", () => {
    const data = makeInvoice({ installments: 3 });
    data.installments.reverse();
    data.installments[0]!.dueDate = "2025-12-31";
    const pmtInf = readXml(renderPain001(data)).Document.CstmrCdtTrfInitn.PmtInf;
    assert.equal(pmtInf.ReqdExctnDt.Dt, "2025-12-31");
    // Transactions still come out in installment order.
    assert.deepEqual(
      pmtInf.CdtTrfTxInf.map((tx: any) => tx.PmtId.EndToEndId.slice(-2)),
      ["01", "02", "03"],
    );
  });

  it("refuses data it cannot render correctly", () => {
    const bad = (change: (d: Iso20022Invoice) => void) => {
      const data = makeInvoice({ installments: 2 });
      change(data);
      assert.throws(() => renderPain001(data), { code: INVALID_INPUT });
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
    assert.throws(() => renderPain001(makeInvoice(), { version: "02" as any }), RangeError);
  });
});
