// The IPv6 side of a network (issue 17) rendered into the exact text and argv vnat hands to
// sysctl, ip, nft and dnsmasq. Pure; golden-tested (test/unit/render6.test.ts). A network
// without <vnat:lan6> renders nothing here, so its ruleset, batches and dnsmasq arguments
// stay byte for byte what they were (the IPv4 goldens).
//
// - Its own table, `table ip6 vnat`, loaded in the same `nft -f` transaction as `table ip
//   vnat`: the IPv4 table is untouched (an `inet` table would have to take over the IPv4
//   rules to keep one policy, and change every IPv4 network's ruleset).
// - Default-deny inbound as for IPv4: only replies, forwards (DNAT of the uplink6's ports)
//   and floating6 addresses reach a guest. ICMPv6 neighbour discovery (and router
//   solicitation/advertisement, MLD, which ND needs on a bridge with snooping) and the
//   error messages, packet-too-big first, are always accepted: before `ct state invalid
//   drop`, because ND is not tracked and an error for a flow must never be dropped as
//   invalid. In the forward chain they come right after the established/related accept,
//   which most packets match first (an error about a known flow is "related" anyway), and
//   only from the uplink to the LAN: an untracked error is never NATed, so one a guest sent
//   would leave with its ULA (or any spoofed) source on the provider network.
// - nat66: the lan6 /64 is SNATed to the uplink6 address (many networks may reuse one ULA).
//   nptv6: `snat ip6 prefix to P::/64`, a 1:1 map of the guest's host part onto the
//   provider /64 (each guest keeps its own public address; the map is NAT's, so it is
//   stateful and inbound stays default-deny; a stateless payload rewrite would bypass
//   conntrack and with it the inbound policy). routed: no NAT, the lan6 /64 is the routed one.
// - Addresses are added `nodad` and the namespace's links get accept_dad=0 before they come
//   up: `virsh net-start` returns only when the network serves, and a tentative address
//   (DAD, ~1 s) can neither source RAs (the link-local) nor packets (the uplink6). The
//   uplink6 and every floating6 are claimed exclusively on the host like their IPv4 twins.
import { formatIp6, formatSubnet6 } from "../ipv6.ts";
import { LAN_IF, NFT_TABLE, UPLINK_IF } from "../names.ts";
import type { NetSpec } from "../input/spec.ts";
import { cidr6Of, type Spec6 } from "../input/spec6.ts";
import { DEFAULT_ISOLATION } from "../input/isolation.ts";
import { inboundCounterName } from "./inbound-render.ts";
import { GUEST_LIMITS } from "./render.ts";

export const HOST6_SET = "host6_addrs";
const REFUSE6 = "reject with icmpv6 type admin-prohibited";
/** ND, RS/RA, MLD: what IPv6 needs on a link; always accepted. */
const ND_TYPES =
  "nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, mld-listener-query, mld-listener-report, mld2-listener-report";
/** errors: packet-too-big above all (path MTU), always accepted */
const ERROR_TYPES = "packet-too-big, destination-unreachable, time-exceeded, parameter-problem";

/**
 * The sysctls of the namespace for an IPv6 network, set before its links come up (the
 * addresses step's first action): IPv6 on, forwarding on, no router advertisements or
 * autoconfiguration taken from either side (the uplink6 is static; a RA from the provider
 * must not add a route), and no DAD (see above).
 */
export function renderSysctls6(): string[] {
  const per = (key: string, value: number): string[] =>
    ["all", "default", LAN_IF, UPLINK_IF].map((dev) => `net.ipv6.conf.${dev}.${key}=${value}`);
  return [
    ...per("disable_ipv6", 0),
    ...per("accept_ra", 0),
    ...per("autoconf", 0),
    ...per("accept_dad", 0),
    ...per("dad_transmits", 0),
    "net.ipv6.conf.all.forwarding=1",
  ];
}

/** The IPv4 sysctls minus the lines that switch IPv6 off (an IPv6 network's sysctl step). */
export function withoutIpv6Off(sysctls: readonly string[]): string[] {
  return sysctls.filter((s) => !/^net\.ipv6\.conf\.[a-z]+\.disable_ipv6=1$/.test(s));
}

