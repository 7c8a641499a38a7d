/**
 * createWebhookEndpoint, updateWebhookEndpoint and rotateWebhookEndpointSecret:
 * the URL's addresses are checked here first (DNS cannot be resolved in SQL),
 * then SQL functions check the tenant, validate, write and audit in the
 * request's transaction. The signing secret exists only in the create and
 * rotate payloads; SQL keeps it in paytrust_private.
 *
 * deleteWebhookEndpoint, redeliverWebhookEvent, webhookEndpoints,
 * webhookDeliveries and outboundEvents are generated from
 * migrations/committed/000011-outbound-webhooks-endpoints-transactional-outbox-deliveries.sql.
 */
import { sideEffectWithPgClientTransaction } from "postgraphile/@dataplan/pg";
import { access, context, rootValue } from "postgraphile/grafast";
import { Kind } from "postgraphile/graphql";
import { extendSchema, gql } from "postgraphile/utils";
import { assertDeliverableUrl, type UrlPolicy } from "../outbound/urlPolicy.ts";

declare global {
  namespace Grafast {
    interface Context {
      /** Where outbound webhooks may point (PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS). */
      webhookUrlPolicy?: UrlPolicy;
    }
  }
}

/** Without a policy in the context (it is set by the preset), refuse private targets. */
const STRICT: UrlPolicy = { allowPrivate: false };

interface Saved {
  id: string;
  secret: string | null;
  clientMutationId: string | null;
}

export const WebhookEndpointsPlugin = extendSchema((build) => {
  const endpoints = Object.values(build.pgResources).find(
    (resource) =>
      !resource.parameters &&
      resource.codec.extensions?.pg?.schemaName === "paytrust_public" &&
      resource.codec.extensions?.pg?.name === "webhook_endpoints",
  );
  // Not migrated yet (migrations/current applied only with PAYTRUST_APPLY_CURRENT_MIGRATION):
  // add nothing rather than break the whole schema.
  if (!endpoints) return { typeDefs: { kind: Kind.DOCUMENT, definitions: [] } };
  const executor = endpoints.executor;

  const save = ($input: any, run: (input: any) => { text: string; values: unknown[] }) =>
    sideEffectWithPgClientTransaction(
      executor,
      [$input, context().get("webhookUrlPolicy")],
      async (client, [input, policy]): Promise<Saved> => {
        const raw = input as { url?: string | null; clientMutationId?: string | null };
        if (raw.url != null) await assertDeliverableUrl(raw.url, (policy as UrlPolicy) ?? STRICT);
        const { text, values } = run(input);
        const { rows } = await client.query<{ id: string; secret: string | null }>({
          text,
          values,
        });
        return {
          id: rows[0].id,
          secret: rows[0].secret ?? null,
          clientMutationId: raw.clientMutationId ?? null,
        };
      },
    );

  const payloadPlans = {
    clientMutationId($saved: any) {
      return access($saved, "clientMutationId");
    },
    webhookEndpoint($saved: any) {
      return endpoints.get({ id: access($saved, "id") });
    },
    secret($saved: any) {
      return access($saved, "secret");
    },
    query() {
      return rootValue();
    },
  };

  return {
    typeDefs: gql`
      input CreateWebhookEndpointInput {
        clientMutationId: String
        """
        Where events are POSTed: https (plain http and private, loopback or link-local
        addresses only where PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS allows them).
        """
        url: String!
        """
        Event types to receive (see webhookEventTypes), or ["*"] for all.
        """
        eventTypes: [String!]!
        "A note for the merchant (at most 500 characters)."
        description: String
      }

      type CreateWebhookEndpointPayload {
        clientMutationId: String
        webhookEndpoint: WebhookEndpoint
        """
        The signing secret (\`whsec_…\`): verify PayTrust-Signature with it (docs/webhooks.md).
        Shown once: it cannot be read back.
        """
        secret: String!
        query: Query
      }

      input UpdateWebhookEndpointInput {
        clientMutationId: String
        id: UUID!
        "A new URL (checked like createWebhookEndpoint's)."
        url: String
        eventTypes: [String!]
        "false pauses deliveries; true re-enables an endpoint (also one PayTrust disabled)."
        enabled: Boolean
        description: String
      }

      type UpdateWebhookEndpointPayload {
        clientMutationId: String
        webhookEndpoint: WebhookEndpoint
        query: Query
      }

      input RotateWebhookEndpointSecretInput {
        clientMutationId: String
        id: UUID!
        """
        How long the current secret keeps signing next to the new one, in seconds (0 to
        604800; default one day). During that time deliveries carry two v1= signatures.
        """
        graceSeconds: Int = 86400
      }

      type RotateWebhookEndpointSecretPayload {
        clientMutationId: String
        webhookEndpoint: WebhookEndpoint
        "The new signing secret, shown once."
        secret: String!
        query: Query
      }

      extend type Mutation {
        "Registers a URL that receives signed event notifications; returns its secret once."
        createWebhookEndpoint(input: CreateWebhookEndpointInput!): CreateWebhookEndpointPayload
        "Changes a webhook endpoint's URL, event types, description or enabled state."
        updateWebhookEndpoint(input: UpdateWebhookEndpointInput!): UpdateWebhookEndpointPayload
        "Issues a new signing secret; the old one stays valid for graceSeconds."
        rotateWebhookEndpointSecret(
          input: RotateWebhookEndpointSecretInput!
        ): RotateWebhookEndpointSecretPayload
      }
    `,
    objects: {
      Mutation: {
        plans: {
          createWebhookEndpoint(_, fieldArgs) {
            return save(fieldArgs.getRaw("input"), (input) => ({
              text: "select id, secret from paytrust_hidden.create_webhook_endpoint($1, $2, $3)",
              values: [input.url, input.eventTypes, input.description ?? null],
            }));
          },
          updateWebhookEndpoint(_, fieldArgs) {
            return save(fieldArgs.getRaw("input"), (input) => ({
              text: "select (paytrust_hidden.update_webhook_endpoint($1, $2, $3, $4, $5)).id",
              values: [
                input.id,
                input.url ?? null,
                input.eventTypes ?? null,
                input.enabled ?? null,
                input.description ?? null,
              ],
            }));
          },
          rotateWebhookEndpointSecret(_, fieldArgs) {
            return save(fieldArgs.getRaw("input"), (input) => ({
              text: "select $1::uuid as id, secret from paytrust_hidden.rotate_webhook_endpoint_secret($1, $2)",
              values: [input.id, input.graceSeconds ?? 86400],
            }));
          },
        },
      },
      CreateWebhookEndpointPayload: { plans: payloadPlans },
      UpdateWebhookEndpointPayload: {
        plans: {
          clientMutationId: payloadPlans.clientMutationId,
          webhookEndpoint: payloadPlans.webhookEndpoint,
          query: payloadPlans.query,
        },
      },
      RotateWebhookEndpointSecretPayload: { plans: payloadPlans },
    },
  };
});
