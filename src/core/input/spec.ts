// Turns a libvirt network (as the hook sees it) plus vnat's config into a validated
// NetSpec: every field checked, defaults filled in, nothing left to interpret later.
import { invalid } from "../errors.ts";
import { findProvider, type Config } from "./config.ts";
import type { HookNetwork } from "./hookdata.ts";
import { validateIfname } from "./ifname.ts";
import {
  ALLOWED_INBOUND,
  buildInbound,
  INBOUND_ELEMENTS,
  type FloatingSpec,
  type ForwardSpec,
  type TakenAddress,
} from "./inbound.ts";
import type { HostSpec } from "./hosts.ts";
import { ALLOWED_ISOLATION, parseIsolation, type IsolationSpec } from "./isolation.ts";
import {
  broadcastOf,
  contains,
  formatCidr,
  formatIp,
  formatSubnet,
  isHostAddress,
  networkOf,
  overlaps,
  requireCidr,
  requireIp,
  type Cidr,
} from "../ipv4.ts";
import { kernelNames, printable, uplinkMac, validateNetworkName, type KernelNames } from "../names.ts";
import type { AttachKind } from "./attach.ts";
import { ALLOWED_SEGMENT, parseSegments, segmentModelOf, type SegmentSpec } from "./segments.ts";
import { attr, children, type XmlNode } from "./xml.ts";
import { buildSpec6, ELEMENTS6, type Spec6 } from "./spec6.ts";

export interface DhcpSpec {
  start: number;
  end: number;
  lease: string;
}

export interface NetSpec {
  name: string;
  names: KernelNames;
  /** the libvirt bridge (virbrN) the guests are on */
  lanBridge: string;
  /** the guests' gateway address and the guest subnet */
  lan: Cidr;
  dhcp?: DhcpSpec;
  /** attach: set when the provider's config forces one (core/input/attach.ts); absent: by the bridge */
  uplink: { bridge: string; address: Cidr; gateway: number; mac: string; attach?: AttachKind };
  dns: number[];
  /** inbound (issue 5): absent when the metadata lists none */
  forwards?: ForwardSpec[];
  floating?: FloatingSpec[];
  hosts?: HostSpec[];
  /** what guests may reach through the namespace (isolation.ts); absent: the defaults, all blocked */
  isolation?: IsolationSpec;
  /** other bridges and taps patched into the network's bridge (segments.ts); absent: none */
  segments?: SegmentSpec[];
  /** the IPv6 side (issue 17, core/input/spec6.ts): absent when the metadata has no <vnat:lan6> */
  v6?: Spec6;
}

const MAX_DNS = 8;
/**
 * Caps on what one network's metadata may ask for (issue 13.5; docs/metadata.md "Limits").
 * Forwards and floating IPs are map elements (core/plan/inbound-render.ts), so a packet costs
 * the same at the cap as with one; the caps bound the ruleset's size and the time to load
 * it. A range mapped to other ports is one element per port, so those ports have a total.
 */
export const MAX_FORWARDS = 5000;
export const MAX_REMAPPED_PORTS = 4096;
/** each one is an address on wan0, a claim file and a gratuitous ARP at every start */
export const MAX_FLOATING = 256;
// no leading zeros; at most a year (dnsmasq multiplies the number in a C int)
const LEASE_RE = /^(infinite|[1-9]\d{0,8}[smhdw]?)$/;
const MAX_LEASE_SECONDS = 366 * 86400;
const LEASE_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

const ALLOWED: Record<string, string[]> = {
  network: ["lan", "uplink", "dns", ...INBOUND_ELEMENTS, "isolation", "segment", ...ELEMENTS6],
  segment: ALLOWED_SEGMENT,
  isolation: ALLOWED_ISOLATION,
  lan: ["@address", "dhcp"],
  dhcp: ["@start", "@end", "@lease", "@enabled"],
  uplink: ["@bridge", "@address", "@gateway"],
  dns: ["@upstream"],
  ...ALLOWED_INBOUND,
};

