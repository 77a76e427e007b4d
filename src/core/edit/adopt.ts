// `vnat net adopt` and `vnat net release` (issue 16.2) as pure conversions of libvirt's
// network XML: a libvirt NAT network (forward mode nat, one IPv4 <ip>) becomes a vnat
// network with the same name, UUID, bridge, gateway, subnet, DHCP range, lease time and
// reservations (as vnat hosts), so its guests keep their addresses; and back. Whatever one
// side cannot express is refused with one line naming the network and the thing, never
// dropped silently (release drops forwards and floating IPs only when forced, and says so).
import type { Config } from "../input/config.ts";
import { conflict, invalid } from "../errors.ts";
import { VNAT_XMLNS, findVnatMetadata } from "../input/hookdata.ts";
import { parseHosts, requireHostname, requireMac, type HostSpec } from "../input/hosts.ts";
import { validateIfname } from "../input/ifname.ts";
import { formatCidr, formatIp, formatSubnet, overlaps, parseIp, requireCidr, requireIp, type Cidr } from "../ipv4.ts";
import { parseNetworkXml } from "../observe/inventory.ts";
import { modelFromMetadata, renderMetadata, replaceMetadata } from "../input/metadata.ts";
import { printable, validateNetworkName } from "../names.ts";
import { planCreate, type HostView } from "./netcreate.ts";
import { buildSpec, deriveRange, leaseSeconds, type NetSpec } from "../input/spec.ts";
import { attr, child, children, parseXml, text, type XmlNode } from "../input/xml.ts";

/** What vnat carries over from a libvirt NAT network. */
export interface NatNetwork {
  name: string;
  bridge: string;
  /** libvirt's <ip address> (the guests' gateway) with the subnet's prefix */
  lan: Cidr;
  /** absent: the <ip> has no <dhcp> */
  dhcp?: { start: number; end: number; lease?: string };
  hosts: HostSpec[];
}

const LEASE_UNIT: Record<string, string> = { seconds: "s", minutes: "m", hours: "h" };

/** Refuses the first key of NODE that is not in ALLOWED ("@attr" or "element"), naming it. */
function only(where: string, label: string, node: XmlNode, allowed: string[], why = "vnat has no equivalent"): void {
  for (const key of Object.keys(node)) {
    if (key.startsWith("@xmlns") || allowed.includes(key)) continue;
    const thing = key.startsWith("@")
      ? `${label.replace(/>$/, "")} ${printable(key.slice(1), 32)}="${printable(String(node[key]), 40)}">`
      : `${label}<${printable(key, 32)}>`;
    throw cannot(where, thing, why);
  }
}

const cannot = (where: string, thing: string, why: string) =>
  invalid(`${where}: ${thing} cannot be carried over (${why}); remove it first (virsh net-edit)`);

/** Top-level elements vnat refuses, with the reason given to the user. */
const REFUSED: Record<string, string> = {
  mtu: "vnat's links on the bridge use the default MTU",
  domain: "vnat's dnsmasq serves no local domain",
  route: "vnat puts no routes on the host",
  portgroup: "vnat has no port groups",
  virtualport: "vnat bridges are Linux bridges",
  vlan: "vnat has no VLAN tags",
  bandwidth: "vnat sets no bandwidth limits",
  port: "vnat does not isolate ports on the bridge",
  "dnsmasq:options": "vnat's dnsmasq takes no extra options",
};

