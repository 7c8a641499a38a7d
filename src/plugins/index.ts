/** Every schema plugin PayTrust adds to PostGraphile, in one list. */
import { ApiKeysPlugin } from "./apiKeys.ts";
import { ArgumentDescriptionsPlugin } from "./argumentDescriptions.ts";
import { ConnectionLimitsPlugin } from "./connectionLimits.ts";
import { Iso20022Plugin } from "./iso20022.ts";
import { LeanRootPlugin, RelationNamesPlugin } from "./leanRoot.ts";
import { PlainIdPlugin } from "./plainIdPlugin.ts";
import { LiveStatusPlugin } from "./subscriptions.ts";
import { WebhookEndpointsPlugin } from "./webhookEndpoints.ts";

export const schemaPlugins: GraphileConfig.Plugin[] = [
  PlainIdPlugin,
  ConnectionLimitsPlugin,
  LeanRootPlugin,
  RelationNamesPlugin,
  Iso20022Plugin,
  ApiKeysPlugin,
  WebhookEndpointsPlugin,
  LiveStatusPlugin,
  ArgumentDescriptionsPlugin,
];
