// A network's IPv6 side (issue 17) from its vnat metadata, validated at `start begin` like
// the rest of the spec (core/input/spec.ts calls buildSpec6). Every address is kept as
// canonical text (core/ipv6.ts) so the spec stays plain JSON (state.json). Pure.
//
//   <vnat:lan6 address="fd00:a::1/64" dhcp6="no"/>            guests' /64, RA (SLAAC); dhcp6="yes" adds stateful DHCPv6
//   <vnat:uplink6 address="2001:db8:100::10/64" mode="nat66"/>  gateway= (default: the provider's gateway6)
//   <vnat:uplink6 … mode="nptv6" prefix="2001:db8:100:1::/64"/> the lan6 /64 maps 1:1 onto PREFIX
//   <vnat:uplink6 … mode="routed"/>                            lan6 is a provider /64 routed to the uplink6
//   <vnat:dns6 upstream="2001:db8:200::53"/>                   (default: the provider's dns6)
//   <vnat:forward6 proto="tcp" port="8080" to="fd00:a::10" to-port="80"/>   (or port="8000-8010": kept)
//   <vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>   nptv6 and routed only
import { invalid } from "../errors.ts";
import {
  contains6,
  formatCidr6,
  formatIp6,
  formatSubnet6,
  isLinkLocal6,
  isMulticast6,
  isUla6,
  networkOf6,
  overlaps6,
  parseCidr6,
  requireCidr6,
  requireHost6,
  requireIp6,
  type Cidr6,
} from "../ipv6.ts";
import { printable } from "../names.ts";
import { gateway6Of, type Provider6 } from "./config6.ts";
import { attr, children, type XmlNode } from "./xml.ts";

export const MODES6 = ["nat66", "nptv6", "routed"] as const;
export type Mode6 = (typeof MODES6)[number];

export interface Forward6Spec {
  proto: "tcp" | "udp";
  port: number;
  /** the range's last port (PORT for a single port); a range keeps its ports */
  portEnd: number;
  /** the guest's IPv6 address (canonical text) */
  to: string;
  toPort: number;
}

export interface Floating6Spec {
  /** on the provider network (canonical text) */
  address: string;
  /** the guest's IPv6 address */
  to: string;
}

/** A network's IPv6 side. All addresses canonical text. */
export interface Spec6 {
  /** the guests' gateway and their /64, e.g. "fd00:a::1/64" */
  lan: string;
  /** stateful DHCPv6 besides SLAAC */
  dhcp6: boolean;
  uplink: {
    /** "2001:db8:100::10/64" on the provider network */
    address: string;
    /** the upstream router ("2001:db8:100::1" or a link-local address) */
    gateway: string;
    mode: Mode6;
    /** nptv6: the provider /64 the lan6 maps onto; routed: the lan6's own /64 */
    prefix?: string;
  };
  dns: string[];
  forwards?: Forward6Spec[];
  floating?: Floating6Spec[];
}

export const ELEMENTS6 = ["lan6", "uplink6", "dns6", "forward6", "floating6"];
export const ALLOWED6: Record<string, string[]> = {
  lan6: ["@address", "@dhcp6"],
  uplink6: ["@address", "@gateway", "@mode", "@prefix"],
  dns6: ["@upstream"],
  forward6: ["@proto", "@port", "@to", "@to-port"],
  floating6: ["@address", "@to"],
};
const MAX_DNS6 = 8;
export const MAX_FORWARDS6 = 256;
export const MAX_FLOATING6 = 64;

/** A parsed prefix of a spec (validated when the spec was built). */
export function cidr6Of(text: string): Cidr6 {
  const c = parseCidr6(text);
  if (!c) throw new Error(`internal: not an IPv6 prefix in a spec: ${text}`);
  return c;
}

function port(where: string, what: string, text: string | undefined): number {
  if (text === undefined || !/^[1-9]\d{0,4}$/.test(text) || Number(text) > 65535)
    throw invalid(`${where}: ${what} "${printable(String(text ?? ""))}" (expected a port 1-65535)`);
  return Number(text);
}

/** Why /64 P can carry no guest's source upstream (nptv6 and routed), or undefined. */
function notRoutable64(p: Cidr6): string | undefined {
  if (networkOf6(p) >> 64n === 0n) return "inside ::/64 (the unspecified, loopback and IPv4-mapped addresses)";
  if (isMulticast6(p.address)) return "multicast (ff00::/8)";
  if (isLinkLocal6(p.address)) return "link-local (fe80::/10)";
  return undefined;
}