/** Reads a libvirt NAT network's XML (`virsh net-dumpxml --inactive`); refuses what vnat cannot carry over. */
export function parseNatNetwork(xml: string): NatNetwork {
  const doc = parseXml("libvirt network", xml.replace(/^\s*<\?xml[^>]*\?>/, ""));
  const net = child(doc, "network");
  if (!net) throw invalid("libvirt network: no <network> element");
  const name = validateNetworkName(text(net, "name") ?? "");
  const where = `network "${name}"`;
  if (findVnatMetadata(child(net, "metadata")))
    throw conflict(`${where}: is a vnat network already (it has vnat metadata); see vnat net show ${name}`);
  for (const key of Object.keys(net)) {
    if (key === "@connections" || key.startsWith("@xmlns")) continue;
    if (key.startsWith("@"))
      throw cannot(where, `<network ${key.slice(1)}="${printable(String(net[key]), 40)}">`, "vnat sets no such option");
    if (REFUSED[key]) throw cannot(where, `<${key}>`, REFUSED[key]);
    if (!["name", "uuid", "title", "description", "metadata", "bridge", "mac", "forward", "ip", "dns"].includes(key))
      throw cannot(where, `<${printable(key, 32)}>`, "vnat has no equivalent");
    if (children(net, key).length > 1 && key !== "ip")
      throw invalid(`${where}: <${key}> given ${children(net, key).length} times`);
  }
  checkForward(where, net);
  checkDns(where, net);
  const br = child(net, "bridge");
  const bridgeName = attr(br, "name");
  if (!br || bridgeName === undefined)
    throw invalid(`${where}: has no <bridge name="…"/> (libvirt names one when it defines a NAT network)`);
  only(where, "<bridge>", br, ["@name", "@stp", "@delay", "@macTableManager"], "vnat has no such bridge option");
  const mtm = attr(br, "macTableManager");
  if (mtm !== undefined && mtm !== "kernel")
    throw cannot(
      where,
      `<bridge macTableManager="${printable(mtm)}">`,
      "vnat's links on the bridge need the kernel's MAC learning",
    );
  const bridge = validateIfname(`${where}: bridge`, bridgeName);
  return { name, bridge, ...parseIp4(where, net) };
}

/** Why a libvirt network's IPv6 is not carried over (issue 17: vnat has IPv6, adopt does not map it). */
const ADOPT_IPV4_ONLY =
  "adopt carries over IPv4 only; add the IPv6 side after adopting: <vnat:lan6> and <vnat:uplink6>, docs/ipv6.md";

function checkForward(where: string, net: XmlNode): void {
  const fwd = child(net, "forward");
  if (!fwd) throw invalid(`${where}: has no <forward mode="nat">: only a libvirt NAT network can be adopted`);
  const mode = attr(fwd, "mode") ?? "nat";
  if (mode !== "nat")
    throw invalid(
      `${where}: has <forward mode="${printable(mode)}">: only a libvirt NAT network (mode "nat") can be adopted`,
    );
  if (attr(fwd, "dev") !== undefined)
    throw cannot(
      where,
      `<forward dev="${printable(attr(fwd, "dev")!)}">`,
      "vnat's traffic leaves through the provider bridge",
    );
  only(where, "<forward>", fwd, ["@mode", "nat"]);
  const nat = child(fwd, "nat");
  if (!nat) return;
  if (attr(nat, "ipv6") !== undefined)
    throw cannot(where, `<nat ipv6="${printable(attr(nat, "ipv6")!)}">`, ADOPT_IPV4_ONLY);
  if (children(nat, "address").length)
    throw cannot(where, "<nat><address> (a NAT address range)", "vnat's traffic leaves with its one uplink address");
  only(where, "<nat>", nat, ["port"]);
  const port = child(nat, "port");
  // libvirt writes its default range into the live XML: that one is what vnat does too
  if (port && (attr(port, "start") !== "1024" || attr(port, "end") !== "65535" || children(nat, "port").length > 1))
    throw cannot(
      where,
      `<nat><port start="${printable(attr(port, "start") ?? "")}" end="${printable(attr(port, "end") ?? "")}"> (a NAT port range)`,
      "vnat's masquerade picks source ports as the kernel does",
    );
}

