// The IPv6 pieces of a start (issue 17), spliced into core/plan/start.ts's stages. Each is
// empty for a network without <vnat:lan6>, so an IPv4 network's plan is what it was. Pure.
import type { Attachments } from "../input/attach.ts";
import type { NetSpec } from "../input/spec.ts";
import { cidr6Of, uplink6Ip } from "../input/spec6.ts";
import { formatIp6 } from "../ipv6.ts";
import { inNetns, type Op } from "./plan.ts";
import { renderSysctls } from "./render.ts";
import { renderHostSysctls6, renderSysctls6, withoutIpv6Off } from "./render6.ts";

/**
 * The uplink6 and floating6 addresses, claimed on the provider bridge like the IPv4 ones;
 * then an nptv6 or routed network's /64, claimed by its network address ("P::": never an
 * uplink6's or a floating6's, which may not be a subnet-router anycast). Two live networks
 * on one /64 would take each other's replies, and one would send as the other's guests.
 */
export function claimedIps6(spec: NetSpec): string[] {
  if (!spec.v6) return [];
  const p = spec.v6.uplink.prefix;
  return [
    uplink6Ip(spec.v6),
    ...(spec.v6.floating ?? []).map((f) => f.address),
    ...(p ? [formatIp6(cidr6Of(p).address)] : []),
  ];
}

/** What claimedIps6(SPEC)[I] is, for messages: "uplink6 A", "floating6 A", "nptv6 prefix P::/64". */
export function claimLabel6(spec: NetSpec, i: number): string {
  const ips = claimedIps6(spec);
  if (i === 0) return `uplink6 ${ips[0]}`;
  if (spec.v6?.uplink.prefix && i === ips.length - 1) return `${spec.v6.uplink.mode} prefix ${spec.v6.uplink.prefix}`;
  return `floating6 ${ips[i]}`;
}

export function claimOps6(spec: NetSpec): Op[] {
  const { bridge } = spec.uplink;
  const owner = spec.name;
  return claimedIps6(spec).map((ip, i) => ({
    action: { kind: "claim", bridge, ip, owner },
    undo: { kind: "release", bridge, ip, owner, what: `release ${claimLabel6(spec, i)} claim` },
  }));
}

/**
 * Links stage, after the links exist: the LAN bridge and vnat's host-side veth ends get
 * disable_ipv6=1 (libvirt sets it on a bridge without an IPv6 <ip> already; vnat makes
 * sure, because the namespace now sends router advertisements on that bridge and the
 * host must not take an address or a route from them). Nothing to undo: the veth ends go
 * with the namespace, and the bridge's value is libvirt's own.
 */
export function hostSysctlOps6(spec: NetSpec, attach: Attachments): Op[] {
  if (!spec.v6) return [];
  const hostLinks = [
    ...(attach.lan === "veth" ? [spec.names.lanHost] : []),
    ...(attach.uplink === "veth" ? [spec.names.uplinkHost] : []),
  ];
  return [{ action: { kind: "run", argv: ["sysctl", "-q", "-w", ...renderHostSysctls6(spec, hostLinks)] } }];
}

/** The sysctl step's settings: an IPv6 network's namespace keeps IPv6 on. */
export function sysctlArgs(spec: NetSpec): string[] {
  return spec.v6 ? withoutIpv6Off(renderSysctls()) : renderSysctls();
}

/** The addresses step's first action for an IPv6 network: its sysctls, before the links come up. */
export function sysctlOps6(spec: NetSpec): Op[] {
  if (!spec.v6) return [];
  return [{ action: { kind: "run", argv: inNetns(spec.names.netns, ["sysctl", "-q", "-w", ...renderSysctls6()]) } }];
}