/** Refuses unknown elements and attributes, so a typo never silently falls back to a default. */
function checkKeys(what: string, node: XmlNode, allowed: string[]): void {
  for (const key of Object.keys(node)) {
    if (key.startsWith("@xmlns")) continue;
    if (key === "#text")
      throw invalid(
        `${what}: unexpected text "${printable(String(node[key]), 32)}" (vnat elements carry attributes only)`,
      );
    if (!allowed.includes(key)) {
      const kind = key.startsWith("@") ? "attribute" : "element";
      const other = key.startsWith("@") ? key.slice(1) : `@${key}`;
      if (allowed.includes(other))
        throw invalid(
          `${what}: "${other.replace(/^@/, "")}" must be ${kind === "element" ? "an attribute, not a child element" : "a child element, not an attribute"}`,
        );
      const list = allowed.map((a) => a.replace(/^@/, "")).join(", ");
      throw invalid(`${what}: unknown ${kind} "${printable(key.replace(/^@/, ""), 32)}" (allowed: ${list})`);
    }
  }
}

function one(what: string, parent: XmlNode, key: string): XmlNode | undefined {
  const list = children(parent, key);
  if (list.length > 1) throw invalid(`${what}: <vnat:${key}> given ${list.length} times (at most once)`);
  return list[0];
}

