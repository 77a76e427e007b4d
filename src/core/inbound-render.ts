// Inbound rendering: the nftables rules spliced into renderNft's one transaction, and the
// gratuitous ARP that announces a floating address. Pure.
//
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
import { formatIp, formatSubnet } from "./ipv4.ts";
import { formatPorts, type ForwardSpec } from "./inbound.ts";
import { LAN_IF, UPLINK_IF } from "./names.ts";
import type { NetSpec } from "./spec.ts";

export interface InboundRules {
  prerouting: string[];
  /** before the generic SNAT rule */
  postroutingFirst: string[];
  postroutingLast: string[];
  forward: string[];
}

function dnatTarget(f: ForwardSpec): string {
  const guest = formatIp(f.to);
  if (f.port === f.portEnd) return `${guest}:${f.toPort}`;
  // a range keeps its ports: DNAT the address only
  if (f.toPort === f.port) return guest;
  // a range mapped to other ports: one map element per port (nft 1.0.6 has no port offset)
  const pairs = [];
  for (let p = f.port; p <= f.portEnd; p++) pairs.push(`${p} : ${f.toPort + p - f.port}`);
  return `${guest} : ${f.proto} dport map { ${pairs.join(", ")} }`;
}

export function renderInboundRules(spec: NetSpec): InboundRules {
  const forwards = spec.forwards ?? [];
  const floating = spec.floating ?? [];
  const none = { prerouting: [], postroutingFirst: [], postroutingLast: [], forward: [] };
  if (forwards.length === 0 && floating.length === 0) return none;
  const uplink = formatIp(spec.uplink.address.address);
  return {
    prerouting: [
      ...floating.map((f) => `ip daddr ${formatIp(f.address)} dnat to ${formatIp(f.to)}`),
      ...forwards.map(
        (f) => `ip daddr ${uplink} ${f.proto} dport ${formatPorts(f.port, f.portEnd)} dnat to ${dnatTarget(f)}`,
      ),
    ],
    postroutingFirst: floating.map(
      (f) => `oifname "${UPLINK_IF}" ip saddr ${formatIp(f.to)} snat to ${formatIp(f.address)}`,
    ),
    postroutingLast: [
      `oifname "${LAN_IF}" ip saddr ${formatSubnet(spec.lan)} ct status dnat snat to ${formatIp(spec.lan.address)}`,
    ],
    forward: ["ct status dnat accept"],
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
