// Renders a NetSpec into the exact text and argv vnat hands to ip, sysctl, nft and
// dnsmasq. Pure; golden-tested. Only validated values reach these strings.
import { formatCidr, formatIp, formatSubnet, netmaskText } from "../ipv4.ts";
import { LAN_IF, UPLINK_IF, lanMac, ownerAlias, NFT_TABLE } from "../names.ts";
import type { Attachments, FdbEntry } from "../input/attach.ts";
import type { NetPaths } from "../paths.ts";
import type { NetSpec } from "../input/spec.ts";
import { chainLines, renderInboundRules } from "./inbound-render.ts";
import { DEFAULT_ISOLATION, renderHostSet, renderIsolationRules } from "../input/isolation.ts";
import { leaseScriptPath } from "./lease-status.ts";
import { renderDnsmasqArgs6, renderNetnsBatch6 } from "./render6.ts";

/** One `ip -batch` line and how to undo it once it has succeeded. */
export interface BatchLine {
  line: string;
  undo?: { kind: "netns-del"; netns: string } | { kind: "link-del"; ifname: string };
}

/**
 * Host-namespace lines: the namespace and its two links. A macvlan is created straight inside
 * the namespace as a child of its bridge; a veth pair gets its host end named by its owner
 * (alias "vnat:NAME": the kernel ignores an alias given to `link add`, so it is set right
 * after, and teardown checks it before deleting), then enslaved and up (no IPv6 link-local
 * on it: vnat adds no host addresses). The LAN line is the one step that needs libvirt's bridge.
 */
export function renderHostBatch(spec: NetSpec, attach: Attachments): BatchLine[] {
  const { netns, lanHost, uplinkHost } = spec.names;
  const macvlan = (bridge: string, ifname: string, mac: string): BatchLine => ({
    line: `link add link ${bridge} name ${ifname} address ${mac} netns ${netns} type macvlan mode bridge`,
  });
  const veth = (host: string, bridge: string, ifname: string, mac: string | null): BatchLine[] => [
    {
      line: `link add ${host} type veth peer name ${ifname}${mac ? ` address ${mac}` : ""} netns ${netns}`,
      undo: { kind: "link-del", ifname: host },
    },
    { line: `link set ${host} alias ${ownerAlias(spec.name)}` },
    { line: `link set ${host} addrgenmode none` },
    { line: enslaveLine(host, bridge) },
  ];
  return [
    { line: `netns add ${netns}`, undo: { kind: "netns-del", netns } },
    ...(attach.lan === "macvlan"
      ? [macvlan(spec.lanBridge, LAN_IF, lanMac(spec.name))]
      : veth(lanHost, spec.lanBridge, LAN_IF, null)),
    ...(attach.uplink === "macvlan"
      ? [macvlan(spec.uplink.bridge, UPLINK_IF, spec.uplink.mac)]
      : veth(uplinkHost, spec.uplink.bridge, UPLINK_IF, spec.uplink.mac)),
  ];
}

/** The bridges' static local entries for the network's macvlans (none for veths). */
export function attachFdb(spec: NetSpec, attach: Attachments): FdbEntry[] {
  return [
    ...(attach.lan === "macvlan" ? [{ bridge: spec.lanBridge, mac: lanMac(spec.name) }] : []),
    ...(attach.uplink === "macvlan" ? [{ bridge: spec.uplink.bridge, mac: spec.uplink.mac }] : []),
  ];
}

/** Router sysctls, set inside the namespace before its links come up. */
export function renderSysctls(): string[] {
  return [
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.disable_ipv6=1",
    "net.ipv6.conf.default.disable_ipv6=1",
    // announce again whenever wan0's MAC changes or it comes back up
    `net.ipv4.conf.${UPLINK_IF}.arp_notify=1`,
    // guests may only source packets from their own subnet
    `net.ipv4.conf.${LAN_IF}.rp_filter=1`,
    // NAT loopback routes lan0 → lan0: an ICMP redirect would send the guest straight to
    // the other guest with the uplink address as destination (the kernel ORs all + dev)
    "net.ipv4.conf.all.send_redirects=0",
    `net.ipv4.conf.${LAN_IF}.send_redirects=0`,
  ];
}

/**
 * Lines for `ip -n NETNS -batch -`: addresses before links come up, so arp_notify announces
 * them. Every line can run twice ("replace"): the step is retried while a namespace of the
 * same network that is still being freed holds the macvlans' MACs (apply.ts).
 */
