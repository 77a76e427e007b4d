// The strict grammar of everything vnat hands to a command: `ip -batch` lines, sysctl and
// arping arguments, dnsmasq's argv and hosts file, and the nft ruleset. A test renders a
// spec and lists every piece that does not fit: if attacker text ever got past
// validation into one of these, it would show up here as a line or argument of a shape
// vnat never writes.
import { LEGACY_ATTACH, fdbAddLine, fdbDelLine } from "../../src/core/input/attach.ts";
import { netPaths, type Roots } from "../../src/core/paths.ts";
import { leaseScriptPath } from "../../src/core/plan/lease-status.ts";
import { renderDhcpHosts } from "../../src/core/input/hosts.ts";
import { renderFloatingAnnounceArgs } from "../../src/core/plan/inbound-render.ts";
import {
  renderAnnounceArgs,
  renderDnsmasqArgs,
  attachFdb,
  renderHostBatch,
  renderNetnsBatch,
  renderNft,
  renderSysctls,
} from "../../src/core/plan/render.ts";
import type { NetSpec } from "../../src/core/input/spec.ts";

const IP = String.raw`(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const CIDR = String.raw`${IP}/(?:[1-9]|[12]\d|3[0-2])`;
const MAC = String.raw`(?:[0-9a-f]{2}:){5}[0-9a-f]{2}`;
const NETNS = String.raw`vnat-[A-Za-z0-9][A-Za-z0-9_.-]{0,31}`;
const HOSTIF = String.raw`vn[lu]-[0-9a-f]{11}`;
const IFNAME = String.raw`[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}`;
const LEASE = String.raw`(?:infinite|[1-9]\d{0,8}[smhdw]?)`;
const HOSTNAME = String.raw`[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`;

const re = (s: string): RegExp => new RegExp(`^${s}$`);

/** Host addresses a property test renders with (what the isolation set would hold). */
export const HOST_ADDRS: readonly number[] = [0xc0000202, 0xc0a87a01, 0x0a000005];

const HOST_BATCH = [
  `netns add ${NETNS}`,
  `link add ${HOSTIF} type veth peer name lan0 netns ${NETNS}`,
  `link add ${HOSTIF} type veth peer name wan0 address ${MAC} netns ${NETNS}`,
  `link set ${HOSTIF} alias vnat:[A-Za-z0-9][A-Za-z0-9_.-]{0,31}`,
  `link set ${HOSTIF} addrgenmode none`,
  `link set ${HOSTIF} master ${IFNAME} up`,
  `link add link ${IFNAME} name (?:lan0|wan0) address ${MAC} netns ${NETNS} type macvlan mode bridge`,
].map(re);

const FDB_BATCH = [`fdb replace ${MAC} dev ${IFNAME} self local`, `fdb del ${MAC} dev ${IFNAME} self`].map(re);

const NETNS_BATCH = [
  "link set lo up",
  `addr replace ${CIDR} dev (?:lan0|wan0)`,
  "link set (?:lan0|wan0) up",
  `route replace default via ${IP} dev wan0`,
].map(re);

const SYSCTL = re(String.raw`net\.ipv[46]\.(?:ip_forward|conf\.(?:all|default|lan0|wan0)\.[a-z_]+[a-z0-9_]*)=[0-9]`);

function dnsmasqGrammar(spec: NetSpec, roots: Roots): RegExp[] {
  const p = netPaths(roots, spec.name);
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const file = `(?:${[p.pidFile, p.dnsmasqLog, p.leases, p.dhcpHosts].map(esc).join("|")})`;
  return [
    "--conf-file=/dev/null",
    "--user=dnsmasq",
    `--pid-file=${file}`,
    "--interface=lan0",
    "--except-interface=lo",
    `--listen-address=${IP}`,
    "--(?:bind-interfaces|no-resolv|no-hosts|no-poll|domain-needed|bogus-priv|dhcp-authoritative|no-ping|quiet-dhcp|script-on-renewal)",
    `--log-facility=${file}`,
    `--server=${IP}`,
    `--dhcp-range=${IP},${IP},${IP},${LEASE}`,
    `--dhcp-option=option:(?:router|dns-server),${IP}`,
    `--dhcp-(?:leasefile|hostsfile)=${file}`,
    // the one script dnsmasq's root helper may run: vnat's own, in the network's state directory
    `--dhcp-script=${esc(leaseScriptPath(p))}`,
  ].map(re);
}

const ARPING = re(`arping -U -q -c 2(?: -w 1)? -I wan0 ${IP}`);
const DHCP_HOST = re(`${MAC},${IP}(?:,${HOSTNAME})?`);

/**
 * The shape of an nft line with its values taken out: addresses, prefixes and numbers
 * become placeholders (tcp/udp too), a port map collapses to one element. What is left must be text
 * that vnat's renderer itself writes (taken from a reference ruleset).
 */
export function nftSkeleton(line: string): string {
  return (
    line
      .trim()
      // a forward's or floating IP's counter (inbound-render.ts inboundCounterName): its numbers only
      .replace(/\b(?:fwd_(?:tcp|udp)_\d+(?:_\d+)?|fip_\d+_\d+_\d+_\d+)\b/g, "<counter>")
      .replace(new RegExp(CIDR, "g"), "<cidr>")
      .replace(new RegExp(IP, "g"), "<ip>")
      .replace(/\b\d+\b/g, "<n>")
      .replace(/\b(?:tcp|udp)\b/g, "<proto>")
      .replace(/<n> : <n>(?:, <n> : <n>)*/g, "<n> : <n>…")
      .replace(/<ip>(?:, <ip>)+/g, "<ip>…")
  );
}

export function nftSkeletons(ruleset: string): Set<string> {
  return new Set(ruleset.split("\n").map(nftSkeleton));
}

/** Every rendered piece of SPEC that the grammar does not allow (empty = all clean). */
export function renderViolations(spec: NetSpec, roots: Roots, nftReference: Set<string>): string[] {
  const bad: string[] = [];
  const check = (what: string, piece: string, grammar: RegExp[]): void => {
    if (!grammar.some((g) => g.test(piece))) bad.push(`${what}: ${JSON.stringify(piece)}`);
  };
  for (const attach of [LEGACY_ATTACH, { lan: "macvlan", uplink: "macvlan" } as const])
    for (const l of renderHostBatch(spec, attach)) check("ip -batch (host)", l.line, HOST_BATCH);
  for (const e of attachFdb(spec, { lan: "macvlan", uplink: "macvlan" }))
    for (const l of [fdbAddLine(e), fdbDelLine(e)]) check("bridge -batch", l, FDB_BATCH);
  for (const l of renderNetnsBatch(spec)) check("ip -batch (namespace)", l, NETNS_BATCH);
  for (const s of renderSysctls()) check("sysctl", s, [SYSCTL]);
  for (const a of renderDnsmasqArgs(spec, netPaths(roots, spec.name))) check("dnsmasq", a, dnsmasqGrammar(spec, roots));
  check("arping", renderAnnounceArgs(spec).join(" "), [ARPING]);
  for (const f of spec.floating ?? []) check("arping", renderFloatingAnnounceArgs(f.address).join(" "), [ARPING]);
  for (const l of renderDhcpHosts(spec.hosts ?? [])
    .split("\n")
    .filter(Boolean))
    check("dhcp-hosts", l, [DHCP_HOST]);
  for (const l of renderNft(spec, HOST_ADDRS).split("\n"))
    if (!nftReference.has(nftSkeleton(l))) bad.push(`nft: ${JSON.stringify(l)}`);
  // the names every command's argv carries (`ip netns exec NETNS …`, `ip link del HOSTIF`)
  check("netns", spec.names.netns, [re(NETNS)]);
  for (const n of [spec.names.lanHost, spec.names.uplinkHost]) check("host link", n, [re(HOSTIF)]);
  for (const b of [spec.lanBridge, spec.uplink.bridge]) check("bridge", b, [re(IFNAME)]);
  return bad;
}
