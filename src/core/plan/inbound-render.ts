// Inbound rendering: the nftables maps and rules spliced into renderNft's one transaction,
// and the gratuitous ARP that announces a floating address. Pure.
//
// - Forwards and floating IPs are elements of named maps, looked up by one rule each:
//   a new connection costs the same with 1 forward or 5,000 (a hash lookup for single
//   ports, a pipapo interval lookup for ranges), where one rule per forward made the
//   first packet of every connection walk the whole list (issue 13; caps in spec.ts).
//   - `fwd_port`: proto . port → guest . port, for single ports and for ranges mapped to
//     other ports, one element per port (nft 1.0.6 has no port offset; their total is
//     capped). `fwd_range`: proto . port range → guest, for ranges that keep their ports
//     (DNAT of the address only).
//   - `floating_in`: floating address → guest; `floating_out`: guest → floating address.
// - A forward DNATs UPLINK:PORT to the guest. The rule names no input interface: the
//   uplink address is reached from the provider side (wan0) and, for NAT loopback, from
//   guests (lan0), and both must be translated the same way.
// - NAT loopback: a guest that reached another guest through the uplink or a floating IP
//   is SNATed to the gateway, so the reply comes back through the namespace and is
//   un-NATed (otherwise the server answers it directly from its private address).
// - A floating IP DNATs everything to its guest, and that guest's outbound traffic leaves
//   with the floating address; that rule must come before the network's generic SNAT.
// - The forward chain lets DNATed connections in (`ct status dnat`): only what a forward
//   or a floating IP names reaches a guest from outside.
// A lookup that finds no element ends its rule (nothing is translated) and the chain goes on.
// - Counters (issue 18): every forward and floating IP has a named nft counter
//   (`inboundCounterName`: short names made of the rule's own numbers, never of a user's
//   text), chosen per packet by an object map, so `vnat metrics` reads bytes and packets per
//   rule. They count in filter chains around NAT, where both directions are seen in the
//   uplink's addressing: `count_in` (prerouting, before DNAT) sees a forward's packets to
//   UPLINK:PORT (original direction) and everything to a floating address; `count_out`
//   (postrouting, after SNAT and after a DNAT's reply was un-NATed) sees a forward's replies
//   from UPLINK:PORT and everything from a floating address. Counter values never read as
//   drift (core/judge/ruleset.ts masks them).
import { formatIp, formatSubnet } from "../ipv4.ts";
import type { ForwardSpec } from "../input/inbound.ts";
import { LAN_IF, UPLINK_IF } from "../names.ts";
import type { NetSpec } from "../input/spec.ts";

export const FWD_PORT_MAP = "fwd_port";
export const FWD_RANGE_MAP = "fwd_range";
export const FLOATING_IN_MAP = "floating_in";
export const FLOATING_OUT_MAP = "floating_out";
export const FWD_COUNT_MAP = "fwd_count";
/** port ranges' counters: an interval map, apart, so single ports stay in a hash (O(1) per packet) */
export const FWD_COUNT_RANGE_MAP = "fwd_count_range";
export const FLOATING_COUNT_MAP = "floating_count";
export const COUNT_IN_CHAIN = "count_in";
export const COUNT_OUT_CHAIN = "count_out";

export interface InboundRules {
  /** table-level map declarations, each followed by a blank line ("" when there are none) */
  maps: string;
  prerouting: string[];
  /** before the generic SNAT rule */
  postroutingFirst: string[];
  postroutingLast: string[];
  forward: string[];
  /** the counting chains (issue 18), each followed by a blank line ("" when there are none) */
  countChains: string;
}

/**
 * The nft counter name of a forward or a floating IP: only the protocol, ports or address
 * digits, so it is short, safe in any nft context and stable across renders. The one place
 * these names are made (an IPv6 forward uses the same shape in its own table).
 *   forward tcp 8080 → "fwd_tcp_8080"; tcp 8000-8010 → "fwd_tcp_8000_8010";
 *   floating 198.51.100.20 → "fip_198_51_100_20" (an IPv6 address: every ':' an '_').
 */
export function inboundCounterName(
  rule: { kind: "forward"; proto: string; port: number; portEnd: number } | { kind: "floating"; address: string },
): string {
  if (rule.kind === "floating") return `fip_${rule.address.toLowerCase().replace(/[^0-9a-z]/g, "_")}`;
  const ports = rule.port === rule.portEnd ? `${rule.port}` : `${rule.port}_${rule.portEnd}`;
  return `fwd_${rule.proto.replace(/[^a-z0-9]/g, "_")}_${ports}`;
}

const forwardCounter = (f: ForwardSpec): string => inboundCounterName({ kind: "forward", ...f });
const floatingCounter = (address: number): string =>
  inboundCounterName({ kind: "floating", address: formatIp(address) });

/** `fwd_port` elements of one forward: none for a range that keeps its ports. */
function portElements(f: ForwardSpec): string[] {
  const guest = formatIp(f.to);
  if (f.port === f.portEnd) return [`${f.proto} . ${f.port} : ${guest} . ${f.toPort}`];
  if (f.toPort === f.port) return [];
  const out: string[] = [];
  for (let p = f.port; p <= f.portEnd; p++) out.push(`${f.proto} . ${p} : ${guest} . ${f.toPort + p - f.port}`);
  return out;
}

/** How many `fwd_port` elements a forward renders to (a remapped range: one per port). */
export const portElementCount = (f: ForwardSpec): number =>
  f.port === f.portEnd ? 1 : f.toPort === f.port ? 0 : f.portEnd - f.port + 1;

