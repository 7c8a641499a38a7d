import assert from "node:assert/strict";
import { describe, it } from "@jest/globals";
import {
  INVALID_INPUT,
  type Iso20022Invoice,
  type Iso20022TxStatus,
  installmentEndToEndId,
  type Pain002Version,
  pain001MessageId,
  pain002MessageId,
  renderPain001,
  renderPain002,
} from "../../src/iso20022/index.ts";
import {
  assertSchemaValid,
  childNames,
  makeInvoice,
  readXml,
  type SchemaName,
  sumMinor,
} from "./helpers.ts";

const VERSIONS: readonly Pain002Version[] = ["10", "03"];
const schemaOf = (version: Pain002Version): SchemaName => `pain.002.001.${version}`;

type Tx = Iso20022Invoice["transactions"][number];
let serial = 0;
function tx(
  installmentNumber: number,
  iso20022Status: Iso20022TxStatus,
  iso20022Reason: string | null = null,
  extra: Partial<Tx> = {},
): Tx {
  serial += 1;
  return {
    id: `9c0d6b1e-0000-4000-8000-${String(serial).padStart(12, "0")}`,
    installmentNumber,
    status: { PDNG: "pending", ACSP: "paid", ACSC: "settled", RJCT: "failed" }[iso20022Status],
    amount: "100007",
    gatewayReference: `xnd_${serial}`,
    iso20022Status,
    iso20022Reason,
    updatedAt: `2026-01-${String((serial % 28) + 1).padStart(2, "0")}T10:00:00Z`,
    ...extra,
  };
}

async function renderValid(data: Iso20022Invoice): Promise<Record<Pain002Version, string>> {
  const out = { "10": renderPain002(data), "03": renderPain002(data, { version: "03" }) };
  for (const version of VERSIONS) {
    await assertSchemaValid(schemaOf(version), [{ name: `v${version}`, xml: out[version] }]);
  }
  return out;
}

const report = (xml: string) => readXml(xml).Document.CstmrPmtStsRpt;

