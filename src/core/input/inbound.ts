// Inbound configuration of a vnat network, read from its metadata and validated against
// the network's own subnets: port forwards on the uplink address, 1:1 floating IPs on
// the provider network, and static DHCP hosts. Pure; called by buildSpec, so the hook
// and the CLI enforce exactly the same rules.
import { invalid } from "../errors.ts";
import { formatIp, formatSubnet, isHostAddress, requireIp, type Cidr } from "../ipv4.ts";
import { parseHosts, type HostSpec } from "./hosts.ts";
import { printable } from "../names.ts";
import { attr, children, type XmlNode } from "./xml.ts";

export type Proto = "tcp" | "udp";

export interface ForwardSpec {
  proto: Proto;
  /** public port range on the uplink address (port === portEnd for one port) */
  port: number;
  portEnd: number;
  /** the guest and its first port; the range keeps its size */
  to: number;
  toPort: number;
}

export interface FloatingSpec {
  /** an extra address on the provider network, mapped 1:1 to one guest */
  address: number;
  to: number;
}

export interface InboundSpec {
  forwards: ForwardSpec[];
  floating: FloatingSpec[];
  hosts: HostSpec[];
}

/** An address a vnat network holds on a provider bridge (its uplink or a floating IP). */
export interface TakenAddress {
  bridge: string;
  ip: number;
  owner: string;
}

export interface InboundContext {
  where: string;
  lan: Cidr;
  uplink: { bridge: string; address: Cidr; gateway: number };
  dhcp: boolean;
  /** addresses held by OTHER vnat networks (the CLI knows them; the hook relies on claims) */
  taken?: TakenAddress[];
}

export const INBOUND_ELEMENTS = ["forward", "floating", "host"];
export const ALLOWED_INBOUND: Record<string, string[]> = {
  forward: ["@proto", "@port", "@to", "@to-port"],
  floating: ["@address", "@to"],
  host: ["@mac", "@ip", "@name"],
};
/** a remapped range is rendered as one map element per port */
export const MAX_REMAPPED_RANGE = 1024;

/** "8080" or "8000-8010" → [start, end]; undefined when it is not that. */
export function parsePortRange(text: string): [number, number] | undefined {
  const m = /^([1-9]\d{0,4})(?:-([1-9]\d{0,4}))?$/.exec(text); // no leading zeros
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return a >= 1 && b <= 65535 && a <= b ? [a, b] : undefined;
}

export const formatPorts = (a: number, b: number): string => (a === b ? `${a}` : `${a}-${b}`);

function need(where: string, el: XmlNode, name: string, what: string): string {
  const v = attr(el, name);
  if (v === undefined) throw invalid(`${where}: needs ${name}="${what}"`);
  return v;
}

/** A guest address: a host address of the lan subnet other than the gateway. */
export function requireGuest(where: string, lan: Cidr, text: string): number {
  const ip = requireIp(`${where}: target`, text);
  if (!isHostAddress(lan, ip))
    throw invalid(
      `${where}: target ${formatIp(ip)} is outside the lan subnet ${formatSubnet(lan)} (or not a host address)`,
    );
  if (ip === lan.address) throw invalid(`${where}: target ${formatIp(ip)} is the gateway (expected a guest)`);
  return ip;
}

export function parseForward(where: string, lan: Cidr, el: XmlNode): ForwardSpec {
  const proto = need(where, el, "proto", "tcp|udp");
  if (proto !== "tcp" && proto !== "udp")
    throw invalid(`${where}: forward proto "${printable(proto)}": expected tcp or udp`);
  const portText = need(where, el, "port", "PORT or START-END");
  const ports = parsePortRange(portText);
  if (!ports) throw invalid(`${where}: forward ${proto} port "${printable(portText)}": expected 1-65535 or START-END`);
  const [port, portEnd] = ports;
  const w = `${where}: forward ${proto} ${formatPorts(port, portEnd)}`;
  const to = requireGuest(w, lan, need(w, el, "to", "GUEST_IP"));
  const toText = attr(el, "to-port");
  let toPort = port;
  if (toText !== undefined) {
    const t = parsePortRange(toText);
    if (!t) throw invalid(`${w}: to-port "${printable(toText)}": expected 1-65535 or START-END`);
    if (t[0] !== t[1] && t[1] - t[0] !== portEnd - port)
      throw invalid(`${w}: to-port ${toText} is not the same size as the port range`);
    toPort = t[0];
  }
  if (toPort + (portEnd - port) > 65535) throw invalid(`${w}: to-port range ends above 65535`);
  if (toPort !== port && portEnd - port + 1 > MAX_REMAPPED_RANGE)
    throw invalid(`${w}: a range mapped to other ports may span at most ${MAX_REMAPPED_RANGE} ports`);
  return { proto, port, portEnd, to, toPort };
}

export function parseFloating(c: InboundContext, el: XmlNode): FloatingSpec {
  const { where, uplink } = c;
  const address = requireIp(`${where}: floating address`, need(`${where}: <vnat:floating>`, el, "address", "A.B.C.D"));
  const w = `${where}: floating ${formatIp(address)}`;
  if (!isHostAddress(uplink.address, address))
    throw invalid(`${w}: outside the provider subnet ${formatSubnet(uplink.address)} (or not a host address)`);
  if (address === uplink.address.address) throw invalid(`${w}: is the network's own uplink address`);
  if (address === uplink.gateway) throw invalid(`${w}: is the provider's gateway`);
  const holder = c.taken?.find((t) => t.bridge === uplink.bridge && t.ip === address);
  if (holder) throw invalid(`${w}: already used by vnat network "${holder.owner}" on bridge "${uplink.bridge}"`);
  return { address, to: requireGuest(w, c.lan, need(w, el, "to", "GUEST_IP")) };
}

/** Parses and cross-checks every inbound element of a <vnat:network>. */
export function buildInbound(c: InboundContext, md: XmlNode): InboundSpec {
  const forwards: ForwardSpec[] = [];
  for (const el of children(md, "forward")) {
    const f = parseForward(c.where, c.lan, el);
    const clash = forwards.find((o) => o.proto === f.proto && o.port <= f.portEnd && f.port <= o.portEnd);
    if (clash)
      throw invalid(
        `${c.where}: forward ${f.proto} ${formatPorts(f.port, f.portEnd)}: port already forwarded (${clash.proto} ${formatPorts(clash.port, clash.portEnd)} to ${formatIp(clash.to)})`,
      );
    forwards.push(f);
  }
  const floating: FloatingSpec[] = [];
  for (const el of children(md, "floating")) {
    const f = parseFloating(c, el);
    const w = `${c.where}: floating ${formatIp(f.address)}`;
    if (floating.some((o) => o.address === f.address)) throw invalid(`${w}: given twice`);
    const other = floating.find((o) => o.to === f.to);
    if (other)
      throw invalid(`${w}: guest ${formatIp(f.to)} already has floating IP ${formatIp(other.address)} (one per guest)`);
    floating.push(f);
  }
  const hosts = parseHosts(c.where, c.lan, c.dhcp, children(md, "host"));
  return { forwards, floating, hosts };
}
