// The uplink policy (core/input/policy.ts) for a network's IPv6 side (issue 17): with
// strictUplinks (the default) an uplink6 or floating6 goes only on a provider whose config
// names its IPv6 subnet (gateway6), inside it, and — uplinksInPool — inside its pool6. Pure.
import { conflict, invalid } from "../errors.ts";
import { contains6, formatSubnet6, parseIp6 } from "../ipv6.ts";
import type { Config } from "./config.ts";
import { gateway6Of } from "./config6.ts";
import type { NetSpec } from "./spec.ts";
import { uplink6Ip } from "./spec6.ts";

export function checkPolicy6(spec: NetSpec, config: Config, host: { hostAddrs6?: readonly string[] } = {}): void {
  if (!spec.v6) return;
  const where = `network "${spec.name}"`;
  const addrs = [
    { what: "uplink6", ip: uplink6Ip(spec.v6) },
    ...(spec.v6.floating ?? []).map((f) => ({ what: "floating6", ip: f.address })),
  ];
  // whatever the config says, as for IPv4 (the namespace adds its addresses nodad: nothing
  // else would notice it took the host's own)
  const local = new Set((host.hostAddrs6 ?? []).map((a) => parseIp6(a)));
  for (const a of addrs)
    if (local.has(parseIp6(a.ip)))
      throw conflict(
        `${where}: ${a.what} ${a.ip} is an address of this host (allowed: an address no interface of the host holds)`,
      );
  if (config.strictUplinks === false) return;
  const bridge = spec.uplink.bridge;
  const provider = config.providers.find((p) => p.bridge === bridge);
  if (!provider) return; // checkPolicy refuses it first
  const gw = gateway6Of(provider);
  if (!gw)
    throw invalid(
      `${where}: provider "${bridge}" has no gateway6 in the config (allowed: IPv6 uplinks only inside a provider's configured IPv6 subnet; add one with vnat provider add --gateway6, or set "strictUplinks": false)`,
    );
  for (const a of addrs) {
    const ip = parseIp6(a.ip)!;
    if (!contains6(gw, ip))
      throw invalid(`${where}: ${a.what} ${a.ip} is outside provider "${bridge}" IPv6 subnet ${formatSubnet6(gw)}`);
    if (ip === gw.address) throw invalid(`${where}: ${a.what} ${a.ip} is provider "${bridge}"'s gateway6`);
    const pool = provider.pool6;
    if (provider.uplinksInPool && pool && (ip < parseIp6(pool.start)! || ip > parseIp6(pool.end)!))
      throw invalid(
        `${where}: ${a.what} ${a.ip} is outside provider "${bridge}" pool6 ${pool.start}-${pool.end} (the provider allows only pool addresses)`,
      );
  }
}