describe("pain.002 rendering", () => {
  it("reports every status and reason, valid in both versions", async () => {
    const transactions = [
      tx(1, "PDNG"),
      tx(1, "ACSP", "AM04"), // a reason on a non-rejection is not rendered
      tx(2, "ACSC"),
      tx(3, "RJCT", "DS24", { status: "expired" }),
      tx(3, "RJCT", "MS02", { status: "cancelled" }),
      tx(3, "RJCT", "CUST", { status: "cancelled" }),
      tx(3, "RJCT", "AM04", { status: "denied" }),
      tx(3, "RJCT", "ds24", { status: "expired" }),
      tx(3, "RJCT", "NARR", { status: "denied" }),
      tx(3, "RJCT", null, { status: "failed" }),
      tx(3, "RJCT", "XY99", { status: "failed" }),
      tx(3, "RJCT", "Card declined by issuer: do not honour & retry later <05>", {
        status: "denied",
      }),
    ];
    const data = makeInvoice({ currency: "USD", installments: 3, transactions });
    const docs = await renderValid(data);
    for (const version of VERSIONS) {
      const statuses = report(docs[version]).OrgnlPmtInfAndSts.TxInfAndSts;
      assert.equal(statuses.length, transactions.length);
      const byId = new Map(statuses.map((s: any) => [s.StsId, s]));
      const get = (t: Tx): any => byId.get(t.id.replaceAll("-", ""));
      for (const t of transactions) {
        assert.equal(get(t).TxSts, t.iso20022Status);
        assert.equal(get(t).OrgnlEndToEndId, installmentEndToEndId(data, t.installmentNumber));
        assert.equal(get(t).AcctSvcrRef, t.gatewayReference);
        if (t.iso20022Status !== "RJCT") assert.equal(get(t).StsRsnInf, undefined);
      }
      const reason = (i: number) => get(transactions[i]!).StsRsnInf;
      assert.deepEqual(reason(3), [{ Rsn: { Cd: "DS24" } }]);
      assert.deepEqual(reason(4), [{ Rsn: { Cd: "MS02" } }]);
      assert.deepEqual(reason(5), [{ Rsn: { Cd: "CUST" } }]);
      assert.deepEqual(reason(6), [{ Rsn: { Cd: "AM04" } }]);
      assert.deepEqual(reason(7), [{ Rsn: { Cd: "DS24" } }]);
      assert.deepEqual(reason(8), [{ Rsn: { Cd: "NARR" }, AddtlInf: ["Gateway status: denied"] }]);
      assert.deepEqual(reason(9), [{ Rsn: { Cd: "NARR" }, AddtlInf: ["Gateway status: failed"] }]);
      // Not in ISO's code list: proprietary, never passed off as a code.
      assert.deepEqual(reason(10), [{ Rsn: { Prtry: "XY99" } }]);
      assert.deepEqual(reason(11), [
        {
          Rsn: { Prtry: "Card declined by issuer: do not hon" },
          AddtlInf: ["Card declined by issuer: do not honour & retry later <05>"],
        },
      ]);
    }
  });

  it("points at the pain.001 of the same invoice", async () => {
    const data = makeInvoice({ currency: "MYR", installments: 12, transactions: [tx(7, "ACSP")] });
    const docs = await renderValid(data);
    for (const [version, p1] of [
      ["10", "09"],
      ["03", "03"],
    ] as const) {
      const pain001 = readXml(renderPain001(data, { version: p1 })).Document.CstmrCdtTrfInitn;
      const rpt = report(docs[version]);
      assert.equal(rpt.OrgnlGrpInfAndSts.OrgnlMsgId, pain001.GrpHdr.MsgId);
      assert.equal(rpt.OrgnlGrpInfAndSts.OrgnlMsgId, pain001MessageId(data));
      assert.equal(rpt.OrgnlGrpInfAndSts.OrgnlMsgNmId, `pain.001.001.${p1}`);
      assert.equal(rpt.OrgnlGrpInfAndSts.OrgnlNbOfTxs, "12");
      assert.equal(rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum, pain001.GrpHdr.CtrlSum);
      assert.equal(rpt.OrgnlPmtInfAndSts.OrgnlPmtInfId, pain001.PmtInf.PmtInfId);
      assert.equal(
        rpt.OrgnlPmtInfAndSts.TxInfAndSts[0].OrgnlEndToEndId,
        pain001.PmtInf.CdtTrfTxInf[6].PmtId.EndToEndId,
      );
      assert.equal(
        rpt.OrgnlPmtInfAndSts.TxInfAndSts[0].OrgnlInstrId,
        pain001.PmtInf.CdtTrfTxInf[6].PmtId.InstrId,
      );
    }
  });

  for (const currency of ["IDR", "MYR", "USD"] as const) {
    it(`${currency}: OrgnlCtrlSum = Σ installments`, async () => {
      const data = makeInvoice({
        currency,
        installments: 12,
        amount: (n) => String(10n ** 15n - BigInt(n)),
        transactions: [tx(1, "ACSC"), tx(2, "PDNG")],
      });
      const docs = await renderValid(data);
      const expected = data.installments.reduce((acc, i) => acc + BigInt(i.total), 0n);
      for (const version of VERSIONS) {
        const rpt = report(docs[version]);
        assert.equal(
          sumMinor([rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum], data.invoice.exponent),
          expected,
        );
        assert.equal(
          sumMinor([rpt.OrgnlPmtInfAndSts.OrgnlCtrlSum], data.invoice.exponent),
          expected,
        );
      }
    });
  }

  it("is a valid, pending report when no payment was attempted yet", async () => {
    const docs = await renderValid(makeInvoice({ installments: 2 }));
    for (const version of VERSIONS) {
      const rpt = report(docs[version]);
      assert.equal(rpt.OrgnlGrpInfAndSts.GrpSts, "PDNG");
      assert.equal(rpt.OrgnlPmtInfAndSts.PmtInfSts, "PDNG");
      assert.equal(rpt.OrgnlPmtInfAndSts.TxInfAndSts, undefined);
    }
  });

  it("follows the XSD sequences exactly", () => {
    const data = makeInvoice({ transactions: [tx(1, "RJCT", "AM04")] });
    for (const version of VERSIONS) {
      const xml = renderPain002(data, { version });
      const root = ["Document", "CstmrPmtStsRpt"];
      assert.match(
        xml,
        new RegExp(`xmlns="urn:iso:std:iso:20022:tech:xsd:pain\\.002\\.001\\.${version}"`),
      );
      assert.deepEqual(childNames(xml, root), ["GrpHdr", "OrgnlGrpInfAndSts", "OrgnlPmtInfAndSts"]);
      assert.deepEqual(childNames(xml, [...root, "GrpHdr"]), ["MsgId", "CreDtTm", "InitgPty"]);
      assert.deepEqual(childNames(xml, [...root, "OrgnlGrpInfAndSts"]), [
        "OrgnlMsgId",
        "OrgnlMsgNmId",
        "OrgnlNbOfTxs",
        "OrgnlCtrlSum",
      ]);
      assert.deepEqual(childNames(xml, [...root, "OrgnlPmtInfAndSts"]), [
        "OrgnlPmtInfId",
        "OrgnlNbOfTxs",
        "OrgnlCtrlSum",
        "TxInfAndSts",
      ]);
      assert.deepEqual(childNames(xml, [...root, "OrgnlPmtInfAndSts", "TxInfAndSts"]), [
        "StsId",
        "OrgnlInstrId",
        "OrgnlEndToEndId",
        "TxSts",
        "StsRsnInf",
        "AcctSvcrRef",
      ]);
    }
  });

  it("escapes and bounds gateway references", async () => {
    const transactions = [
      tx(1, "PDNG", null, { gatewayReference: "a&b<c>" }),
      tx(1, "PDNG", null, { gatewayReference: "6c2a1b9e-3f4d-4e5f-8a7b-9c0d1e2f3a4b" }),
      tx(1, "PDNG", null, { gatewayReference: "x".repeat(36) }),
      tx(1, "PDNG", null, { gatewayReference: null }),
    ];
    const docs = await renderValid(makeInvoice({ transactions }));
    const statuses = report(docs["10"]).OrgnlPmtInfAndSts.TxInfAndSts;
    assert.deepEqual(
      statuses.map((s: any) => s.AcctSvcrRef),
      ["a&b<c>", "6c2a1b9e3f4d4e5f8a7b9c0d1e2f3a4b", undefined, undefined],
    );
  });

  it("has a deterministic MsgId that changes when a status changes", () => {
    const data = makeInvoice({ transactions: [tx(1, "PDNG")] });
    const id = pain002MessageId(data);
    assert.equal(id, pain002MessageId(structuredClone(data)));
    assert.equal(id.length, 35);
    assert.notEqual(id, pain002MessageId(data, "03"));
    assert.equal(report(renderPain002(data)).GrpHdr.MsgId, id);
    const paid = structuredClone(data);
    paid.transactions[0]!.iso20022Status = "ACSP";
    assert.notEqual(pain002MessageId(paid), id);
  });

  it("dates the report at the latest transaction update, with overrides", () => {
    const data = makeInvoice({
      transactions: [
        tx(1, "RJCT", "DS24", { updatedAt: "2026-03-01T08:00:00+07:00" }),
        tx(1, "ACSP", null, { updatedAt: "2026-02-28T23:30:00Z" }),
      ],
    });
    assert.equal(report(renderPain002(data)).GrpHdr.CreDtTm, "2026-03-01T01:00:00Z");
    assert.equal(report(renderPain002(makeInvoice())).GrpHdr.CreDtTm, "2025-11-28T02:15:30Z");
    const custom = report(
      renderPain002(data, {
        version: "03",
        messageId: "STATUS-1",
        createdAt: "2026-04-01T00:00:00Z",
        originalMessageId: "ORIGINAL-1",
        originalVersion: "09",
      }),
    );
    assert.equal(custom.GrpHdr.MsgId, "STATUS-1");
    assert.equal(custom.GrpHdr.CreDtTm, "2026-04-01T00:00:00Z");
    assert.equal(custom.OrgnlGrpInfAndSts.OrgnlMsgId, "ORIGINAL-1");
    assert.equal(custom.OrgnlGrpInfAndSts.OrgnlMsgNmId, "pain.001.001.09");
  });

  it("refuses transactions it cannot report correctly", () => {
    const withTx = (t: Tx) => makeInvoice({ installments: 3, transactions: [t] });
    assert.throws(() => renderPain002(withTx(tx(4, "PDNG"))), { code: INVALID_INPUT });
    assert.throws(() => renderPain002(withTx(tx(1, "ACCC" as any))), { code: INVALID_INPUT });
    assert.throws(() => renderPain002(withTx(tx(1, "PDNG", null, { updatedAt: "n/a" }))), {
      code: INVALID_INPUT,
    });
    assert.throws(() => renderPain002(makeInvoice(), { originalMessageId: "" }), {
      code: INVALID_INPUT,
    });
  });
});
