/**
 * Invoice.paymentInitiationXml / Invoice.paymentStatusReportXml: the SQL
 * function invoices_iso20022_data gathers the invoice (through RLS) in the
 * same query as the invoice itself; src/iso20022 renders it (errors are
 * PayTrustError PTVAL / PTISO, passed through by maskError).
 */
import { TYPES } from "postgraphile/@dataplan/pg";
import { lambda } from "postgraphile/grafast";
import { extendSchema } from "postgraphile/utils";
import { type Iso20022Invoice, pain001Xml, pain002Xml } from "../iso20022/index.ts";

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
