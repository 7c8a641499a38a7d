/**
 * Shared by the ISO 20022 tests: the official XSDs (byte-exact copies in
 * tests/fixtures/iso20022), batch
 * schema validation with xmllint-wasm, invoice fixtures and an XML reader that
 * keeps every value a string (amounts must not become floats on the way back).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLParser } from "fast-xml-parser";
import { validateXML } from "xmllint-wasm";
import type { Iso20022Invoice } from "../../src/iso20022/index.ts";
import { decimalToMinor } from "../../src/money.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The project's own copies of the official XSDs: nothing is read from outside the repository. */
export const XSD_DIR = resolve(projectRoot, "tests", "fixtures", "iso20022");

export type SchemaName =
  | "pain.001.001.09"
  | "pain.001.001.03"
  | "pain.002.001.10"
  | "pain.002.001.03";

/** sha256 from the schemas' README: we validate against the byte-exact official files. */
export const XSD_SHA256: Readonly<Record<SchemaName, string>> = {
  "pain.001.001.09": "de038b373e47b0077b1832ddd81f4b2f1eb25d35721f62da1e38b7f5a09fda24",
  "pain.002.001.10": "2f9f8d0e9891fa9f31ccf0576397afe501614384d688ae6e43ba694b3d24b0cf",
  "pain.001.001.03": "6bb5c6f24250ab807f31f6164142bafd6d43bad8d162a926e258ff4c11e128af",
  "pain.002.001.03": "dfb211e63f09825ea89f0ceee870db9e82ab2840fbe8b8148d9c4c2a9a99fd87",
};

const schemaCache = new Map<SchemaName, string>();

/**
 * The XSD text, read once per process. A missing folder or file throws (so
 * the test fails) with what to do about it: skipping would let broken XML pass.
 */
export function schemaText(name: SchemaName): string {
  const cached = schemaCache.get(name);
  if (cached !== undefined) return cached;
  const path = join(XSD_DIR, `${name}.xsd`);
  if (!existsSync(path)) {
    throw new Error(
      `ISO 20022 schema ${name}.xsd not found at ${path}: the official XSDs are committed ` +
        "under tests/fixtures/iso20022 (see its README).",
    );
  }
  const text = readFileSync(path, "utf8");
  schemaCache.set(name, text);
  return text;
}

export function schemaSha256(name: SchemaName): string {
  return createHash("sha256")
    .update(readFileSync(join(XSD_DIR, `${name}.xsd`)))
    .digest("hex");
}

export interface NamedDocument {
  readonly name: string;
  readonly xml: string;
}

/**
 * Validates many documents in one xmllint run (each run starts a worker and
 * compiles the schema, so batching keeps the property test fast). Returns the
 * schema errors per document name; valid documents are absent.
 */
export async function schemaErrors(
  schema: SchemaName,
  documents: readonly NamedDocument[],
): Promise<Map<string, string[]>> {
  const files = documents.map((doc, i) => ({ fileName: `doc${i}.xml`, contents: doc.xml }));
  const result = await validateXML({
    xml: files,
    schema: { fileName: `${schema}.xsd`, contents: schemaText(schema) },
    maxMemoryPages: 4096,
  });
  const errors = new Map<string, string[]>();
  if (result.valid) return errors;
  for (const error of result.errors) {
    // Both "docN.xml:LINE: error…" and the summary "docN.xml fails to validate" start so.
    const index = Number(/^doc(\d+)\.xml\b/.exec(error.rawMessage)?.[1]);
    const name = Number.isInteger(index) ? documents[index]!.name : "(unattributed)";
    errors.set(name, [...(errors.get(name) ?? []), error.rawMessage]);
  }
  // xmllint said invalid but we could not attribute a line: still a failure.
  if (errors.size === 0) errors.set("(unattributed)", [result.rawOutput]);
  return errors;
}

/** Throws with every error (and the offending documents) unless all documents validate. */
export async function assertSchemaValid(
  schema: SchemaName,
  documents: readonly NamedDocument[],
): Promise<void> {
  const errors = await schemaErrors(schema, documents);
  if (errors.size === 0) return;
  const report = [...errors]
    .slice(0, 5)
    .map(([name, messages]) => {
      const xml = documents.find((d) => d.name === name)?.xml ?? "";
      return `${name}:\n  ${messages.join("\n  ")}\n${xml.slice(0, 4000)}`;
    })
    .join("\n\n");
  throw new Error(`${errors.size} document(s) invalid against ${schema}:\n${report}`);
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  // Only the indentation between elements is trimmed: leaves never start or end with spaces.
  trimValues: true,
  isArray: (name) =>
    ["PmtInf", "CdtTrfTxInf", "OrgnlPmtInfAndSts", "TxInfAndSts", "StsRsnInf", "AddtlInf"].includes(
      name,
    ),
});

