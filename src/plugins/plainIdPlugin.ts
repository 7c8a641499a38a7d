/**
 * PostGraphile renames `id` columns to `rowId` to leave `id` for the Relay
 * Node interface. PayTrust disables Node, and its contract uses `id`.
 */
export const PlainIdPlugin: GraphileConfig.Plugin = {
  name: "PayTrustPlainIdPlugin",
  version: "1.0.0",
  inflection: {
    replace: {
      _attributeName(previous, _options, details) {
        return previous!.call(this, { ...details, skipRowId: true });
      },
    },
  },
};