/** `taken`: addresses other vnat networks hold (the CLI passes them; the hook relies on claims). */
export function buildSpec(net: HookNetwork, config: Config, taken?: TakenAddress[]): NetSpec {
  const name = validateNetworkName(net.name);
  const where = `network "${name}"`;
  const md = net.metadata;
  if (!md) throw invalid(`${where}: no <vnat:network xmlns:vnat="urn:vnat:network:1"> in <metadata>`);
  if (net.hasIp)
    throw invalid(
      `${where}: has an <ip> element; a vnat network must have none (the gateway lives in vnat's namespace)`,
    );
  if (net.forwardMode !== undefined)
    throw invalid(
      `${where}: has <forward mode="${printable(net.forwardMode)}">; a vnat network must have no <forward>`,
    );
  if (!net.bridge) throw invalid(`${where}: has no <bridge name="…"/>`);
  const lanBridge = validateIfname(`${where}: bridge`, net.bridge);
  checkKeys(`${where}: <vnat:network>`, md, ALLOWED.network!);

  const lanEl = one(where, md, "lan");
  if (!lanEl) throw invalid(`${where}: missing <vnat:lan address="A.B.C.D/N"> (the guests' gateway)`);
  checkKeys(`${where}: <vnat:lan>`, lanEl, ALLOWED.lan!);
  const lanAddr = attr(lanEl, "address");
  if (lanAddr === undefined) throw invalid(`${where}: <vnat:lan> needs address="A.B.C.D/N" (the guests' gateway)`);
  const lan = requireCidr(`${where}: lan address`, lanAddr, 8, 30);
  const dhcp = buildDhcp(where, lan, one(where, lanEl, "dhcp"));

  const upEl = one(where, md, "uplink");
  if (!upEl) throw invalid(`${where}: missing <vnat:uplink address="A.B.C.D/N">`);
  checkKeys(`${where}: <vnat:uplink>`, upEl, ALLOWED.uplink!);
  const bridgeAttr = attr(upEl, "bridge");
  const provider = findProvider(config, bridgeAttr);
  const upBridgeText = bridgeAttr ?? provider?.bridge;
  if (upBridgeText === undefined)
    throw invalid(`${where}: <vnat:uplink> has no bridge="…" and the config names no default provider`);
  const upBridge = validateIfname(`${where}: uplink bridge`, upBridgeText);
  if (upBridge === lanBridge)
    throw invalid(
      `${where}: uplink bridge "${upBridge}" is the network's own bridge (guests would sit on the provider network)`,
    );
  const upText = attr(upEl, "address");
  if (upText === undefined) throw invalid(`${where}: <vnat:uplink> needs address="A.B.C.D/N"`);
  const upAddr = requireCidr(`${where}: uplink address`, upText, 8, 30);
  const gwText = attr(upEl, "gateway");
  const gateway = gwText !== undefined ? requireIp(`${where}: uplink gateway`, gwText) : provider?.gateway.address;
  if (gateway === undefined)
    throw invalid(`${where}: <vnat:uplink> has no gateway="A.B.C.D" and provider "${upBridge}" is not in the config`);
  if (provider) {
    if (upAddr.prefix !== provider.gateway.prefix || !contains(provider.gateway, upAddr.address))
      throw invalid(
        `${where}: uplink address ${formatCidr(upAddr)} is outside provider "${upBridge}" subnet ${formatSubnet(provider.gateway)}`,
      );
  }
  if (!contains(upAddr, gateway) || !isHostAddress(upAddr, gateway))
    throw invalid(
      `${where}: uplink gateway ${formatIp(gateway)} is outside the uplink subnet ${formatSubnet(upAddr)} (expected a host address in it)`,
    );
  if (gateway === upAddr.address)
    throw invalid(`${where}: uplink gateway ${formatIp(gateway)} is the uplink address itself`);
  if (overlaps(lan, upAddr))
    throw invalid(
      `${where}: lan subnet ${formatSubnet(lan)} overlaps the uplink subnet ${formatSubnet(upAddr)} (they must be disjoint)`,
    );

  const dnsEls = children(md, "dns");
  for (const d of dnsEls) checkKeys(`${where}: <vnat:dns>`, d, ALLOWED.dns!);
  let dns = dnsEls.map((d) => {
    const up = attr(d, "upstream");
    if (up === undefined) throw invalid(`${where}: <vnat:dns> needs upstream="A.B.C.D"`);
    return requireIp(`${where}: dns upstream`, up);
  });
  if (dns.length === 0 && provider) dns = provider.dns;
  if (dns.length > MAX_DNS) throw invalid(`${where}: ${dns.length} dns upstreams (at most ${MAX_DNS})`);
  for (const k of INBOUND_ELEMENTS)
    for (const el of children(md, k)) checkKeys(`${where}: <vnat:${k}>`, el, ALLOWED[k]!);
  // counted before anything is parsed: a document over a cap is refused in one step
  const nForwards = children(md, "forward").length;
  if (nForwards > MAX_FORWARDS) throw invalid(`${where}: ${nForwards} forwards (at most ${MAX_FORWARDS})`);
  const nFloating = children(md, "floating").length;
  if (nFloating > MAX_FLOATING) throw invalid(`${where}: ${nFloating} floating IPs (at most ${MAX_FLOATING})`);
  const attach = provider?.attach;
  const uplink = {
    bridge: upBridge,
    address: upAddr,
    gateway,
    mac: uplinkMac(upAddr.address),
    ...(attach && attach !== "auto" ? { attach } : {}),
  };
  const inbound = buildInbound({ where, lan, uplink, dhcp: dhcp !== undefined, taken }, md);
  const remapped = inbound.forwards.reduce(
    (n, f) => n + (f.port !== f.portEnd && f.toPort !== f.port ? f.portEnd - f.port + 1 : 0),
    0,
  );
  if (remapped > MAX_REMAPPED_PORTS)
    throw invalid(
      `${where}: port ranges mapped to other ports span ${remapped} ports in all (at most ${MAX_REMAPPED_PORTS})`,
    );
  const isoEl = one(where, md, "isolation");
  if (isoEl) checkKeys(`${where}: <vnat:isolation>`, isoEl, ALLOWED.isolation!);
  const v6 = buildSpec6(where, md, provider, upBridge, checkKeys);
  const segEls = children(md, "segment");
  for (const el of segEls) checkKeys(`${where}: <vnat:segment>`, el, ALLOWED.segment!);
  const providerBridges = config.providers.map((p) => p.bridge);
  const segments = parseSegments(where, segEls.map(segmentModelOf), lanBridge, upBridge, providerBridges);

  return {
    name,
    names: kernelNames(name),
    lanBridge,
    lan,
    dhcp,
    uplink,
    dns,
    ...(inbound.forwards.length ? { forwards: inbound.forwards } : {}),
    ...(inbound.floating.length ? { floating: inbound.floating } : {}),
    ...(inbound.hosts.length ? { hosts: inbound.hosts } : {}),
    ...(isoEl ? { isolation: parseIsolation(where, isoEl) } : {}),
    ...(segments.length ? { segments } : {}),
    ...(v6 ? { v6 } : {}),
  };
}