function checkDns(where: string, net: XmlNode): void {
  const dns = child(net, "dns");
  if (!dns) return;
  const enable = attr(dns, "enable") ?? "yes";
  if (enable !== "yes")
    throw cannot(where, `<dns enable="${printable(enable)}">`, "vnat always serves DNS to its guests");
  const why: Record<string, string> = {
    forwarder: "vnat's dnsmasq forwards to the provider's DNS, or give --dns with vnat net set",
    host: "vnat names guests by their DHCP hostnames and vnat hosts",
    srv: "vnat serves no SRV records",
    txt: "vnat serves no TXT records",
  };
  for (const key of Object.keys(dns)) {
    if (key === "@enable" || key.startsWith("@xmlns")) continue;
    const bare = key.replace(/^@/, "");
    throw cannot(
      where,
      key.startsWith("@") ? `<dns ${bare}="…">` : `<dns><${printable(bare, 32)}>`,
      why[bare] ?? "vnat has no equivalent",
    );
  }
}

function parseIp4(where: string, net: XmlNode): Pick<NatNetwork, "lan" | "dhcp" | "hosts"> {
  const ips = children(net, "ip");
  for (const ip of ips) {
    const family = attr(ip, "family") ?? "ipv4";
    if (family !== "ipv4")
      throw cannot(
        where,
        `<ip family="${printable(family)}" address="${printable(attr(ip, "address") ?? "")}">`,
        ADOPT_IPV4_ONLY,
      );
  }
  if (ips.length === 0) throw invalid(`${where}: has no IPv4 <ip>: nothing to carry over`);
  if (ips.length > 1) throw cannot(where, `${ips.length} IPv4 <ip> elements`, "a vnat network serves one subnet");
  const ip = ips[0]!;
  if (children(ip, "tftp").length) throw cannot(where, "<ip><tftp>", "vnat's dnsmasq serves no TFTP");
  only(where, "<ip>", ip, ["@address", "@netmask", "@prefix", "@family", "dhcp"]);
  const address = attr(ip, "address");
  if (address === undefined) throw invalid(`${where}: <ip> has no address`);
  const lan = requireCidr(`${where}: <ip address>`, `${address}/${prefixOf(where, ip)}`, 8, 30);
  const dhcp = child(ip, "dhcp");
  if (!dhcp) return { lan, hosts: [] };
  if (children(dhcp, "bootp").length) throw cannot(where, "<dhcp><bootp>", "vnat's dnsmasq serves no boot files");
  only(where, "<dhcp>", dhcp, ["range", "host"]);
  const ranges = children(dhcp, "range");
  const hostEls = children(dhcp, "host");
  if (ranges.length > 1)
    throw cannot(where, `${ranges.length} DHCP <range> elements`, "a vnat network has one DHCP range");
  const range = ranges[0];
  if (!range) {
    if (hostEls.length)
      throw cannot(where, "<dhcp> with hosts and no <range>", "a vnat network's DHCP always has a dynamic range");
    return { lan, hosts: [] };
  }
  only(where, "<range>", range, ["@start", "@end", "lease"]);
  const start = requireIp(`${where}: <range start>`, attr(range, "start") ?? "");
  const end = requireIp(`${where}: <range end>`, attr(range, "end") ?? "");
  const leaseEl = child(range, "lease");
  const lease = leaseEl ? leaseOf(where, leaseEl) : undefined;
  const hosts = hostEls.map((h) => hostOf(where, h));
  return { lan, dhcp: { start, end, ...(lease ? { lease } : {}) }, hosts };
}

function prefixOf(where: string, ip: XmlNode): number {
  const prefix = attr(ip, "prefix");
  const netmask = attr(ip, "netmask");
  if (prefix !== undefined) {
    if (!/^\d{1,2}$/.test(prefix)) throw invalid(`${where}: <ip prefix="${printable(prefix)}">: not a prefix length`);
    return Number(prefix);
  }
  if (netmask === undefined) throw invalid(`${where}: <ip> has neither netmask nor prefix`);
  const m = parseIp(netmask);
  const bits = m === undefined ? -1 : 32 - Math.log2(2 ** 32 - m);
  if (m === undefined || !Number.isInteger(bits))
    throw invalid(`${where}: <ip netmask="${printable(netmask)}">: not a contiguous netmask`);
  return bits;
}

