// The IPv6 side of a network's health (issue 17): lan0 must hold the lan6 gateway, wan0 the
// uplink6 and every floating6 (/128). A missing one is "address-wrong", the same reason as
// for IPv4, so `vnat reconcile` adds it back (drift.ts). Other IPv6 addresses are left alone
// (the kernel's own, e.g. link-local, are not even read). Pure.
import type { NetSpec } from "../input/spec.ts";
import { LAN_IF, UPLINK_IF } from "../names.ts";
import type { NetObservation } from "../observe/observed.ts";
import type { Reason } from "./health.ts";

/** The IPv6 addresses (canonical ADDR/N) IFNAME must hold; [] for an IPv4-only network. */
export function wanted6(spec: NetSpec, ifname: string): string[] {
  const v6 = spec.v6;
  if (!v6) return [];
  if (ifname === LAN_IF) return [v6.lan];
  if (ifname === UPLINK_IF) return [v6.uplink.address, ...(v6.floating ?? []).map((f) => `${f.address}/128`)];
  return [];
}

/** What IFNAME lacks of its IPv6 addresses, as the probe saw it ([] when the probe did not read them). */
export function missing6(o: NetObservation, spec: NetSpec, ifname: string): string[] {
  const have = o.inside?.links.find((l) => l.name === ifname)?.addresses6;
  if (have === undefined) return [];
  return wanted6(spec, ifname).filter((a) => !have.includes(a));
}

/** The IPv6 default route must go via the uplink6's gateway on wan0 (judged when the probe read it). */
export function routeReasons6(o: NetObservation, spec: NetSpec): Reason[] {
  const v6 = spec.v6;
  const r = o.inside?.defaultRoute6;
  if (!v6 || r === undefined) return [];
  if (r?.gateway === v6.uplink.gateway && r.dev === UPLINK_IF) return [];
  return [
    {
      code: "route-wrong",
      message: `wrong IPv6 default route: ${r ? `via ${r.gateway ?? "-"} dev ${r.dev ?? "-"}` : "none"}, expected via ${v6.uplink.gateway} dev ${UPLINK_IF}`,
    },
  ];
}

/** Every IPv6 reason of the namespace's inside (health.ts). */
export function insideReasons6(o: NetObservation, spec: NetSpec): Reason[] {
  return [...addressReasons6(o, spec), ...routeReasons6(o, spec)];
}

export function addressReasons6(o: NetObservation, spec: NetSpec): Reason[] {
  return [LAN_IF, UPLINK_IF].flatMap((ifname) => {
    const lack = missing6(o, spec, ifname);
    return lack.length
      ? [{ code: "address-wrong" as const, message: `wrong address: ${ifname} lacks ${lack.join(", ")}` }]
      : [];
  });
}