export function renderNetnsBatch(spec: NetSpec): string[] {
  return [
    linkUpLine("lo"),
    addrReplaceLine(formatCidr(spec.lan), LAN_IF),
    linkUpLine(LAN_IF),
    addrReplaceLine(formatCidr(spec.uplink.address), UPLINK_IF),
    ...(spec.floating ?? []).map((f) =>
      addrReplaceLine(`${formatIp(f.address)}/${spec.uplink.address.prefix}`, UPLINK_IF),
    ),
    linkUpLine(UPLINK_IF),
    defaultRouteLine(spec),
    ...(spec.v6 ? renderNetnsBatch6(spec.v6) : []),
  ];
}

// Single `ip -batch` lines, shared by the start's batches and the repairs (core/plan/repair.ts).
export const linkUpLine = (ifname: string): string => `link set ${ifname} up`;
/** a host-side veth end into its bridge, and up */
export const enslaveLine = (ifname: string, bridge: string): string => `link set ${ifname} master ${bridge} up`;
export const addrReplaceLine = (cidr: string, ifname: string): string => `addr replace ${cidr} dev ${ifname}`;
export const addrDelLine = (cidr: string, ifname: string): string => `addr del ${cidr} dev ${ifname}`;
export const macLine = (ifname: string, mac: string): string => `link set ${ifname} address ${mac}`;
export const defaultRouteLine = (spec: NetSpec): string =>
  `route replace default via ${formatIp(spec.uplink.gateway)} dev ${UPLINK_IF}`;

/** iputils arping: unsolicited ARP for the uplink address, twice, a second apart. */
export function renderAnnounceArgs(spec: NetSpec): string[] {
  const ip = formatIp(spec.uplink.address.address);
  return ["arping", "-U", "-q", "-c", "2", "-I", UPLINK_IF, ip];
}

export { NFT_TABLE };

/**
 * What one guest may ask the namespace's dnsmasq (issue 13.3; docs/DESIGN.md "Limits").
 * DHCP is counted per source MAC (a DISCOVER comes from 0.0.0.0), DNS per source address
 * (UDP queries and new TCP connections share the bucket); over its limit a packet is
 * dropped. Randomised MACs defeat a per-MAC count, so all of DHCP also shares one bucket:
 * a flood then starves DHCP on its own network while it lasts, never dnsmasq, /run or
 * another network. A source table holds SOURCES entries, each forgotten a minute after its
 * last packet; a new source finding it full is not counted per source (DHCP still passes
 * the shared bucket).
 */
export const GUEST_LIMITS = {
  dhcpPerMac: { rate: 10, burst: 50 },
  dhcpAll: { rate: 100, burst: 500 },
  dnsPerSource: { rate: 100, burst: 200 },
  sources: 4096,
  forgetAfter: "1m",
} as const;
export const DHCP_SOURCES_SET = "dhcp_src";
export const DNS_SOURCES_SET = "dns_src";

const over = (l: { rate: number; burst: number }): string =>
  `limit rate over ${l.rate}/second burst ${l.burst} packets`;

/** The per-source tables (filled by the input chain's rules, never by vnat). */
function renderSourceSets(): string {
  const set = (name: string, type: string): string =>
    `  set ${name} {
    type ${type}
    size ${GUEST_LIMITS.sources}
    flags dynamic,timeout
    timeout ${GUEST_LIMITS.forgetAfter}
  }

`;
  return set(DHCP_SOURCES_SET, "ether_addr") + set(DNS_SOURCES_SET, "ipv4_addr");
}

/** Input-chain rules dropping what a guest asks of dnsmasq over its limits (before any accept). */
function renderGuestLimitRules(): string[] {
  const L = GUEST_LIMITS;
  const lan = `iifname "${LAN_IF}"`;
  return [
    `${lan} udp dport 67 update @${DHCP_SOURCES_SET} { ether saddr ${over(L.dhcpPerMac)} } drop`,
    `${lan} udp dport 67 ${over(L.dhcpAll)} drop`,
    `${lan} udp dport 53 update @${DNS_SOURCES_SET} { ip saddr ${over(L.dnsPerSource)} } drop`,
    `${lan} tcp dport 53 ct state new update @${DNS_SOURCES_SET} { ip saddr ${over(L.dnsPerSource)} } drop`,
  ];
}

