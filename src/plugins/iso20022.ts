/**
 * Invoice.paymentInitiationXml / Invoice.paymentStatusReportXml: the SQL
 * function invoices_iso20022_data gathers the invoice (through RLS) in the
 * same query as the invoice itself; src/iso20022 renders it.
 */
import { TYPES } from "postgraphile/@dataplan/pg";
import { lambda, SafeError } from "postgraphile/grafast";
import { extendSchema } from "postgraphile/utils";
import {
  INVALID_INPUT,
  type Iso20022Invoice,
  type Pain001Version,
  type Pain002Version,
  renderPain001,
  renderPain002,
} from "../iso20022/index.ts";

const PAIN001_VERSIONS: readonly string[] = ["09", "03"];
const PAIN002_VERSIONS: readonly string[] = ["10", "03"];

/** Data the schema cannot express (the renderers refuse rather than emit an invalid document). */
function unrenderable<T>(render: () => T): T {
  try {
    return render();
  } catch (error) {
    if ((error as { code?: string }).code === INVALID_INPUT) {
      throw new SafeError((error as Error).message, { code: "PTISO" });
    }
    throw error;
  }
}

export function pain001Xml(data: Iso20022Invoice, version: string): string {
  if (!PAIN001_VERSIONS.includes(version)) {
    throw new SafeError(`pain.001 version must be "09" or "03", not "${version}"`, {
      code: "PTVAL",
    });
  }
  return unrenderable(() => renderPain001(data, { version: version as Pain001Version }));
}

export function pain002Xml(data: Iso20022Invoice, version: string): string {
  if (!PAIN002_VERSIONS.includes(version)) {
    throw new SafeError(`pain.002 version must be "10" or "03", not "${version}"`, {
      code: "PTVAL",
    });
  }
  return unrenderable(() => renderPain002(data, { version: version as Pain002Version }));
}

export const Iso20022Plugin = extendSchema((build) => {
  const { sql } = build;
  const isoData = ($invoice: any) =>
    $invoice.select(
      sql`paytrust_hidden.invoices_iso20022_data(${$invoice.getClassStep().alias})`,
      TYPES.jsonb,
    );
  return {
    typeDefs: /* GraphQL */ `
      extend type Invoice {
        """
        ISO 20022 customer credit transfer initiation (pain.001) for this invoice: one transaction
        per installment. version "09" (pain.001.001.09, default) or "03" (legacy pain.001.001.03).
        """
        paymentInitiationXml(version: String! = "09"): String!
        """
        ISO 20022 payment status report (pain.002) for this invoice's payment attempts.
        version "10" (pain.002.001.10, default) or "03" (legacy pain.002.001.03).
        """
        paymentStatusReportXml(version: String! = "10"): String!
      }
    `,
    objects: {
      Invoice: {
        plans: {
          paymentInitiationXml($invoice, fieldArgs) {
            return lambda([isoData($invoice), fieldArgs.getRaw("version")], ([data, version]) =>
              pain001Xml(data as Iso20022Invoice, String(version)),
            );
          },
          paymentStatusReportXml($invoice, fieldArgs) {
            return lambda([isoData($invoice), fieldArgs.getRaw("version")], ([data, version]) =>
              pain002Xml(data as Iso20022Invoice, String(version)),
            );
          },
        },
      },
    },
  };
});
