// The IPv6 settings in `vnat net show` (issue 17): present only for a dual-stack network, so
// an IPv4-only network's document and text are what they were. Pure.
import type { NetSpec } from "../input/spec.ts";
import { upstreamRoute6 } from "../input/spec6.ts";

export interface Settings6Doc {
  /** the guests' gateway and prefix, e.g. fd00:a::1/64 */
  lan: string;
  dhcp6: boolean;
  uplink: { address: string; gateway: string; mode: string; prefix: string | null };
  dns: string[];
  /** the route the provider's router needs (nptv6, routed), else null */
  upstreamRoute: string | null;
  forwards: Array<{ proto: string; port: string; to: string }>;
  floating: Array<{ address: string; to: string }>;
}

/** The IPv6 uplink as documents show it (net show, net create --json). */
export function uplink6Doc(v6: NonNullable<NetSpec["v6"]>): Settings6Doc["uplink"] {
  const u = v6.uplink;
  return { address: u.address, gateway: u.gateway, mode: u.mode, prefix: u.prefix ?? null };
}

export function settings6Doc(s: NetSpec): { ipv6?: Settings6Doc } {
  const v6 = s.v6;
  if (!v6) return {};
  return {
    ipv6: {
      lan: v6.lan,
      dhcp6: v6.dhcp6,
      uplink: uplink6Doc(v6),
      dns: v6.dns,
      upstreamRoute: upstreamRoute6(v6) ?? null,
      forwards: (v6.forwards ?? []).map((f) => ({ proto: f.proto, port: String(f.port), to: `[${f.to}]:${f.toPort}` })),
      floating: (v6.floating ?? []).map((f) => ({ address: f.address, to: f.to })),
    },
  };
}

/** The rows of the IPv6 settings, through formatShow's ROW (configured beside running). */
export function showRows6(
  any6: boolean,
  row: (label: string, pick: (s: { ipv6?: Settings6Doc }) => string) => void,
): void {
  if (!any6) return;
  const six = (f: (v: Settings6Doc) => string) => (s: { ipv6?: Settings6Doc }) => (s.ipv6 ? f(s.ipv6) : "off");
  row(
    "subnet6",
    six((v) => `${v.lan}, router advertisements${v.dhcp6 ? " + DHCPv6" : ""}`),
  );
  row(
    "uplink6",
    six(
      (v) =>
        `${v.uplink.address} via ${v.uplink.gateway}, ${v.uplink.mode}${v.uplink.prefix ? ` ${v.uplink.prefix}` : ""}`,
    ),
  );
  row(
    "dns6",
    six((v) => v.dns.join(", ") || "-"),
  );
  row(
    "route6",
    six((v) => (v.upstreamRoute ? `${v.upstreamRoute} (on the provider's router)` : "-")),
  );
  row(
    "forwards6",
    six((v) => v.forwards.map((f) => `${f.proto} ${f.port} -> ${f.to}`).join(", ") || "-"),
  );
  row(
    "floating6",
    six((v) => v.floating.map((f) => `${f.address} -> ${f.to}`).join(", ") || "-"),
  );
}