/**
 * The whole ruleset as one `nft -f` transaction. It first creates then deletes the table,
 * so the same text replaces a drifted ruleset atomically (reconcile) or creates it fresh.
 * HOSTADDRS are the host's own IPv4 addresses (exec/probe/host-addrs.ts), which isolation keeps
 * guests from reaching: required, so that no caller can render a ruleset that forgets them.
 */
export function renderNft(spec: NetSpec, hostAddrs: readonly number[]): string {
  const subnet = formatSubnet(spec.lan);
  const uplink = formatIp(spec.uplink.address.address);
  const inbound = renderInboundRules(spec);
  const iso = spec.isolation ?? DEFAULT_ISOLATION;
  const isolation = renderIsolationRules(iso, spec.uplink.address, spec.uplink.gateway);
  return `table ip ${NFT_TABLE}
delete table ip ${NFT_TABLE}
table ip ${NFT_TABLE} {
${renderHostSet(iso, hostAddrs)}${renderSourceSets()}${inbound.maps}  counter nat_out {
  }
  counter nat_in {
  }

  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
${chainLines(inbound.prerouting)}  }

  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
${chainLines(inbound.postroutingFirst)}    oifname "${UPLINK_IF}" ip saddr ${subnet} snat to ${uplink}
${chainLines(inbound.postroutingLast)}  }

${inbound.countChains}  chain input {
    type filter hook input priority filter; policy drop;
${chainLines(renderGuestLimitRules())}    ct state established,related accept
    ct state invalid drop
    iifname "lo" accept
    iifname "${LAN_IF}" udp dport 67 accept
    iifname "${LAN_IF}" udp dport 53 accept
    iifname "${LAN_IF}" tcp dport 53 accept
    icmp type echo-request limit rate 100/second accept
  }

  chain forward {
    type filter hook forward priority filter; policy drop;
    iifname "${LAN_IF}" oifname "${UPLINK_IF}" counter name nat_out
    iifname "${UPLINK_IF}" oifname "${LAN_IF}" counter name nat_in
    ct state established,related accept
    ct state invalid drop
${chainLines(isolation)}${chainLines(inbound.forward)}    iifname "${LAN_IF}" oifname "${UPLINK_IF}" ip saddr ${subnet} accept
  }
}
`;
}

/** The unprivileged user dnsmasq drops to (Debian's dnsmasq-base creates it). */
export const DNSMASQ_USER = "dnsmasq";

/** dnsmasq's arguments (run inside the namespace). It daemonizes and reopens stdio on /dev/null. */
export function renderDnsmasqArgs(spec: NetSpec, paths: NetPaths): string[] {
  const gw = formatIp(spec.lan.address);
  const args = [
    "--conf-file=/dev/null",
    // dnsmasq-base's own system user, not the `nobody` many daemons share (one of them
    // could signal or trace a dnsmasq running as the same user)
    `--user=${DNSMASQ_USER}`,
    `--pid-file=${paths.pidFile}`,
    `--interface=${LAN_IF}`,
    "--except-interface=lo",
    "--bind-interfaces",
    `--listen-address=${gw}`,
    "--no-resolv",
    "--no-hosts",
    "--no-poll",
    "--domain-needed",
    "--bogus-priv",
    `--log-facility=${paths.dnsmasqLog}`,
    ...spec.dns.map((d) => `--server=${formatIp(d)}`),
  ];
  if (spec.dhcp) {
    const { start, end, lease } = spec.dhcp;
    args.push(
      `--dhcp-range=${formatIp(start)},${formatIp(end)},${netmaskText(spec.lan.prefix)},${lease}`,
      `--dhcp-option=option:router,${gw}`,
      `--dhcp-option=option:dns-server,${gw}`,
      `--dhcp-leasefile=${paths.leases}`,
      `--dhcp-hostsfile=${paths.dhcpHosts}`,
      "--dhcp-authoritative",
      // vnat is the only DHCP server on this private subnet: skip the 3 s ping per new lease
      "--no-ping",
      // no line per DHCP transaction: a guest flooding DISCOVERs must not fill /run (issue
      // 13.3); refusals and errors are still logged, at most as fast as GUEST_LIMITS lets
      // DHCP in
      "--quiet-dhcp",
      // libvirt's view of the leases (core/plan/lease-status.ts): renewals are lease changes too
      `--dhcp-script=${leaseScriptPath(paths)}`,
      "--script-on-renewal",
    );
  }
  args.push(...renderDnsmasqArgs6(spec));
  return args;
}
