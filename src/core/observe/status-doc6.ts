// The IPv6 side of a network in `vnat status --json` (issue 17): null for an IPv4-only
// network. `present` says whether the namespace holds the address now (null: not probed).
// Documented in docs/status-json.md and docs/status.schema.json (added in schema version 1
// without changing any other field). Pure.
import { upstreamRoute6, type Mode6 } from "../input/spec6.ts";
import { wanted6 } from "../judge/health6.ts";
import { parseCounters, type CounterValue } from "../judge/ruleset.ts";
import { LAN_IF, UPLINK_IF } from "../names.ts";
import type { NetObservation } from "./observed.ts";

export interface Ipv6Doc {
  lan: { gateway: string; dhcp6: boolean; present: boolean | null };
  uplink: { address: string; gateway: string; mode: Mode6; prefix: string | null; present: boolean | null };
  /** the route the provider's router needs (nptv6, routed): "PREFIX via UPLINK6"; null for nat66 */
  upstreamRoute: string | null;
  /** `table ip6 vnat`'s nat_out / nat_in counters (null: not read) */
  nat: { out: CounterValue | null; in: CounterValue | null };
}

export function ipv6Doc(o: NetObservation): Ipv6Doc | null {
  const v6 = o.spec?.v6;
  if (!v6) return null;
  const holds = (ifname: string, address: string): boolean | null => {
    const have = o.inside?.links.find((l) => l.name === ifname)?.addresses6;
    return have === undefined ? null : have.includes(address);
  };
  const [uplink] = wanted6(o.spec!, UPLINK_IF);
  const counters = o.inside ? parseCounters(o.inside.ruleset, "ip6", "vnat") : undefined;
  return {
    lan: { gateway: v6.lan, dhcp6: v6.dhcp6, present: holds(LAN_IF, v6.lan) },
    uplink: {
      address: v6.uplink.address,
      gateway: v6.uplink.gateway,
      mode: v6.uplink.mode,
      prefix: v6.uplink.prefix ?? null,
      present: holds(UPLINK_IF, uplink!),
    },
    upstreamRoute: upstreamRoute6(v6) ?? null,
    nat: { out: counters?.nat_out ?? null, in: counters?.nat_in ?? null },
  };
}
