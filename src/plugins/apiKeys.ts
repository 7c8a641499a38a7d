/**
 * createApiKey and rotateApiKey: the mutations that mint secrets. The secret
 * is generated and argon2id-hashed here (PostgreSQL cannot do argon2), then
 * written through SQL functions that check the admin role again, insert the
 * hash, link rotations and write the audit row with the request's key, IP
 * and user agent. The plaintext key exists only in this mutation's payload.
 *
 * revokeApiKey, apiKeys, apiKey(id) and apiKeyAuditLogs are generated from SQL
 * (migrations/committed/000004-api-key-lifecycle-create-rotate-with-grace-revoke-audit-of-e.sql and 1-foundation.sql).
 */

import { sideEffectWithPgClientTransaction } from "postgraphile/@dataplan/pg";
import { access, context, rootValue } from "postgraphile/grafast";
import { extendSchema, gql } from "postgraphile/utils";
import { generateApiKey, hashSecret } from "../auth/apiKeys.ts";
import type { VerifiedKey } from "../auth/keyVerifier.ts";
import { PayTrustError } from "../errors.ts";

/** Refuses before any hashing when the request's key is not an admin key. */
function assertAdmin(key: VerifiedKey | null | undefined): void {
  if (key?.role !== "admin")
    throw new PayTrustError("PTPRM", "This operation needs an admin API key");
}

interface CreateInput {
  tenantId: string;
  name: string;
  clientMutationId?: string | null;
}

interface RotateInput {
  id: string;
  graceSeconds?: number | null;
  clientMutationId?: string | null;
}

interface MintedKey {
  id: string;
  previousId: string | null;
  plaintextKey: string;
  clientMutationId: string | null;
}

export const ApiKeysPlugin = extendSchema((build) => {
  const apiKeys = Object.values(build.pgResources).find(
    (resource) =>
      !resource.parameters &&
      resource.codec.extensions?.pg?.schemaName === "paytrust_public" &&
      resource.codec.extensions?.pg?.name === "api_keys",
  );
  if (!apiKeys)
    throw new Error("ApiKeysPlugin: the paytrust_public.api_keys view is not in the registry");
  const executor = apiKeys.executor;

  const payloadPlans = {
    clientMutationId($minted: any) {
      return access($minted, "clientMutationId");
    },
    apiKey($minted: any) {
      return apiKeys.get({ id: access($minted, "id") });
    },
    plaintextKey($minted: any) {
      return access($minted, "plaintextKey");
    },
    query() {
      return rootValue();
    },
  };

  /**
   * Both mutations: refuse non-admins before any argon2 work, mint a key,
   * store only its hash through the given SQL function (which audits), and
   * return the plaintext once.
   */
  const mint = (
    $input: any,
    call: (input: unknown) => { sql: string; args: unknown[]; previousId: string | null },
  ) =>
    sideEffectWithPgClientTransaction(
      executor,
      [$input, context().get("apiKey")],
      async (client, [input, caller]): Promise<MintedKey> => {
        assertAdmin(caller as VerifiedKey | undefined);
        const { sql, args, previousId } = call(input);
        const { prefix, secret, apiKey } = generateApiKey();
        const hash = await hashSecret(secret);
        const { rows } = await client.query<{ id: string }>({
          text: `select ${sql}($1, $2, $3, $4) as id`,
          values: [...args, prefix, hash],
        });
        return {
          id: rows[0].id,
          previousId,
          plaintextKey: apiKey,
          clientMutationId: (input as { clientMutationId?: string }).clientMutationId ?? null,
        };
      },
    );

  return {
    typeDefs: gql`
      input CreateApiKeyInput {
        clientMutationId: String
        "The tenant the key acts for."
        tenantId: UUID!
        "A label for operators (1 to 200 characters)."
        name: String!
      }

      type CreateApiKeyPayload {
        clientMutationId: String
        "The new key, without its secret."
        apiKey: ApiKey
        """
        The complete key (\`pt_live_<prefix>_<secret>\`). Shown once: PayTrust stores only its
        argon2id hash and cannot show it again.
        """
        plaintextKey: String!
        query: Query
      }

      input RotateApiKeyInput {
        clientMutationId: String
        "The key to replace."
        id: UUID!
        """
        How long the old key keeps working, in seconds (0 to 2592000). 0, the default, retires
        it at once.
        """
        graceSeconds: Int = 0
      }

      type RotateApiKeyPayload {
        clientMutationId: String
        "The successor key (same tenant, role and name), without its secret."
        apiKey: ApiKey
        "The complete successor key, shown once."
        plaintextKey: String!
        "The replaced key, now with its expiresAt."
        rotatedApiKey: ApiKey
        query: Query
      }

      extend type Mutation {
        "Creates an API key for a tenant (admin keys only). The plaintext key is returned once."
        createApiKey(input: CreateApiKeyInput!): CreateApiKeyPayload
        """
        Issues a successor for a key (admin keys only); the old key stops working after
        graceSeconds. The plaintext of the new key is returned once.
        """
        rotateApiKey(input: RotateApiKeyInput!): RotateApiKeyPayload
      }
    `,
    objects: {
      Mutation: {
        plans: {
          createApiKey(_, fieldArgs) {
            return mint(fieldArgs.getRaw("input"), (input) => {
              const { tenantId, name } = input as CreateInput;
              return {
                sql: "paytrust_hidden.api_key_issue",
                args: [tenantId, name],
                previousId: null,
              };
            });
          },
          rotateApiKey(_, fieldArgs) {
            return mint(fieldArgs.getRaw("input"), (input) => {
              const { id, graceSeconds } = input as RotateInput;
              return {
                sql: "paytrust_hidden.api_key_rotate",
                args: [id, graceSeconds ?? 0],
                previousId: id,
              };
            });
          },
        },
      },
      CreateApiKeyPayload: { plans: payloadPlans },
      RotateApiKeyPayload: {
        plans: {
          ...payloadPlans,
          rotatedApiKey($minted: any) {
            return apiKeys.get({ id: access($minted, "previousId") });
          },
        },
      },
    },
  };
});
