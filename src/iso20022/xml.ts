/**
 * A minimal element tree and serializer. ISO 20022 schemas are xs:sequence all
 * the way down, so element order is part of validity: building the tree as
 * ordered arrays makes the order exactly the order the code is written in,
 * with no object-key ordering rules in between.
 */
import { escapeXml } from "./text.ts";

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Child elements, or text content (escaped when serialized, not before). */
  readonly content: readonly XmlElement[] | string;
}

/** Optional elements are written inline as `cond && el(...)` or `value && leaf(...)`. */
export type XmlChild = XmlElement | null | undefined | false | "";

export function el(name: string, ...children: readonly XmlChild[]): XmlElement {
  return { name, attributes: {}, content: children.filter(isElement) };
}

export function leaf(
  name: string,
  text: string,
  attributes: Readonly<Record<string, string>> = {},
): XmlElement {
  return { name, attributes, content: text };
}

function isElement(child: XmlChild): child is XmlElement {
  return typeof child === "object" && child !== null;
}

function renderAttributes(attributes: Readonly<Record<string, string>>): string {
  return Object.entries(attributes)
    .map(([key, value]) => ` ${key}="${escapeXml(value)}"`)
    .join("");
}

function renderElement(element: XmlElement, depth: number): string {
  const indent = "  ".repeat(depth);
  const open = `${element.name}${renderAttributes(element.attributes)}`;
  if (typeof element.content === "string") {
    return `${indent}<${open}>${escapeXml(element.content)}</${element.name}>\n`;
  }
  if (element.content.length === 0) return `${indent}<${open}/>\n`;
  const inner = element.content.map((child) => renderElement(child, depth + 1)).join("");
  return `${indent}<${open}>\n${inner}${indent}</${element.name}>\n`;
}

/** `<Document xmlns="…">` around `body`, with the XML declaration, as UTF-8 text. */
export function renderDocument(namespace: string, body: XmlElement): string {
  const document: XmlElement = {
    name: "Document",
    attributes: { xmlns: namespace },
    content: [body],
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderElement(document, 0)}`;
}