/**
 * The IPv6 side of network WHERE, or undefined when its metadata has none. CHECK refuses
 * unknown attributes (spec.ts's checkKeys); PROVIDER is the uplink's provider (absent: not
 * in the config); LAN4 and UPLINK4 text only for the messages.
 */
export function buildSpec6(
  where: string,
  md: XmlNode,
  provider: Provider6 | undefined,
  bridge: string,
  check: (what: string, node: XmlNode, allowed: string[]) => void,
): Spec6 | undefined {
  const list = (k: string): XmlNode[] => {
    const els = children(md, k);
    for (const el of els) check(`${where}: <vnat:${k}>`, el, ALLOWED6[k]!);
    return els;
  };
  const lanEls = list("lan6");
  const upEls = list("uplink6");
  const dnsEls = list("dns6");
  const fwdEls = list("forward6");
  const fipEls = list("floating6");
  for (const [k, els] of [
    ["lan6", lanEls],
    ["uplink6", upEls],
  ] as const)
    if (els.length > 1) throw invalid(`${where}: <vnat:${k}> given ${els.length} times (at most once)`);
  const lanEl = lanEls[0];
  const upEl = upEls[0];
  if (!lanEl && !upEl) {
    const stray = dnsEls.length ? "dns6" : fwdEls.length ? "forward6" : fipEls.length ? "floating6" : undefined;
    if (stray)
      throw invalid(`${where}: <vnat:${stray}> needs <vnat:lan6> and <vnat:uplink6> (IPv6 is off without them)`);
    return undefined;
  }
  if (!lanEl)
    throw invalid(`${where}: <vnat:uplink6> needs <vnat:lan6 address="fd00:…::1/64"> (the guests' IPv6 gateway)`);
  if (!upEl)
    throw invalid(`${where}: <vnat:lan6> needs <vnat:uplink6 address="ADDR/PREFIX"> (the network's IPv6 way out)`);

  // --- LAN: a /64, the only prefix length SLAAC forms addresses in
  const lanText = attr(lanEl, "address");
  if (lanText === undefined)
    throw invalid(`${where}: <vnat:lan6> needs address="fd00:…::1/64" (the guests' IPv6 gateway)`);
  const lan = requireCidr6(`${where}: lan6 address`, lanText, 1, 128);
  if (lan.prefix > 64)
    throw invalid(
      `${where}: lan6 address "${printable(lanText)}": prefix /${lan.prefix} is longer than /64 (SLAAC forms addresses only in a /64; expected /64)`,
    );
  if (lan.prefix < 64)
    throw invalid(
      `${where}: lan6 address "${printable(lanText)}": prefix /${lan.prefix} is shorter than /64 (guests get one /64; expected /64)`,
    );
  requireHost6(`${where}: lan6 address`, lan);
  const dhcp6Text = attr(lanEl, "dhcp6") ?? "no";
  if (dhcp6Text !== "yes" && dhcp6Text !== "no")
    throw invalid(`${where}: lan6 dhcp6="${printable(dhcp6Text)}" (expected "yes" or "no")`);

  // --- uplink on the provider network
  const gw6 = provider ? gateway6Of(provider) : undefined;
  const upText = attr(upEl, "address");
  if (upText === undefined)
    throw invalid(
      `${where}: <vnat:uplink6> needs address="ADDR/PREFIX" (an address of provider "${bridge}"'s IPv6 subnet)`,
    );
  const up = requireCidr6(`${where}: uplink6 address`, upText, 48, 64);
  requireHost6(`${where}: uplink6 address`, up);
  if (gw6 && (up.prefix !== gw6.prefix || !contains6(gw6, up.address)))
    throw invalid(
      `${where}: uplink6 address ${formatCidr6(up)} is outside provider "${bridge}" IPv6 subnet ${formatSubnet6(gw6)}`,
    );
  const gwText = attr(upEl, "gateway");
  const gateway = gwText !== undefined ? requireIp6(`${where}: uplink6 gateway`, gwText) : gw6?.address;
  if (gateway === undefined)
    throw invalid(
      `${where}: <vnat:uplink6> has no gateway="ADDR" and provider "${bridge}" has no gateway6 in the config`,
    );
  const linkLocalGw = contains6(cidr6Of("fe80::/64"), gateway) && gateway !== networkOf6(cidr6Of("fe80::/64"));
  if (!linkLocalGw && !contains6(up, gateway))
    throw invalid(
      `${where}: uplink6 gateway ${formatIp6(gateway)} is outside the uplink6 subnet ${formatSubnet6(up)} (expected an address in it, or a link-local fe80::/64 one)`,
    );
  if (gateway === up.address)
    throw invalid(`${where}: uplink6 gateway ${formatIp6(gateway)} is the uplink6 address itself`);
  if (overlaps6(lan, up))
    throw invalid(
      `${where}: lan6 subnet ${formatSubnet6(lan)} overlaps the uplink6 subnet ${formatSubnet6(up)} (they must be disjoint)`,
    );

  // --- mode: which addresses fit which translation
  const modeText = attr(upEl, "mode") ?? "nat66";
  if (!(MODES6 as readonly string[]).includes(modeText))
    throw invalid(`${where}: uplink6 mode="${printable(modeText)}" (expected ${MODES6.join(", ")})`);
  const mode = modeText as Mode6;
  const prefixText = attr(upEl, "prefix");
  let prefix: Cidr6 | undefined;
  if (mode === "nat66") {
    if (prefixText !== undefined)
      throw invalid(
        `${where}: uplink6 mode nat66 takes no prefix (guests leave as the uplink6 address; prefix= is for nptv6 and routed)`,
      );
  } else {
    if (prefixText !== undefined) {
      prefix = requireCidr6(`${where}: uplink6 prefix`, prefixText, 64, 64);
      if (prefix.address !== networkOf6(prefix))
        throw invalid(
          `${where}: uplink6 prefix "${printable(prefixText)}": has host bits set (expected ${formatSubnet6(prefix)})`,
        );
    }
    if (mode === "nptv6") {
      if (!prefix)
        throw invalid(
          `${where}: uplink6 mode nptv6 needs prefix="P::/64" (the provider /64 the lan6 /64 maps onto 1:1)`,
        );
      const why = notRoutable64(prefix);
      if (why)
        throw invalid(
          `${where}: uplink6 mode nptv6: prefix ${formatSubnet6(prefix)} is ${why} (guests would leave with such sources; expected a provider /64)`,
        );
      if (overlaps6(prefix, lan))
        throw invalid(
          `${where}: uplink6 mode nptv6: prefix ${formatSubnet6(prefix)} is the lan6 /64 itself (use mode routed)`,
        );
      if (overlaps6(prefix, up))
        throw invalid(
          `${where}: uplink6 mode nptv6: prefix ${formatSubnet6(prefix)} is the uplink6 subnet (the translated /64 must be routed to the uplink, not on-link)`,
        );
    } else {
      const why = notRoutable64(lan);
      if (why)
        throw invalid(`${where}: uplink6 mode routed: lan6 ${formatSubnet6(lan)} is ${why} (expected a provider /64)`);
      if (isUla6(lan.address))
        throw invalid(
          `${where}: uplink6 mode routed: lan6 ${formatSubnet6(lan)} is a unique local (fc00::/7) prefix, which the provider does not route (use nat66 or nptv6, or a provider /64 as lan6)`,
        );
      if (prefix && prefix.address !== networkOf6(lan))
        throw invalid(
          `${where}: uplink6 mode routed: prefix ${formatSubnet6(prefix)} is not the lan6 /64 ${formatSubnet6(lan)} (guests use the routed /64 itself)`,
        );
      prefix = { address: networkOf6(lan), prefix: 64 };
    }
  }

  // --- DNS upstreams
  let dns = dnsEls.map((d) => {
    const u = attr(d, "upstream");
    if (u === undefined) throw invalid(`${where}: <vnat:dns6> needs upstream="ADDR"`);
    return formatIp6(requireIp6(`${where}: dns6 upstream`, u));
  });
  if (dns.length === 0 && provider?.dns6) dns = [...provider.dns6];
  if (dns.length > MAX_DNS6) throw invalid(`${where}: ${dns.length} dns6 upstreams (at most ${MAX_DNS6})`);

  // --- inbound over IPv6
  if (fwdEls.length > MAX_FORWARDS6) throw invalid(`${where}: ${fwdEls.length} forward6 (at most ${MAX_FORWARDS6})`);
  if (fipEls.length > MAX_FLOATING6) throw invalid(`${where}: ${fipEls.length} floating6 (at most ${MAX_FLOATING6})`);
  const guest = (what: string, text: string | undefined): bigint => {
    if (text === undefined)
      throw invalid(`${where}: ${what} needs to="ADDR" (a guest's address in ${formatSubnet6(lan)})`);
    const ip = requireIp6(`${where}: ${what} to`, text);
    if (!contains6(lan, ip) || ip === lan.address)
      throw invalid(`${where}: ${what} to ${formatIp6(ip)} is not a guest address in the lan6 ${formatSubnet6(lan)}`);
    requireHost6(`${where}: ${what} to`, lan, ip);
    return ip;
  };
  const forwards: Forward6Spec[] = [];
  for (const el of fwdEls) {
    const proto = attr(el, "proto") ?? "tcp";
    if (proto !== "tcp" && proto !== "udp")
      throw invalid(`${where}: forward6 proto="${printable(proto)}" (expected tcp or udp)`);
    const portText = attr(el, "port");
    const range = portText !== undefined ? /^([^-]+)-([^-]+)$/.exec(portText) : null;
    const p = port(where, "forward6 port", range ? range[1] : portText);
    const pEnd = range ? port(where, "forward6 port", range[2]) : p;
    if (pEnd < p) throw invalid(`${where}: forward6 port "${printable(portText ?? "")}": start is after end`);
    const label = p === pEnd ? `${p}` : `${p}-${pEnd}`;
    const to = guest(`forward6 ${proto} ${label}`, attr(el, "to"));
    const toPortText = attr(el, "to-port");
    if (toPortText !== undefined && p !== pEnd)
      throw invalid(
        `${where}: forward6 ${proto} ${label}: a port range keeps its ports (to-port only with a single port)`,
      );
    const toPort = toPortText === undefined ? p : port(where, "forward6 to-port", toPortText);
    const clash = forwards.find((f) => f.proto === proto && f.port <= pEnd && p <= f.portEnd);
    if (clash)
      throw invalid(
        `${where}: forward6 ${proto} ${label} overlaps forward6 ${proto} ${clash.port === clash.portEnd ? clash.port : `${clash.port}-${clash.portEnd}`}`,
      );
    forwards.push({ proto, port: p, portEnd: pEnd, to: formatIp6(to), toPort });
  }
  const seenFip = new Set<bigint>();
  const floating = fipEls.map((el): Floating6Spec => {
    if (mode === "nat66")
      throw invalid(
        `${where}: <vnat:floating6> needs uplink6 mode nptv6 or routed (with nat66 guests share the uplink6 address; use forward6)`,
      );
    const aText = attr(el, "address");
    if (aText === undefined) throw invalid(`${where}: <vnat:floating6> needs address="ADDR" on provider "${bridge}"`);
    const a = requireIp6(`${where}: floating6 address`, aText);
    requireHost6(`${where}: floating6 address`, up, a);
    if (!contains6(up, a))
      throw invalid(`${where}: floating6 ${formatIp6(a)} is outside the uplink6 subnet ${formatSubnet6(up)}`);
    if (a === up.address || a === gateway)
      throw invalid(`${where}: floating6 ${formatIp6(a)} is the uplink6 address or its gateway`);
    if (seenFip.has(a)) throw invalid(`${where}: floating6 ${formatIp6(a)} given twice`);
    seenFip.add(a);
    const to = guest(`floating6 ${formatIp6(a)}`, attr(el, "to"));
    return { address: formatIp6(a), to: formatIp6(to) };
  });

  return {
    lan: formatCidr6(lan),
    dhcp6: dhcp6Text === "yes",
    uplink: {
      address: formatCidr6(up),
      gateway: formatIp6(gateway),
      mode,
      ...(prefix ? { prefix: formatSubnet6(prefix) } : {}),
    },
    dns,
    ...(forwards.length ? { forwards } : {}),
    ...(floating.length ? { floating } : {}),
  };
}

/** The uplink6 address of a spec, as claim text (bare address). */
export const uplink6Ip = (v6: Spec6): string => formatIp6(cidr6Of(v6.uplink.address).address);

/** The route the provider's router needs for nptv6 and routed (the /64 via the uplink6 address), or undefined. */
export function upstreamRoute6(v6: Spec6): string | undefined {
  if (!v6.uplink.prefix) return undefined;
  return `${v6.uplink.prefix} via ${uplink6Ip(v6)}`;
}
