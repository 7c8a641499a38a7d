/**
 * ISO 20022 rendering: pure functions from the invoice JSON (produced by SQL)
 * to pain.001 / pain.002 XML. No database access, no I/O, no clock: the same
 * input renders the same bytes.
 */
export { INVALID_INPUT } from "./common.ts";
export { pain001Xml, pain002Xml } from "./documents.ts";
export {
  compactKey,
  installmentEndToEndId,
  pain001MessageId,
  pain002MessageId,
  paymentInformationId,
} from "./ids.ts";
export { PAIN001_NAMESPACES, pain001MessageName, renderPain001 } from "./pain001.ts";
export { PAIN002_NAMESPACES, renderPain002 } from "./pain002.ts";
export { KNOWN_STATUS_REASON_CODES } from "./reasons.ts";
export type {
  Iso20022Invoice,
  Iso20022TxStatus,
  Pain001Options,
  Pain001Version,
  Pain002Options,
  Pain002Version,
} from "./types.ts";
