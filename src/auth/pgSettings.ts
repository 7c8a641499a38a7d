/**
 * The PostgreSQL settings of one request, from its verified API key: the role
 * and the claims RLS and the SQL functions read (`paytrust.tenant_id`, …),
 * nothing taken from the client. PostGraphile applies them per request (the
 * preset) and the REST document routes do the same (src/routes/documents.ts).
 */
import type { Request } from "express";
import type {} from "./middleware.ts";

export function pgSettingsFor(
  req: Request | undefined,
  publicBaseUrl: string,
): Record<string, string> {
  const key = req?.apiKey;
  // Unreachable behind the auth middleware; a request without a key gets a tenant that owns nothing.
  if (!key)
    return {
      role: "paytrust_tenant",
      "paytrust.tenant_id": "00000000-0000-0000-0000-000000000000",
    };
  return {
    "paytrust.public_base_url": publicBaseUrl,
    role: key.role === "admin" ? "paytrust_admin" : "paytrust_tenant",
    "paytrust.role": key.role,
    "paytrust.tenant_id": key.tenantId ?? "",
    "paytrust.api_key_id": key.id,
    "paytrust.ip": req?.ip ?? "",
    "paytrust.user_agent": String(req?.headers["user-agent"] ?? "").slice(0, 512),
  };
}
