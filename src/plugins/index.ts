/** Every schema plugin PayTrust adds to PostGraphile, in one list. */
import { PlainIdPlugin } from "./plainIdPlugin.ts";

export const schemaPlugins: GraphileConfig.Plugin[] = [PlainIdPlugin];