/** A named map, one element a line, each with a trailing comma (nft accepts it; one line shape). */
function renderMap(name: string, type: string, interval: boolean, elements: string[]): string {
  if (elements.length === 0) return "";
  return (
    `  map ${name} {\n    type ${type}\n${interval ? "    flags interval\n" : ""}    elements = {\n` +
    elements.map((e) => `      ${e},\n`).join("") +
    "    }\n  }\n\n"
  );
}

export function renderInboundRules(spec: NetSpec): InboundRules {
  const forwards = spec.forwards ?? [];
  const floating = spec.floating ?? [];
  const none = { maps: "", prerouting: [], postroutingFirst: [], postroutingLast: [], forward: [], countChains: "" };
  if (forwards.length === 0 && floating.length === 0) return none;
  const uplink = formatIp(spec.uplink.address.address);
  const ports = forwards.flatMap(portElements);
  const ranges = forwards
    .filter((f) => f.port !== f.portEnd && f.toPort === f.port)
    .map((f) => `${f.proto} . ${f.port}-${f.portEnd} : ${formatIp(f.to)}`);
  const lookup = "meta l4proto . th dport";
  const counters = [...forwards.map(forwardCounter), ...floating.map((f) => floatingCounter(f.address))];
  // every packet of a forward's connections is counted (not only the first, as NAT sees it):
  // single ports are looked up in a hash map, only ranges in an interval map
  const fwdCount = forwards
    .filter((f) => f.port === f.portEnd)
    .map((f) => `${f.proto} . ${f.port} : "${forwardCounter(f)}"`);
  const fwdCountRange = forwards
    .filter((f) => f.port !== f.portEnd)
    .map((f) => `${f.proto} . ${f.port}-${f.portEnd} : "${forwardCounter(f)}"`);
  const countBy = (match: string, key: string): string[] => [
    ...(fwdCount.length ? [`${match} counter name ${key} map @${FWD_COUNT_MAP}`] : []),
    ...(fwdCountRange.length ? [`${match} counter name ${key} map @${FWD_COUNT_RANGE_MAP}`] : []),
  ];
  const fipCount = floating.map((f) => `${formatIp(f.address)} : "${floatingCounter(f.address)}"`);
  const countIn = [
    ...countBy(`ip daddr ${uplink} ct direction original`, "meta l4proto . th dport"),
    ...(floating.length ? [`counter name ip daddr map @${FLOATING_COUNT_MAP}`] : []),
  ];
  const countOut = [
    ...countBy(`ip saddr ${uplink} ct direction reply ct status dnat`, "meta l4proto . th sport"),
    ...(floating.length ? [`counter name ip saddr map @${FLOATING_COUNT_MAP}`] : []),
  ];
  return {
    maps:
      counters.map((c) => `  counter ${c} {\n  }\n`).join("") +
      "\n" +
      renderMap(FWD_COUNT_MAP, "inet_proto . inet_service : counter", false, fwdCount) +
      renderMap(FWD_COUNT_RANGE_MAP, "inet_proto . inet_service : counter", true, fwdCountRange) +
      renderMap(FLOATING_COUNT_MAP, "ipv4_addr : counter", false, fipCount) +
      renderMap(
        FLOATING_IN_MAP,
        "ipv4_addr : ipv4_addr",
        false,
        floating.map((f) => `${formatIp(f.address)} : ${formatIp(f.to)}`),
      ) +
      renderMap(
        FLOATING_OUT_MAP,
        "ipv4_addr : ipv4_addr",
        false,
        floating.map((f) => `${formatIp(f.to)} : ${formatIp(f.address)}`),
      ) +
      renderMap(FWD_PORT_MAP, "inet_proto . inet_service : ipv4_addr . inet_service", false, ports) +
      renderMap(FWD_RANGE_MAP, "inet_proto . inet_service : ipv4_addr", true, ranges),
    prerouting: [
      ...(floating.length ? [`dnat ip to ip daddr map @${FLOATING_IN_MAP}`] : []),
      ...(ports.length ? [`ip daddr ${uplink} dnat ip to ${lookup} map @${FWD_PORT_MAP}`] : []),
      ...(ranges.length ? [`ip daddr ${uplink} dnat ip to ${lookup} map @${FWD_RANGE_MAP}`] : []),
    ],
    postroutingFirst: floating.length ? [`oifname "${UPLINK_IF}" snat ip to ip saddr map @${FLOATING_OUT_MAP}`] : [],
    postroutingLast: [
      `oifname "${LAN_IF}" ip saddr ${formatSubnet(spec.lan)} ct status dnat snat to ${formatIp(spec.lan.address)}`,
    ],
    forward: ["ct status dnat accept"],
    countChains:
      `  chain ${COUNT_IN_CHAIN} {\n    type filter hook prerouting priority mangle; policy accept;\n${chainLines(countIn)}  }\n\n` +
      `  chain ${COUNT_OUT_CHAIN} {\n    type filter hook postrouting priority 150; policy accept;\n${chainLines(countOut)}  }\n\n`,
  };
}

/** Indents rule lines for a chain body (empty when there are none). */
export function chainLines(lines: string[]): string {
  return lines.map((l) => `    ${l}\n`).join("");
}

/** iputils arping: two unsolicited ARPs for ADDRESS (the source is the address itself). */
export function renderFloatingAnnounceArgs(ip: number): string[] {
  return ["arping", "-U", "-q", "-c", "2", "-w", "1", "-I", UPLINK_IF, formatIp(ip)];
}
