import { describe, expect, it } from "@jest/globals";
import { renderPain001 } from "../../src/iso20022/index.ts";
import {
  makeInvoice,
  type SchemaName,
  schemaErrors,
  schemaSha256,
  schemaText,
  XSD_DIR,
  XSD_SHA256,
} from "./helpers.ts";

describe("ISO 20022 schemas used by the tests", () => {
  for (const name of Object.keys(XSD_SHA256) as SchemaName[]) {
    it(`reads ${name}.xsd from ${XSD_DIR}, byte-exact`, () => {
      // Fails (never skips) when the folder is missing: see schemaText's message.
      expect(schemaText(name)).toMatch(/<xs:schema /);
      // A different hash: the file differs from the official one.
      expect(schemaSha256(name)).toBe(XSD_SHA256[name]);
    });
  }

  // Guards the guard: if validation silently passed everything, every other test would lie.
  it("rejects what the schema forbids and attributes errors to the right document", async () => {
    const good = renderPain001(makeInvoice());
    const withName = (name: string) => good.replace("<Nm>Budi Santoso</Nm>", `<Nm>${name}</Nm>`);
    const swapped = good.replace(
      /(<Dbtr>[\s\S]*?<\/Dbtr>\s*)(<DbtrAcct>[\s\S]*?<\/DbtrAcct>\s*)/,
      "$2$1",
    );
    expect(swapped).not.toBe(good);
    const errors = await schemaErrors("pain.001.001.09", [
      { name: "good", xml: good },
      { name: "140 emoji", xml: withName("😀".repeat(140)) },
      { name: "141 emoji", xml: withName("😀".repeat(141)) },
      { name: "empty name", xml: withName("") },
      { name: "Dbtr after DbtrAcct", xml: swapped },
      { name: "no PmtMtd", xml: good.replace("<PmtMtd>TRF</PmtMtd>", "") },
      {
        name: "19 digits",
        xml: good.replace(/<CtrlSum>\d+<\/CtrlSum>/, "<CtrlSum>1000000000000000000</CtrlSum>"),
      },
    ]);
    expect([...errors.keys()].sort()).toEqual(
      ["141 emoji", "19 digits", "Dbtr after DbtrAcct", "empty name", "no PmtMtd"].sort(),
    );
  });
});