/** libvirt's <lease expiry="N" unit="seconds|minutes|hours"/> (unit default minutes; 0: infinite) as vnat writes it. */
function leaseOf(where: string, el: XmlNode): string {
  only(where, "<lease>", el, ["@expiry", "@unit"]);
  const expiry = attr(el, "expiry") ?? "";
  const unit = attr(el, "unit") ?? "minutes";
  if (!/^\d{1,9}$/.test(expiry) || !LEASE_UNIT[unit])
    throw invalid(
      `${where}: <lease expiry="${printable(expiry)}" unit="${printable(unit)}">: not a lease time vnat reads`,
    );
  return Number(expiry) === 0 ? "infinite" : `${Number(expiry)}${LEASE_UNIT[unit]}`;
}

function hostOf(where: string, el: XmlNode): HostSpec {
  if (attr(el, "id") !== undefined) throw cannot(where, `<host id="…">`, "vnat matches hosts by MAC only");
  if (children(el, "lease").length)
    throw cannot(where, "<host><lease> (a lease time of its own)", "vnat hosts share the network's lease time");
  only(where, "<host>", el, ["@mac", "@ip", "@name"]);
  const macText = attr(el, "mac");
  if (macText === undefined)
    throw cannot(where, `<host ip="${printable(attr(el, "ip") ?? "")}"> without mac`, "vnat hosts are matched by MAC");
  const mac = requireMac(`${where}: <host>`, macText);
  const ip = requireIp(`${where}: <host mac="${mac}"> ip`, attr(el, "ip") ?? "");
  const name = attr(el, "name");
  return { mac, ip, ...(name !== undefined ? { name: requireHostname(`${where}: <host mac="${mac}">`, name) } : {}) };
}

/**
 * Runs F on XML with its <metadata> hidden, so an element another application keeps there
 * is never mistaken for one of libvirt's own.
 */
function outsideMetadata(xml: string, f: (body: string) => string): string {
  const md = /<metadata\s*\/>|<metadata>[\s\S]*?<\/metadata>/.exec(xml);
  const mark = "\u0000vnat-metadata\u0000";
  const body = md ? xml.slice(0, md.index) + mark + xml.slice(md.index + md[0].length) : xml;
  const out = f(body);
  return md ? out.replace(mark, () => md[0]) : out;
}

/** XML with each of the named elements (empty or not) removed, with the line it stood on. */
function withoutElements(xml: string, names: string[]): string {
  return outsideMetadata(xml, (body) =>
    names.reduce(
      (s, n) => s.replace(new RegExp(`\\n?[ \\t]*<${n}\\b(?:[^>]*?/>|[^>]*>[\\s\\S]*?</${n}>)`, "g"), ""),
      body,
    ),
  );
}

export interface AdoptOptions {
  provider: string;
  /** "A.B.C.D[/N]" or "auto" (the default) */
  uplink?: string;
}

export interface AdoptPlan {
  /** the vnat definition to net-define */
  xml: string;
  spec: NetSpec;
  nat: NatNetwork;
  uplinkWasAuto: boolean;
}

/**
 * The vnat definition of libvirt NAT network XML: its forward, ip and dns elements go, vnat
 * metadata comes (uplink chosen and checked exactly as `vnat net create` does), everything
 * else (name, UUID, bridge and its MAC, title, other applications' metadata) stays.
 */
