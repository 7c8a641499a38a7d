/**
 * XML output through fast-xml-parser's XMLBuilder. A document is a plain
 * object tree: ISO 20022 schemas are xs:sequence all the way down, so element
 * order is part of validity, and XMLBuilder writes elements in object key
 * order (the order the keys are written in the code: element names are never
 * integer-like, so JavaScript keeps insertion order). A repeated element is one
 * key holding an array; an `undefined` value leaves an optional element out.
 * Attributes are `@name` keys; `#text` is the text beside attributes.
 */
import { XMLBuilder } from "fast-xml-parser";
import { xmlChars } from "./text.ts";

/** Content of one element: its text, its children, or (for a repeated element) the list. */
export type XmlValue = string | XmlElement | readonly (XmlElement | string)[] | undefined;

/** Child elements by name, in schema order. `@…` keys are attributes, `#text` is text. */
export interface XmlElement {
  readonly [name: string]: XmlValue;
}

const builder = new XMLBuilder({
  format: true,
  indentBy: "  ",
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  // An element without content (none is rendered today) is written <X/>.
  suppressEmptyNode: true,
  // An attribute whose value is "true" keeps its value (XML has no bare attributes).
  suppressBooleanAttributes: false,
  // The five markup characters become &amp; &lt; &gt; &apos; &quot; (XMLBuilder's entities).
  processEntities: true,
  // Last line of defence for values that did not come through cleanText (identifiers,
  // overrides): characters XML 1.0 cannot carry are dropped before escaping.
  tagValueProcessor: (_name, value) => xmlChars(String(value)),
  attributeValueProcessor: (_name, value) => xmlChars(String(value)),
});

/** A leaf with attributes: `<InstdAmt Ccy="IDR">145000</InstdAmt>`. */
export function withAttributes(
  text: string,
  attributes: Readonly<Record<string, string>>,
): XmlElement {
  const element: Record<string, string> = {};
  for (const [name, value] of Object.entries(attributes)) element[`@${name}`] = value;
  element["#text"] = text;
  return element;
}

/** Serializes elements (no declaration), two-space indented, one element per line. */
export function buildXml(tree: XmlElement): string {
  return builder.build(tree);
}

/** `<Document xmlns="…">` around the message element, with the XML declaration, as UTF-8 text. */
export function renderDocument(namespace: string, messageName: string, body: XmlElement): string {
  return buildXml({
    "?xml": { "@version": "1.0", "@encoding": "UTF-8" },
    Document: { "@xmlns": namespace, [messageName]: body },
  });
}
