// What a network's metadata may ask for on this host, decided by the administrator's config,
// not by the metadata: metadata alone must not put an uplink or a floating IP on any bridge
// at any address (the gratuitous ARP vnat sends would pull that traffic into the namespace),
// nor open isolation. Pure: the host's own addresses and other networks' LAN bridges, which
// vnat must refuse whatever the config says, are passed in (exec/probe/policy-facts.ts reads them).
import { invalid, conflict } from "../errors.ts";
import type { Config } from "./config.ts";
import { broadcastOf, contains, formatIp, formatSubnet, networkOf } from "../ipv4.ts";
import type { NetSpec } from "./spec.ts";
import { checkPolicy6 } from "./policy6.ts";

export interface HostFacts {
  /** the host's own IPv4 addresses */
  hostAddrs: readonly number[];
  /** the host's own IPv6 addresses (canonical text; loopback and link-local left out) */
  hostAddrs6?: readonly string[];
  /** LAN bridges of the other vnat networks running on this host, with their network */
  vnatLanBridges: ReadonlyMap<string, string>;
}

/** The addresses a network puts on its provider: the uplink, then each floating IP. */
function providerAddresses(spec: NetSpec): Array<{ what: string; ip: number }> {
  return [
    { what: "uplink", ip: spec.uplink.address.address },
    ...(spec.floating ?? []).map((f) => ({ what: "floating IP", ip: f.address })),
  ];
}

/** Throws the first rule SPEC breaks, as one line naming the network, the object and what is allowed. */
export function checkPolicy(spec: NetSpec, config: Config, host: HostFacts): void {
  const where = `network "${spec.name}"`;
  const bridge = spec.uplink.bridge;
  const owner = host.vnatLanBridges.get(bridge);
  if (owner !== undefined && owner !== spec.name)
    throw conflict(
      `${where}: uplink bridge "${bridge}" is the LAN bridge of vnat network "${owner}" (allowed: a provider bridge)`,
    );
  const local = new Set(host.hostAddrs);
  for (const a of providerAddresses(spec))
    if (local.has(a.ip))
      throw conflict(
        `${where}: ${a.what} ${formatIp(a.ip)} is an address of this host (allowed: an address no interface of the host holds)`,
      );
  if (config.strictUplinks !== false) {
    const provider = config.providers.find((p) => p.bridge === bridge);
    const listed = config.providers.map((p) => p.bridge).join(", ") || "none";
    if (!provider)
      throw invalid(
        `${where}: uplink bridge "${bridge}" is not a configured provider (configured: ${listed}; add it with vnat provider add, or set "strictUplinks": false in the config)`,
      );
    const subnet = provider.gateway;
    for (const a of providerAddresses(spec)) {
      const ip = formatIp(a.ip);
      if (!contains(subnet, a.ip))
        throw invalid(`${where}: ${a.what} ${ip} is outside provider "${bridge}" subnet ${formatSubnet(subnet)}`);
      if (a.ip === subnet.address) throw invalid(`${where}: ${a.what} ${ip} is provider "${bridge}"'s gateway`);
      if (a.ip === networkOf(subnet) || a.ip === broadcastOf(subnet))
        throw invalid(`${where}: ${a.what} ${ip} is not a host address of ${formatSubnet(subnet)}`);
      if (provider.uplinksInPool && provider.pool && (a.ip < provider.pool.start || a.ip > provider.pool.end))
        throw invalid(
          `${where}: ${a.what} ${ip} is outside provider "${bridge}" pool ${formatIp(provider.pool.start)}-${formatIp(provider.pool.end)} (the provider allows only pool addresses)`,
        );
    }
  }
  checkPolicy6(spec, config, host);
  const iso = spec.isolation;
  if (iso && (iso.host === "open" || iso.provider === "open") && config.allowOpenIsolation !== true)
    throw invalid(
      `${where}: isolation ${iso.host === "open" ? "host" : "provider"}="open" needs "allowOpenIsolation": true in the config (guests would reach ${iso.host === "open" ? "this host's own addresses" : "the provider network directly"})`,
    );
}