/** `ip -n NETNS -batch -` lines after the IPv4 batch (links are up): addresses, then the default route. */
export function renderNetnsBatch6(v6: Spec6): string[] {
  return [
    `addr replace ${v6.lan} dev ${LAN_IF} nodad`,
    `addr replace ${v6.uplink.address} dev ${UPLINK_IF} nodad`,
    ...(v6.floating ?? []).map((f) => `addr replace ${f.address}/128 dev ${UPLINK_IF} nodad`),
    defaultRoute6Line(v6),
  ];
}

export const defaultRoute6Line = (v6: Spec6): string => `route replace ::/0 via ${v6.uplink.gateway} dev ${UPLINK_IF}`;

/**
 * Host-side sysctls (links stage): vnat's own host links never take an IPv6 address or RA.
 * Written with slashes: an interface name may hold a dot, which sysctl would read as a separator.
 */
export function renderHostSysctls6(spec: NetSpec, hostLinks: readonly string[]): string[] {
  return [spec.lanBridge, ...hostLinks].map((dev) => `net/ipv6/conf/${dev}/disable_ipv6=1`);
}

export const DHCP6_SOURCES_SET = "dhcp6_src";
export const DNS6_SOURCES_SET = "dns6_src";

/** The per-source tables of the guest limits (render.ts GUEST_LIMITS), IPv6 twins of dhcp_src/dns_src. */
function renderSourceSets6(): string {
  const set = (name: string, type: string): string =>
    `  set ${name} {\n    type ${type}\n    size ${GUEST_LIMITS.sources}\n    flags dynamic,timeout\n    timeout ${GUEST_LIMITS.forgetAfter}\n  }\n\n`;
  return set(DHCP6_SOURCES_SET, "ether_addr") + set(DNS6_SOURCES_SET, "ipv6_addr");
}

/** What one guest may ask dnsmasq over IPv6 (DHCPv6 per MAC and in all, DNS per source address), as for IPv4. */
function renderGuestLimitRules6(): string[] {
  const L = GUEST_LIMITS;
  const over = (l: { rate: number; burst: number }): string =>
    `limit rate over ${l.rate}/second burst ${l.burst} packets`;
  const lan = `iifname "${LAN_IF}"`;
  return [
    `${lan} udp dport 547 update @${DHCP6_SOURCES_SET} { ether saddr ${over(L.dhcpPerMac)} } drop`,
    `${lan} udp dport 547 ${over(L.dhcpAll)} drop`,
    `${lan} udp dport 53 update @${DNS6_SOURCES_SET} { ip6 saddr ${over(L.dnsPerSource)} } drop`,
    `${lan} tcp dport 53 ct state new update @${DNS6_SOURCES_SET} { ip6 saddr ${over(L.dnsPerSource)} } drop`,
  ];
}

const lines = (rules: string[]): string => rules.map((r) => `    ${r}\n`).join("");

/**
 * `table ip6 vnat`, appended to renderNft's text in the same transaction (created then
 * deleted first, like the IPv4 table, so the same text replaces a drifted one).
 * HOSTADDRS6: the host's own IPv6 addresses (canonical text), kept from guests unless
 * isolation opens the host.
 */