export function planAdopt(xml: string, o: AdoptOptions, config: Config, host: HostView): AdoptPlan {
  const nat = parseNatNetwork(xml);
  const template = withoutElements(xml.replace(/^\s*<\?xml[^>]*\?>\s*/, ""), ["forward", "ip", "dns"]);
  // the network itself and its own bridge are not "taken"
  const view: HostView = {
    ...host,
    networks: host.networks.filter((n) => n.name !== nat.name),
    links: new Set([...host.links].filter((l) => l !== nat.bridge)),
  };
  const created = planCreate(
    { name: nat.name, subnet: formatSubnet(nat.lan), provider: o.provider, uplink: o.uplink, bridge: nat.bridge },
    config,
    view,
    template,
  );
  const model = modelFromMetadata(parseNetworkXml(created.xml).metadata!);
  model.lan = {
    address: formatCidr(nat.lan),
    dhcp: nat.dhcp
      ? {
          start: formatIp(nat.dhcp.start),
          end: formatIp(nat.dhcp.end),
          ...(nat.dhcp.lease ? { lease: nat.dhcp.lease } : {}),
        }
      : { enabled: "no" },
  };
  if (nat.hosts.length)
    model.hosts = nat.hosts.map((h) => ({ mac: h.mac, ip: formatIp(h.ip), ...(h.name ? { name: h.name } : {}) }));
  const out = replaceMetadata(created.xml, renderMetadata(model));
  return { xml: out, spec: buildSpec(parseNetworkXml(out), config), nat, uplinkWasAuto: created.uplinkWasAuto };
}

export interface ReleasePlan {
  /** the libvirt NAT definition to net-define */
  xml: string;
  nat: NatNetwork;
  /** what --force dropped (forwards, floating IPs), one line each */
  dropped: string[];
}

/** Another libvirt network, as far as release needs to know it. */
export interface OtherNetwork {
  name: string;
  xml: string;
  active: boolean;
}

/**
 * The libvirt NAT definition of a vnat network: forward mode nat, an <ip> with the lan
 * gateway, its DHCP range, lease time and the vnat hosts as reservations; the vnat metadata
 * element goes (other metadata stays). Forwards and floating IPs have no libvirt NAT form:
 * refused unless FORCE, then dropped and listed. An active libvirt network already holding
 * an overlapping subnet would make libvirt refuse the start: refused here.
 */
export function planRelease(xml: string, o: { force?: boolean }, others: OtherNetwork[] = []): ReleasePlan {
  const net = parseNetworkXml(xml);
  const name = validateNetworkName(net.name);
  const where = `network "${name}"`;
  if (!net.metadata) throw invalid(`${where}: not a vnat network (no vnat metadata); there is nothing to release`);
  if (!net.bridge) throw invalid(`${where}: has no <bridge name="…"/>`);
  const m = modelFromMetadata(net.metadata);
  const lan = requireCidr(`${where}: lan address`, m.lan.address, 8, 30);
  const d = m.lan.dhcp;
  const enabled = (d?.enabled ?? "yes") === "yes";
  const derived = deriveRange(lan);
  const dhcp = enabled
    ? {
        start: d?.start !== undefined ? requireIp(`${where}: dhcp start`, d.start) : derived.start,
        end: d?.end !== undefined ? requireIp(`${where}: dhcp end`, d.end) : derived.end,
        lease: d?.lease ?? "1h",
      }
    : undefined;
  const hosts = parseHosts(where, lan, enabled, children(net.metadata, "host"));
  const inbound = [
    ...(m.forwards ?? []).map((f) => `forward ${f.proto} ${f.port} → ${f.to}${f.toPort ? `:${f.toPort}` : ""}`),
    ...(m.floating ?? []).map((f) => `floating ${f.address} → ${f.to}`),
  ];
  if (inbound.length && !o.force)
    throw invalid(
      `${where}: ${inbound.length} port forward(s)/floating IP(s) cannot be carried over to libvirt NAT (remove them with vnat forward|floating remove, or release with --force to drop them)`,
    );
  for (const other of others) {
    if (!other.active || other.name === name) continue;
    for (const s of ipv4Subnets(other.xml))
      if (overlaps(s, lan))
        throw conflict(
          `${where}: subnet ${formatSubnet(lan)} overlaps active libvirt network "${printable(other.name)}" (${formatSubnet(s)}): libvirt would refuse to start it`,
        );
  }
  const lines = [`  <forward mode='nat'/>`, `  <ip address='${formatIp(lan.address)}' prefix='${lan.prefix}'>`];
  if (dhcp) {
    lines.push("    <dhcp>");
    const lease = libvirtLease(dhcp.lease);
    lines.push(
      lease
        ? `      <range start='${formatIp(dhcp.start)}' end='${formatIp(dhcp.end)}'>\n        ${lease}\n      </range>`
        : `      <range start='${formatIp(dhcp.start)}' end='${formatIp(dhcp.end)}'/>`,
    );
    for (const h of hosts)
      lines.push(`      <host mac='${h.mac}'${h.name ? ` name='${h.name}'` : ""} ip='${formatIp(h.ip)}'/>`);
    lines.push("    </dhcp>");
  }
  lines.push("  </ip>");
  const withoutVnat = removeVnatMetadata(xml.replace(/^\s*<\?xml[^>]*\?>\s*/, ""));
  const out = withoutVnat.replace(/\s*<\/network>\s*$/, () => `\n${lines.join("\n")}\n</network>\n`);
  return {
    xml: out,
    nat: { name, bridge: net.bridge, lan, ...(dhcp ? { dhcp } : {}), hosts },
    dropped: o.force ? inbound : [],
  };
}

