// Static DHCP hosts: a MAC always gets one address (and optionally a name). Parsed from
// <vnat:host mac=… ip=… name=…/> and rendered as dnsmasq's --dhcp-hostsfile, which
// dnsmasq re-reads on SIGHUP without dropping existing leases. Pure.
import { invalid } from "../errors.ts";
import { formatIp, formatSubnet, isHostAddress, requireIp, type Cidr } from "../ipv4.ts";
import { printable } from "../names.ts";
import { attr, type XmlNode } from "./xml.ts";

export interface HostSpec {
  /** lower case, colon separated */
  mac: string;
  ip: number;
  name?: string;
}

const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
/** one DNS label (RFC 1123): dnsmasq hands it to the guest and serves it in DNS */
const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** "52:54:00:AB:cd:01" → "52:54:00:ab:cd:01"; a one-line error for anything else. */
export function requireMac(where: string, text: string): string {
  if (!MAC_RE.test(text))
    throw invalid(`${where}: MAC "${printable(text)}": expected six hex pairs like 52:54:00:12:34:56`);
  const mac = text.toLowerCase();
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalid(`${where}: MAC ${mac} is a multicast address`);
  return mac;
}

export function requireHostname(where: string, text: string): string {
  if (!HOSTNAME_RE.test(text))
    throw invalid(`${where}: name "${printable(text)}": expected 1-63 letters, digits and "-" (not at either end)`);
  return text;
}

export function parseHost(where: string, lan: Cidr, el: XmlNode): HostSpec {
  const macText = attr(el, "mac");
  if (macText === undefined) throw invalid(`${where}: <vnat:host> needs mac="52:54:00:…"`);
  const mac = requireMac(`${where}: host`, macText);
  const w = `${where}: host ${mac}`;
  const ipText = attr(el, "ip");
  if (ipText === undefined) throw invalid(`${w}: needs ip="A.B.C.D"`);
  const ip = requireIp(`${w}: ip`, ipText);
  if (!isHostAddress(lan, ip))
    throw invalid(`${w}: ip ${formatIp(ip)} is outside the lan subnet ${formatSubnet(lan)} (or not a host address)`);
  if (ip === lan.address) throw invalid(`${w}: ip ${formatIp(ip)} is the gateway`);
  const nameText = attr(el, "name");
  return nameText === undefined ? { mac, ip } : { mac, ip, name: requireHostname(w, nameText) };
}

export function parseHosts(where: string, lan: Cidr, dhcp: boolean, els: XmlNode[]): HostSpec[] {
  const hosts: HostSpec[] = [];
  for (const el of els) {
    const h = parseHost(where, lan, el);
    const w = `${where}: host ${h.mac}`;
    if (!dhcp) throw invalid(`${w}: DHCP is disabled on this network (static hosts need it)`);
    if (hosts.some((o) => o.mac === h.mac)) throw invalid(`${w}: duplicate MAC (each MAC may be listed once)`);
    const sameIp = hosts.find((o) => o.ip === h.ip);
    if (sameIp) throw invalid(`${w}: ip ${formatIp(h.ip)} is already given to ${sameIp.mac}`);
    const sameName = h.name !== undefined && hosts.find((o) => o.name?.toLowerCase() === h.name!.toLowerCase());
    if (sameName) throw invalid(`${w}: name "${h.name}" is already given to ${sameName.mac}`);
    hosts.push(h);
  }
  return hosts;
}

/** dnsmasq --dhcp-hostsfile text: one `MAC,IP[,NAME]` line per host. */
export function renderDhcpHosts(hosts: readonly HostSpec[]): string {
  return hosts.map((h) => [h.mac, formatIp(h.ip), ...(h.name ? [h.name] : [])].join(",") + "\n").join("");
}