export function renderNft6(spec: NetSpec, hostAddrs6: readonly string[]): string {
  const v6 = spec.v6;
  if (!v6) return "";
  const lan = cidr6Of(v6.lan);
  const subnet = formatSubnet6(lan);
  const up = cidr6Of(v6.uplink.address);
  const upIp = formatIp6(up.address);
  const iso = spec.isolation ?? DEFAULT_ISOLATION;
  const forwards = v6.forwards ?? [];
  const floating = v6.floating ?? [];
  const fwdCounter = (f: { proto: string; port: number; portEnd: number }): string =>
    inboundCounterName({ kind: "forward", ...f });
  const fipCounter = (a: string): string => inboundCounterName({ kind: "floating", address: a });
  const counters = [...forwards.map(fwdCounter), ...floating.map((f) => fipCounter(f.address))];

  const hostSet =
    iso.host === "open"
      ? ""
      : `  set ${HOST6_SET} {\n    type ipv6_addr\n${
          hostAddrs6.length ? `    elements = { ${[...new Set(hostAddrs6)].sort().join(", ")} }\n` : ""
        }  }\n\n`;
  const prerouting = [
    ...forwards.map((f) =>
      f.port === f.portEnd
        ? `ip6 daddr ${upIp} ${f.proto} dport ${f.port} counter name "${fwdCounter(f)}" dnat to [${f.to}]:${f.toPort}`
        : // a range keeps its ports: only the address is translated
          `ip6 daddr ${upIp} ${f.proto} dport ${f.port}-${f.portEnd} counter name "${fwdCounter(f)}" dnat to ${f.to}`,
    ),
    ...floating.map((f) => `ip6 daddr ${f.address} counter name "${fipCounter(f.address)}" dnat to ${f.to}`),
  ];
  const postrouting = [
    ...floating.map((f) => `oifname "${UPLINK_IF}" ip6 saddr ${f.to} snat to ${f.address}`),
    ...(v6.uplink.mode === "nat66" ? [`oifname "${UPLINK_IF}" ip6 saddr ${subnet} snat to ${upIp}`] : []),
    ...(v6.uplink.mode === "nptv6"
      ? [`oifname "${UPLINK_IF}" ip6 saddr ${subnet} snat prefix to ${v6.uplink.prefix}`]
      : []),
    // NAT loopback, as for IPv4: a guest that reached another through the uplink6 or a floating6
    // is SNATed to the gateway, so the reply comes back through the namespace to be un-NATed
    ...(forwards.length || floating.length
      ? [`oifname "${LAN_IF}" ip6 saddr ${subnet} ct status dnat snat to ${formatIp6(lan.address)}`]
      : []),
  ];
  const isolation = [
    ...(iso.host === "blocked" ? [`iifname "${LAN_IF}" ip6 daddr @${HOST6_SET} ${REFUSE6}`] : []),
    ...(iso.provider === "blocked"
      ? [`iifname "${LAN_IF}" ip6 daddr ${formatSubnet6(up)} ip6 daddr != ${v6.uplink.gateway} ${REFUSE6}`]
      : []),
  ];
  const inbound = forwards.length || floating.length ? ["ct status dnat accept"] : [];

  return `table ip6 ${NFT_TABLE}
delete table ip6 ${NFT_TABLE}
table ip6 ${NFT_TABLE} {
${hostSet}${renderSourceSets6()}${counters.map((c) => `  counter ${c} {\n  }\n`).join("")}  counter nat_out {
  }
  counter nat_in {
  }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${lines(prerouting)}  }

  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${lines(postrouting)}  }

  chain input {
    type filter hook input priority filter; policy drop;
    icmpv6 type { ${ND_TYPES} } accept
    icmpv6 type { ${ERROR_TYPES} } accept
${lines(renderGuestLimitRules6())}    ct state established,related accept
    ct state invalid drop
    iifname "lo" accept
    iifname "${LAN_IF}" udp dport 547 accept
    iifname "${LAN_IF}" udp dport 53 accept
    iifname "${LAN_IF}" tcp dport 53 accept
    icmpv6 type echo-request limit rate 100/second accept
  }

  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "${LAN_IF}" oifname "${UPLINK_IF}" counter name nat_out
    iifname "${UPLINK_IF}" oifname "${LAN_IF}" counter name nat_in
    ct state established,related accept
    iifname "${UPLINK_IF}" oifname "${LAN_IF}" icmpv6 type { ${ERROR_TYPES} } accept
    ct state invalid drop
${lines(isolation)}${lines(inbound)}    iifname "${LAN_IF}" oifname "${UPLINK_IF}" ip6 saddr ${subnet} accept
  }
}
`;
}

/** dnsmasq's extra arguments for the IPv6 side: RA (SLAAC), DHCPv6, names, upstreams. */
export function renderDnsmasqArgs6(spec: NetSpec): string[] {
  const v6 = spec.v6;
  if (!v6) return [];
  const lan = cidr6Of(v6.lan);
  const net = formatIp6(lan.address & ~((1n << 64n) - 1n));
  const lease = spec.dhcp?.lease ?? "1h";
  // stateless: RA with SLAAC (A flag) and DNS by RDNSS and DHCPv6 information-request;
  // stateful: SLAAC and an address lease from the /64's ::1000-::1fff (M and A flags).
  // ra-names: a DHCPv4 client's SLAAC address is named like its IPv4 lease (names over both families).
  const range = v6.dhcp6
    ? `--dhcp-range=${net}1000,${net}1fff,slaac,ra-names,64,${lease}`
    : `--dhcp-range=${net},ra-stateless,ra-names,64,${lease}`;
  return [
    `--listen-address=${formatIp6(lan.address)}`,
    "--enable-ra",
    range,
    `--dhcp-option=option6:dns-server,[${formatIp6(lan.address)}]`,
    ...v6.dns.map((d) => `--server=${d}`),
  ];
}