/** vnat's lease as libvirt's <lease> element; undefined for dnsmasq's default of one hour. */
export function libvirtLease(lease: string): string | undefined {
  if (lease === "infinite") return "<lease expiry='0'/>";
  const s = leaseSeconds(lease);
  if (s === 3600) return undefined;
  if (s % 3600 === 0) return `<lease expiry='${s / 3600}' unit='hours'/>`;
  if (s % 60 === 0) return `<lease expiry='${s / 60}' unit='minutes'/>`;
  return `<lease expiry='${s}' unit='seconds'/>`;
}

/** The vnat element removed from <metadata> (prefixed or in the default namespace); an emptied <metadata> goes too. */
export function removeVnatMetadata(xml: string): string {
  const ns = VNAT_XMLNS.replace(/[.:]/g, "\\$&");
  return xml
    .replace(/<metadata>([\s\S]*?)<\/metadata>/, (_all, inner: string) => {
      const rest = inner
        .replace(
          new RegExp(`\\s*<([A-Za-z_][\\w.-]*):network\\b[^>]*xmlns:\\1=["']${ns}["'][^>]*>[\\s\\S]*?</\\1:network>`),
          "",
        )
        .replace(new RegExp(`\\s*<([A-Za-z_][\\w.-]*):network\\b[^>]*xmlns:\\1=["']${ns}["'][^>]*/>`), "")
        .replace(new RegExp(`\\s*<network\\b[^>]*xmlns=["']${ns}["'][^>]*>[\\s\\S]*?</network>`), "")
        .replace(new RegExp(`\\s*<network\\b[^>]*xmlns=["']${ns}["'][^>]*/>`), "");
      return rest.trim() ? `<metadata>${rest}</metadata>` : "";
    })
    .replace(/\n[ \t]*\n/g, "\n");
}

/** The IPv4 subnets of a libvirt network's <ip> elements (unreadable ones skipped). */
export function ipv4Subnets(xml: string): Cidr[] {
  try {
    const net = child(parseXml("libvirt network", xml.replace(/^\s*<\?xml[^>]*\?>/, "")), "network");
    return children(net, "ip").flatMap((ip) => {
      if ((attr(ip, "family") ?? "ipv4") !== "ipv4") return [];
      const address = parseIp(attr(ip, "address") ?? "");
      if (address === undefined) return [];
      try {
        return [{ address, prefix: prefixOf("", ip) }];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}
