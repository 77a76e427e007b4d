// The IPv6 pieces of a start (issue 17), spliced into core/plan/start.ts's stages. Each is
// empty for a network without <vnat:lan6>, so an IPv4 network's plan is what it was. Pure.
import type { Attachments } from "../input/attach.ts";
import type { NetSpec } from "../input/spec.ts";
import { uplink6Ip } from "../input/spec6.ts";
import { inNetns, type Op } from "./plan.ts";
import { renderSysctls } from "./render.ts";
import { renderHostSysctls6, renderSysctls6, withoutIpv6Off } from "./render6.ts";

/** The uplink6 and floating6 addresses, claimed on the provider bridge like the IPv4 ones. */
export function claimedIps6(spec: NetSpec): string[] {
  if (!spec.v6) return [];
  return [uplink6Ip(spec.v6), ...(spec.v6.floating ?? []).map((f) => f.address)];
}

export function claimOps6(spec: NetSpec): Op[] {
  const { bridge } = spec.uplink;
  const owner = spec.name;
  return claimedIps6(spec).map((ip, i) => ({
    action: { kind: "claim", bridge, ip, owner },
    undo: { kind: "release", bridge, ip, owner, what: `release ${i ? "floating6" : "uplink6"} ${ip} claim` },
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
