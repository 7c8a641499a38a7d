/**
 * Where outbound webhooks may go. Unless private targets are allowed
 * (PAYTRUST_WEBHOOK_ALLOW_PRIVATE_URLS, on by default only in development,
 * sandbox and tests): https only, and every address the host resolves to must
 * be public: no loopback, private, link-local, CGNAT, multicast, unspecified
 * or documentation ranges, in IPv4 or IPv6 (including IPv4-mapped IPv6).
 * The check runs when an endpoint is saved and again inside every delivery's
 * connection (the socket connects only to an address that passed), so a DNS
 * answer that changes after the check (DNS rebinding) cannot reach inside.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";
import { PayTrustError } from "../errors.ts";

export interface UrlPolicy {
  /** Private, loopback and link-local targets (and plain http) are allowed. */
  allowPrivate: boolean;
}

/** A refused webhook URL: PTURL, which grafserv's maskError passes through (docs/errors.md). */
const refused = (message: string) => new PayTrustError("PTURL", message);

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network", unspecified
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local (cloud metadata services)
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["64:ff9b::", 96], // NAT64 (embeds IPv4)
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True when an address must not receive webhooks (IPv4-mapped IPv6 is checked as IPv4). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, "ipv4");
  if (family === 6) {
    const lower = address.toLowerCase();
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return blocked.check(mapped[1], "ipv4");
    // ::ffff:7f00:1 and IPv4-compatible ::a.b.c.d forms
    const hexMapped = /^::(ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
    if (hexMapped) {
      const hi = Number.parseInt(hexMapped[2], 16);
      const lo = Number.parseInt(hexMapped[3], 16);
      return blocked.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
    }
    if (/^::(ffff:)?\d+\.\d+\.\d+\.\d+$/.test(lower)) return true;
    return blocked.check(address, "ipv6");
  }
  return true; // not an address at all
}

/** The URL's shape: absolute http(s), no credentials, https unless private targets are allowed. */
export function parseWebhookUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused("Webhook URL is not a valid absolute URL");
  }
  if (raw.length > 2048) throw refused("Webhook URL is longer than 2048 characters");
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw refused("Webhook URL must use https");
  if (url.protocol === "http:" && !policy.allowPrivate) throw refused("Webhook URL must use https");
  if (url.username || url.password) throw refused("Webhook URL must not contain credentials");
  if (url.hash) throw refused("Webhook URL must not contain a fragment");
  return url;
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/** Resolves a host; every address must pass unless private targets are allowed. */
export async function resolvePermitted(host: string, policy: UrlPolicy): Promise<LookupAddress[]> {
  const addresses: LookupAddress[] = isIP(host)
    ? [{ address: host, family: isIP(host) }]
    : await new Promise((resolve, reject) =>
        dnsLookup(host, { all: true, verbatim: true }, (error, result) =>
          error
            ? reject(refused(`Webhook host ${host} does not resolve (${error.code})`))
            : resolve(result),
        ),
      );
  if (addresses.length === 0) throw refused(`Webhook host ${host} does not resolve`);
  if (!policy.allowPrivate) {
    const bad = addresses.find((a) => isBlockedAddress(a.address));
    if (bad)
      throw refused(
        `Webhook host ${host} resolves to a private, loopback or link-local address (${bad.address}); refused`,
      );
  }
  return addresses;
}

/** Checks a URL a tenant saves: shape, then every resolved address. */
export async function assertDeliverableUrl(raw: string, policy: UrlPolicy): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  await resolvePermitted(hostOf(url), policy);
  return url;
}

/**
 * A `lookup` for http(s).request: resolves and checks at connection time and
 * hands the socket only checked addresses (DNS rebinding protection).
 */
export function guardedLookup(policy: UrlPolicy) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: (
      error: NodeJS.ErrnoException | null,
      address: string | LookupAddress[],
      family?: number,
    ) => void,
  ) => {
    resolvePermitted(hostname.replace(/^\[(.*)\]$/, "$1"), policy).then(
      (addresses) => {
        if (options?.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (error) => callback(error as NodeJS.ErrnoException, ""),
    );
  };
}