/** Parses the XML back; leaf values and attributes stay strings. */
export function readXml(xml: string): any {
  return parser.parse(xml);
}

const orderedParser = new XMLParser({ preserveOrder: true, ignoreAttributes: true });

type OrderedNode = Record<string, OrderedNode[]>;

/** Child element names of the element at `path` (first match at each step), in document order. */
export function childNames(xml: string, path: readonly string[]): string[] {
  let nodes: OrderedNode[] = orderedParser.parse(xml);
  for (const step of path) {
    const found = nodes.find((node) => step in node);
    if (!found) throw new Error(`No ${step} in ${path.join("/")}`);
    nodes = found[step]!;
  }
  return nodes.flatMap((node) => Object.keys(node).filter((key) => key !== "#text"));
}

/** Σ of decimal amount strings in minor units, BigInt only. */
export function sumMinor(amounts: readonly string[], exponent: number): bigint {
  return amounts.reduce((acc, amount) => acc + decimalToMinor(amount, exponent), 0n);
}

/** Text of a leaf that may carry attributes (InstdAmt Ccy="…"). */
export function leafText(node: unknown): string {
  return typeof node === "object" && node !== null ? String((node as any)["#text"]) : String(node);
}

/** The 15th of month n of 2026 (n ≤ 12), then of the following years. */
export function monthly(n: number): string {
  const year = 2026 + Math.floor((n - 1) / 12);
  return `${year}-${String(((n - 1) % 12) + 1).padStart(2, "0")}-15`;
}

/** Every installment due on one date: one PmtInf holding them all. */
export const sameDay =
  (date = "2026-01-15") =>
  (_n: number): string =>
    date;

/** All CdtTrfTxInf of a pain.001 (parsed), across its PmtInf blocks, in document order. */
export function allTransactions(doc: any): any[] {
  return doc.PmtInf.flatMap((p: any) => p.CdtTrfTxInf);
}

/** All TxInfAndSts of a pain.002 (parsed), across its OrgnlPmtInfAndSts blocks. */
export function allStatuses(rpt: any): any[] {
  return (rpt.OrgnlPmtInfAndSts ?? []).flatMap((p: any) => p.TxInfAndSts ?? []);
}

export const EXPONENTS = { IDR: 0, MYR: 2, USD: 2 } as const;

/** A small, valid invoice; override any part per test. */
export function makeInvoice(
  options: {
    currency?: Iso20022Invoice["invoice"]["currency"];
    installments?: number;
    amount?: (n: number) => string;
    /** YYYY-MM-DD of installment n; default the 15th of month n of 2026 (all distinct). */
    dueDate?: (n: number) => string;
    invoice?: Partial<Iso20022Invoice["invoice"]>;
    tenant?: Partial<Iso20022Invoice["tenant"]>;
    transactions?: Iso20022Invoice["transactions"];
  } = {},
): Iso20022Invoice {
  const currency = options.currency ?? "IDR";
  const count = options.installments ?? 1;
  const amount = options.amount ?? ((n) => String(100_000 * n + 7));
  const dueDate = options.dueDate ?? monthly;
  const installments = Array.from({ length: count }, (_, i) => ({
    id: `b7a1f0c2-0000-4000-8000-${String(i + 1).padStart(12, "0")}`,
    number: i + 1,
    dueDate: dueDate(i + 1),
    total: amount(i + 1),
    status: "pending",
  }));
  const total = installments.reduce((acc, i) => acc + BigInt(i.total), 0n).toString();
  return {
    invoice: {
      id: "3f2b8a1c-5d6e-4f70-8a9b-0c1d2e3f4a5b",
      reference: "3f2b8a1c",
      currency,
      exponent: EXPONENTS[currency],
      total,
      createdAt: "2025-11-28T09:15:30.123456+07:00",
      dueDate: "2026-01-15",
      description: "Website redesign",
      customerName: "Budi Santoso",
      customerEmail: "budi@example.com",
      externalRef: "PO-42",
      ...options.invoice,
    },
    tenant: {
      id: "0a0b0c0d-0000-4000-8000-000000000001",
      name: "Toko Budi",
      legalName: "PT Toko Budi Indonesia",
      accountIban: null,
      accountNumber: "1234567890",
      bankBic: "BMRIIDJA",
      ...options.tenant,
    },
    installments,
    transactions: options.transactions ?? [],
  };
}
