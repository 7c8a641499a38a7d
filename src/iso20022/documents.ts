/**
 * The two documents an invoice has, by version, for every edge that serves
 * them (GraphQL fields in src/plugins/iso20022.ts, REST routes in
 * src/routes/documents.ts): a version the API does not offer is PTVAL (400),
 * data the schema cannot express is PTISO (422), both as PayTrustError.
 */
import { PayTrustError } from "../errors.ts";
import { INVALID_INPUT } from "./common.ts";
import { renderPain001 } from "./pain001.ts";
import { renderPain002 } from "./pain002.ts";
import type { Iso20022Invoice, Pain001Version, Pain002Version } from "./types.ts";

const PAIN001_VERSIONS: readonly string[] = ["09", "03"];
const PAIN002_VERSIONS: readonly string[] = ["10", "03"];

/** Data the schema cannot express (the renderers refuse rather than emit an invalid document). */
function unrenderable<T>(render: () => T): T {
  try {
    return render();
  } catch (error) {
    if ((error as { code?: string }).code === INVALID_INPUT) {
      throw new PayTrustError("PTISO", (error as Error).message, { httpStatus: 422 });
    }
    throw error;
  }
}

export function pain001Xml(data: Iso20022Invoice, version: string): string {
  if (!PAIN001_VERSIONS.includes(version)) {
    throw new PayTrustError("PTVAL", `pain.001 version must be "09" or "03", not "${version}"`, {
      httpStatus: 400,
    });
  }
  return unrenderable(() => renderPain001(data, { version: version as Pain001Version }));
}

export function pain002Xml(data: Iso20022Invoice, version: string): string {
  if (!PAIN002_VERSIONS.includes(version)) {
    throw new PayTrustError("PTVAL", `pain.002 version must be "10" or "03", not "${version}"`, {
      httpStatus: 400,
    });
  }
  return unrenderable(() => renderPain002(data, { version: version as Pain002Version }));
}
