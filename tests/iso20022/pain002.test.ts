import { describe, expect, it } from "@jest/globals";
import {
  INVALID_INPUT,
  type Iso20022Invoice,
  type Iso20022TxStatus,
  installmentEndToEndId,
  type Pain002Version,
  pain001MessageId,
  pain002MessageId,
  paymentInformationId,
  renderPain001,
  renderPain002,
} from "../../src/iso20022/index.ts";
import {
  allStatuses,
  allTransactions,
  assertSchemaValid,
  childNames,
  makeInvoice,
  readXml,
  type SchemaName,
  sameDay,
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

const invalid = () => expect.objectContaining({ code: INVALID_INPUT });

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
      const statuses = allStatuses(report(docs[version]));
      expect(statuses).toHaveLength(transactions.length);
      const byId = new Map(statuses.map((s: any) => [s.StsId, s]));
      const get = (t: Tx): any => byId.get(t.id.replaceAll("-", ""));
      for (const t of transactions) {
        expect(get(t).TxSts).toBe(t.iso20022Status);
        expect(get(t).OrgnlEndToEndId).toBe(installmentEndToEndId(data, t.installmentNumber));
        expect(get(t).AcctSvcrRef).toBe(t.gatewayReference);
        if (t.iso20022Status !== "RJCT") expect(get(t).StsRsnInf).toBe(undefined);
      }
      const reason = (i: number) => get(transactions[i]!).StsRsnInf;
      expect(reason(3)).toEqual([{ Rsn: { Cd: "DS24" } }]);
      expect(reason(4)).toEqual([{ Rsn: { Cd: "MS02" } }]);
      expect(reason(5)).toEqual([{ Rsn: { Cd: "CUST" } }]);
      expect(reason(6)).toEqual([{ Rsn: { Cd: "AM04" } }]);
      expect(reason(7)).toEqual([{ Rsn: { Cd: "DS24" } }]);
      expect(reason(8)).toEqual([{ Rsn: { Cd: "NARR" }, AddtlInf: ["Gateway status: denied"] }]);
      expect(reason(9)).toEqual([{ Rsn: { Cd: "NARR" }, AddtlInf: ["Gateway status: failed"] }]);
      // Not in ISO's code list: proprietary, never passed off as a code.
      expect(reason(10)).toEqual([{ Rsn: { Prtry: "XY99" } }]);
      expect(reason(11)).toEqual([
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
      expect(rpt.OrgnlGrpInfAndSts.OrgnlMsgId).toBe(pain001.GrpHdr.MsgId);
      expect(rpt.OrgnlGrpInfAndSts.OrgnlMsgId).toBe(pain001MessageId(data));
      expect(rpt.OrgnlGrpInfAndSts.OrgnlMsgNmId).toBe(`pain.001.001.${p1}`);
      expect(rpt.OrgnlGrpInfAndSts.OrgnlNbOfTxs).toBe("12");
      expect(rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum).toBe(pain001.GrpHdr.CtrlSum);
      expect(rpt.OrgnlPmtInfAndSts.map((p: any) => p.OrgnlPmtInfId)).toEqual(
        pain001.PmtInf.map((p: any) => p.PmtInfId),
      );
      // Installment 7 is due in July: the 7th PmtInf.
      const statuses = allStatuses(rpt);
      expect(statuses).toHaveLength(1);
      expect(rpt.OrgnlPmtInfAndSts[6].TxInfAndSts).toEqual(statuses);
      const original = allTransactions(pain001)[6];
      expect(statuses[0].OrgnlEndToEndId).toBe(original.PmtId.EndToEndId);
      expect(statuses[0].OrgnlInstrId).toBe(original.PmtId.InstrId);
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
        const exponent = data.invoice.exponent;
        expect(sumMinor([rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum], exponent)).toBe(expected);
        const perPmtInf = rpt.OrgnlPmtInfAndSts.map((p: any) => p.OrgnlCtrlSum);
        expect(sumMinor(perPmtInf, exponent)).toBe(expected);
        expect(perPmtInf.map((sum: string) => sumMinor([sum], exponent))).toEqual(
          data.installments.map((i) => BigInt(i.total)),
        );
      }
    });
  }

  it("is a valid, pending report when no payment was attempted yet", async () => {
    const docs = await renderValid(makeInvoice({ installments: 2 }));
    for (const version of VERSIONS) {
      const rpt = report(docs[version]);
      expect(rpt.OrgnlGrpInfAndSts.GrpSts).toBe("PDNG");
      expect(rpt.OrgnlPmtInfAndSts).toHaveLength(2);
      for (const pmtInf of rpt.OrgnlPmtInfAndSts) {
        expect(pmtInf.PmtInfSts).toBe("PDNG");
        expect(pmtInf.TxInfAndSts).toBe(undefined);
      }
    }
  });

  it("follows the XSD sequences exactly", () => {
    const data = makeInvoice({ transactions: [tx(1, "RJCT", "AM04")] });
    for (const version of VERSIONS) {
      const xml = renderPain002(data, { version });
      const root = ["Document", "CstmrPmtStsRpt"];
      expect(xml).toMatch(
        new RegExp(`xmlns="urn:iso:std:iso:20022:tech:xsd:pain\\.002\\.001\\.${version}"`),
      );
      expect(childNames(xml, root)).toEqual(["GrpHdr", "OrgnlGrpInfAndSts", "OrgnlPmtInfAndSts"]);
      expect(childNames(xml, [...root, "GrpHdr"])).toEqual(["MsgId", "CreDtTm", "InitgPty"]);
      expect(childNames(xml, [...root, "OrgnlGrpInfAndSts"])).toEqual([
        "OrgnlMsgId",
        "OrgnlMsgNmId",
        "OrgnlNbOfTxs",
        "OrgnlCtrlSum",
      ]);
      expect(childNames(xml, [...root, "OrgnlPmtInfAndSts"])).toEqual([
        "OrgnlPmtInfId",
        "OrgnlNbOfTxs",
        "OrgnlCtrlSum",
        "TxInfAndSts",
      ]);
      expect(childNames(xml, [...root, "OrgnlPmtInfAndSts", "TxInfAndSts"])).toEqual([
        "StsId",
        "OrgnlInstrId",
        "OrgnlEndToEndId",
        "TxSts",
        "StsRsnInf",
        "AcctSvcrRef",
      ]);
      // One OrgnlPmtInfAndSts per PmtInf; one without attempts says PDNG.
      const spread = renderPain002(
        makeInvoice({ installments: 2, transactions: [tx(2, "ACSP")] }),
        { version },
      );
      expect(childNames(spread, root)).toEqual([
        "GrpHdr",
        "OrgnlGrpInfAndSts",
        "OrgnlPmtInfAndSts",
        "OrgnlPmtInfAndSts",
      ]);
      expect(childNames(spread, [...root, "OrgnlPmtInfAndSts"])).toEqual([
        "OrgnlPmtInfId",
        "OrgnlNbOfTxs",
        "OrgnlCtrlSum",
        "PmtInfSts",
      ]);
    }
  });

  it("one OrgnlPmtInfAndSts per PmtInf, each with its own totals and transactions", async () => {
    // Installments 1-2 due together, 3 later, 4-6 together last; attempts on 1, 2, 4 and 6.
    const dates = [
      "2026-02-01",
      "2026-02-01",
      "2026-03-01",
      "2026-04-01",
      "2026-04-01",
      "2026-04-01",
    ];
    const transactions = [
      tx(6, "RJCT", "DS24", { status: "expired" }),
      tx(1, "ACSC"),
      tx(4, "ACSP"),
      tx(2, "PDNG"),
      tx(6, "ACSP"),
    ];
    const data = makeInvoice({
      currency: "IDR",
      installments: 6,
      amount: (n) => String(1_000 * n),
      dueDate: (n) => dates[n - 1]!,
      transactions,
    });
    const docs = await renderValid(data);
    for (const [version, p1] of [
      ["10", "09"],
      ["03", "03"],
    ] as const) {
      const pain001 = readXml(renderPain001(data, { version: p1 })).Document.CstmrCdtTrfInitn;
      const rpt = report(docs[version]);
      const blocks = rpt.OrgnlPmtInfAndSts;
      expect(blocks).toHaveLength(3);
      expect(pain001.PmtInf).toHaveLength(3);
      expect(blocks.map((b: any) => b.OrgnlPmtInfId)).toEqual(
        [1, 2, 3].map((g) => paymentInformationId(data, g)),
      );
      for (const [i, block] of blocks.entries()) {
        expect(block.OrgnlPmtInfId).toBe(pain001.PmtInf[i].PmtInfId);
        expect(block.OrgnlNbOfTxs).toBe(pain001.PmtInf[i].NbOfTxs);
        expect(block.OrgnlCtrlSum).toBe(pain001.PmtInf[i].CtrlSum);
        // Each status refers to a transaction of this very PmtInf.
        const own = new Set(pain001.PmtInf[i].CdtTrfTxInf.map((t: any) => t.PmtId.EndToEndId));
        for (const status of block.TxInfAndSts ?? []) {
          expect(own.has(status.OrgnlEndToEndId)).toBe(true);
        }
      }
      expect(blocks.map((b: any) => b.OrgnlNbOfTxs)).toEqual(["2", "1", "3"]);
      expect(blocks.map((b: any) => b.OrgnlCtrlSum)).toEqual(["3000", "3000", "15000"]);
      // Group totals stay over all of them.
      expect(rpt.OrgnlGrpInfAndSts.OrgnlNbOfTxs).toBe("6");
      expect(rpt.OrgnlGrpInfAndSts.OrgnlCtrlSum).toBe("21000");
      expect(rpt.OrgnlGrpInfAndSts.GrpSts).toBe(undefined);
      const numbers = (block: any) =>
        (block.TxInfAndSts ?? []).map((s: any) => Number(s.OrgnlEndToEndId.slice(-2)));
      expect(blocks.map(numbers)).toEqual([[1, 2], [], [4, 6, 6]]);
      // Nothing attempted for installment 3 yet: that PmtInf alone is pending.
      expect(blocks.map((b: any) => b.PmtInfSts)).toEqual([undefined, "PDNG", undefined]);
      expect(allStatuses(rpt)).toHaveLength(transactions.length);
    }
    // Installments sharing one date: one block holding every status.
    const shared = makeInvoice({
      installments: 3,
      dueDate: sameDay(),
      transactions: [tx(3, "ACSP"), tx(1, "PDNG")],
    });
    const rpt = report((await renderValid(shared))["10"]);
    expect(rpt.OrgnlPmtInfAndSts).toHaveLength(1);
    expect(rpt.OrgnlPmtInfAndSts[0].OrgnlNbOfTxs).toBe("3");
    expect(rpt.OrgnlPmtInfAndSts[0].TxInfAndSts).toHaveLength(2);
  });

  it("escapes and bounds gateway references", async () => {
    const transactions = [
      tx(1, "PDNG", null, { gatewayReference: "a&b<c>" }),
      tx(1, "PDNG", null, { gatewayReference: "6c2a1b9e-3f4d-4e5f-8a7b-9c0d1e2f3a4b" }),
      tx(1, "PDNG", null, { gatewayReference: "x".repeat(36) }),
      tx(1, "PDNG", null, { gatewayReference: null }),
    ];
    const docs = await renderValid(makeInvoice({ transactions }));
    const statuses = allStatuses(report(docs["10"]));
    expect(statuses.map((s: any) => s.AcctSvcrRef)).toEqual([
      "a&b<c>",
      "6c2a1b9e3f4d4e5f8a7b9c0d1e2f3a4b",
      undefined,
      undefined,
    ]);
    expect(docs["10"]).toContain("<AcctSvcrRef>a&amp;b&lt;c&gt;</AcctSvcrRef>");
  });

  it("has a deterministic MsgId that changes when a status changes", () => {
    const data = makeInvoice({ transactions: [tx(1, "PDNG")] });
    const id = pain002MessageId(data);
    expect(pain002MessageId(structuredClone(data))).toBe(id);
    expect(id).toHaveLength(35);
    expect(pain002MessageId(data, "03")).not.toBe(id);
    expect(report(renderPain002(data)).GrpHdr.MsgId).toBe(id);
    const paid = structuredClone(data);
    paid.transactions[0]!.iso20022Status = "ACSP";
    expect(pain002MessageId(paid)).not.toBe(id);
  });

  it("dates the report at the latest transaction update, with overrides", () => {
    const data = makeInvoice({
      transactions: [
        tx(1, "RJCT", "DS24", { updatedAt: "2026-03-01T08:00:00+07:00" }),
        tx(1, "ACSP", null, { updatedAt: "2026-02-28T23:30:00Z" }),
      ],
    });
    expect(report(renderPain002(data)).GrpHdr.CreDtTm).toBe("2026-03-01T01:00:00Z");
    expect(report(renderPain002(makeInvoice())).GrpHdr.CreDtTm).toBe("2025-11-28T02:15:30Z");
    const custom = report(
      renderPain002(data, {
        version: "03",
        messageId: "STATUS-1",
        createdAt: "2026-04-01T00:00:00Z",
        originalMessageId: "ORIGINAL-1",
        originalVersion: "09",
      }),
    );
    expect(custom.GrpHdr.MsgId).toBe("STATUS-1");
    expect(custom.GrpHdr.CreDtTm).toBe("2026-04-01T00:00:00Z");
    expect(custom.OrgnlGrpInfAndSts.OrgnlMsgId).toBe("ORIGINAL-1");
    expect(custom.OrgnlGrpInfAndSts.OrgnlMsgNmId).toBe("pain.001.001.09");
  });

  it("refuses transactions it cannot report correctly", () => {
    const withTx = (t: Tx) => makeInvoice({ installments: 3, transactions: [t] });
    expect(() => renderPain002(withTx(tx(4, "PDNG")))).toThrow(invalid());
    expect(() => renderPain002(withTx(tx(1, "ACCC" as any)))).toThrow(invalid());
    expect(() => renderPain002(withTx(tx(1, "PDNG", null, { updatedAt: "n/a" })))).toThrow(
      invalid(),
    );
    expect(() => renderPain002(makeInvoice(), { originalMessageId: "" })).toThrow(invalid());
  });
});