function buildDhcp(where: string, lan: Cidr, el: XmlNode | undefined): DhcpSpec | undefined {
  if (el) checkKeys(`${where}: <vnat:dhcp>`, el, ALLOWED.dhcp!);
  const enabled = attr(el, "enabled") ?? "yes";
  if (enabled !== "yes" && enabled !== "no")
    throw invalid(`${where}: dhcp enabled="${printable(enabled)}" (expected "yes" or "no")`);
  if (enabled === "no") return undefined;
  const lease = attr(el, "lease") ?? "1h";
  if (!LEASE_RE.test(lease) || leaseSeconds(lease) < 120)
    throw invalid(
      `${where}: dhcp lease "${printable(lease)}": expected a duration of at least 2m like 3600, 45m, 12h, 1d or "infinite"`,
    );
  if (lease !== "infinite" && leaseSeconds(lease) > MAX_LEASE_SECONDS)
    throw invalid(`${where}: dhcp lease "${lease}": at most 366d (or "infinite")`);
  const derived = deriveRange(lan);
  const startText = attr(el, "start");
  const endText = attr(el, "end");
  if ((startText === undefined) !== (endText === undefined))
    throw invalid(
      `${where}: dhcp needs both start and end, or neither (then ${formatIp(derived.start)}-${formatIp(derived.end)} is used)`,
    );
  const start = startText !== undefined ? requireIp(`${where}: dhcp start`, startText) : derived.start;
  const end = endText !== undefined ? requireIp(`${where}: dhcp end`, endText) : derived.end;
  for (const [label, ip] of [
    ["start", start],
    ["end", end],
  ] as const)
    if (!isHostAddress(lan, ip))
      throw invalid(
        `${where}: dhcp ${label} ${formatIp(ip)} is outside the lan subnet ${formatSubnet(lan)} (or not a host address)`,
      );
  if (start > end) throw invalid(`${where}: dhcp start ${formatIp(start)} is after end ${formatIp(end)}`);
  if (lan.address >= start && lan.address <= end)
    throw invalid(
      `${where}: dhcp range ${formatIp(start)}-${formatIp(end)} includes the gateway ${formatIp(lan.address)}`,
    );
  return { start, end, lease };
}

export function leaseSeconds(lease: string): number {
  if (lease === "infinite") return Number.POSITIVE_INFINITY;
  const unit = /[smhdw]$/.test(lease) ? lease.slice(-1) : "s";
  return Number.parseInt(lease, 10) * LEASE_UNITS[unit]!;
}

/** The default DHCP range: the upper half of the subnet, skipping the gateway and broadcast. */
export function deriveRange(lan: Cidr): { start: number; end: number } {
  const net = networkOf(lan);
  const bcast = broadcastOf(lan);
  const size = bcast - net + 1;
  let start = net + Math.max(2, Math.floor(size / 2));
  let end = bcast - 1;
  if (lan.address >= start && lan.address <= end) {
    // gateway sits in the upper half: use the lower half instead
    start = net + 1;
    end = lan.address - 1;
    if (end < start) {
      start = lan.address + 1;
      end = bcast - 1;
    }
  }
  return { start, end };
}
