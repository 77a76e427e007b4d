// Judges one observed network: its health and every reason, each with a stable code (for
// scripts) and a message that starts with the words an administrator would search for. Pure.
import { insideReasons6 } from "./health6.ts";
import { formatCidr, formatIp } from "../ipv4.ts";
import type { AttachKind, FdbEntry } from "../input/attach.ts";
import { LAN_IF, UPLINK_IF, lanMac } from "../names.ts";
import type { NetObservation, VethState } from "../observe/observed.ts";
import type { NetSpec } from "../input/spec.ts";
import { normalizeRuleset } from "./ruleset.ts";
import { SEGMENT_REASONS, segmentReasons } from "./segments.ts";

export const HEALTHS = ["healthy", "degraded", "down", "orphan", "stopped", "invalid"] as const;
export type Health = (typeof HEALTHS)[number];

export const REASON_CODES = [
  "namespace-missing",
  "namespace-orphan",
  "leftovers",
  "spec-invalid",
  "probe-failed",
  "link-missing",
  "veth-missing",
  "bridge-missing",
  "veth-detached",
  "fdb-missing",
  "link-down",
  "address-wrong",
  "route-wrong",
  "ruleset-changed",
  "dnsmasq-down",
  "dnsmasq-changed",
  "uplink-duplicate",
  "macvlan-netfilter",
  ...SEGMENT_REASONS,
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface Reason {
  code: ReasonCode;
  message: string;
}

export interface Verdict {
  health: Health;
  reasons: Reason[];
}

/** vnat should run this network: libvirt has it active and it carries vnat metadata. */
export const wanted = (o: NetObservation): boolean => o.libvirt?.active === true && o.libvirt.vnat;

export function evaluate(o: NetObservation): Verdict {
  if (!wanted(o)) return unwanted(o);
  if (!o.spec)
    return {
      health: "invalid",
      reasons: [{ code: "spec-invalid", message: `invalid network: ${o.specError ?? "?"}` }],
    };
  if (!o.netns.present)
    return {
      health: "down",
      reasons: [
        {
          code: "namespace-missing",
          message: `network active but namespace missing${missingWhy(o)}`,
        },
      ],
    };
  const reasons = [...linkReasons(o), ...insideReasons(o), ...serviceReasons(o), ...segmentReasons(o)];
  return { health: reasons.length ? "degraded" : "healthy", reasons };
}

/** Why a namespace is missing, as far as the network's lock and last event tell. */
function missingWhy(o: NetObservation): string {
  if (o.events?.busy) return ": vnat is processing an event of it right now";
  if (o.state?.phase === "starting") return ": the process building it died (vnat reconcile builds it again)";
  if (o.events?.last === "started-begin" && o.events.outcome === "failed") return ": its last start failed";
  return "";
}

function unwanted(o: NetObservation): Verdict {
  if (o.netns.present)
    return {
      health: "orphan",
      reasons: [{ code: "namespace-orphan", message: `namespace left without an active network (${o.netns.name})` }],
    };
  const left = [
    ...[o.lanHost, o.uplinkHost].filter((v) => v.present).map((v) => `interface ${v.name}`),
    ...leftFdb(o).map((e) => `fdb entry ${e.mac} on ${e.bridge}`),
    ...(o.dnsmasq.pid !== null ? [`dnsmasq pid ${o.dnsmasq.pid}`] : []),
    ...(o.state ? ["state directory"] : []),
  ];
  if (left.length)
    return {
      health: "orphan",
      reasons: [{ code: "leftovers", message: `left without an active network: ${left.join(", ")}` }],
    };
  return { health: "stopped", reasons: [] };
}

/** One side of the namespace: how it is attached and what the host shows of it. */
export interface Side {
  kind: AttachKind;
  ifname: string;
  veth: VethState;
  bridge: string;
  exists: boolean | null;
  fdb: boolean | null;
  mac: string;
  /** the bridge passes its frames to the host's iptables; undefined when not known */
  callsIptables?: boolean;
}

export function sides(o: NetObservation, spec: NetSpec): Side[] {
  return [
    {
      kind: o.attach.lan,
      ifname: LAN_IF,
      veth: o.lanHost,
      bridge: spec.lanBridge,
      exists: o.bridges.lan,
      fdb: o.fdb.lan,
      mac: lanMac(o.name),
      ...(o.callsIptables ? { callsIptables: o.callsIptables.lan } : {}),
    },
    {
      kind: o.attach.uplink,
      ifname: UPLINK_IF,
      veth: o.uplinkHost,
      bridge: spec.uplink.bridge,
      exists: o.bridges.uplink,
      fdb: o.fdb.uplink,
      mac: spec.uplink.mac,
      ...(o.callsIptables ? { callsIptables: o.callsIptables.uplink } : {}),
    },
  ];
}

/** vnat's fdb entries still on a bridge of a network vnat does not run. */
export function leftFdb(o: NetObservation): FdbEntry[] {
  if (!o.spec) return [];
  return sides(o, o.spec)
    .filter((s) => s.fdb === true)
    .map((s) => ({ bridge: s.bridge, mac: s.mac }));
}

function linkReasons(o: NetObservation): Reason[] {
  const out: Reason[] = [];
  for (const { kind, ifname, veth, bridge, exists, fdb, mac, callsIptables } of sides(o, o.spec!)) {
    const what = kind === "veth" ? `veth ${veth.name}` : `macvlan ${ifname}`;
    if (exists === false)
      out.push({ code: "bridge-missing", message: `bridge ${bridge} missing (${what} belongs on it)` });
    if (kind === "macvlan") {
      if (exists !== false && fdb === false)
        out.push({
          code: "fdb-missing",
          message: `fdb entry missing: ${mac} on ${bridge} (the bridge floods ${ifname}'s frames to every port)`,
        });
      if (exists !== false && callsIptables === true) out.push(macvlanNetfilter(o, ifname, bridge));
    } else if (!veth.present)
      out.push({ code: "veth-missing", message: `veth ${veth.name} missing (it connects the namespace to ${bridge})` });
    else if (veth.master !== bridge && exists !== false)
      out.push({
        code: "veth-detached",
        message: `veth detached from its bridge: ${veth.name} is on ${veth.master ?? "no bridge"}, not ${bridge}`,
      });
    else if (!veth.up) out.push({ code: "link-down", message: `link down: ${veth.name} (host side)` });
  }
  return out;
}

/**
 * A macvlan side on a bridge whose frames br_netfilter passes to the host's iptables: once
 * anything on the host turns its conntrack on, the namespace receives frames carrying the
 * host's conntrack entries (core/input/attach.ts). A start now attaches that side with a veth pair
 * unless the provider forces macvlan.
 */
function macvlanNetfilter(o: NetObservation, ifname: string, bridge: string): Reason {
  const forced = ifname === UPLINK_IF && o.spec?.uplink.attach === "macvlan";
  const restart = forced
    ? `set provider ${bridge}'s attach to auto or veth and restart the network`
    : "restart the network (it attaches with a veth pair then)";
  return {
    code: "macvlan-netfilter",
    message: `macvlan ${ifname} on ${bridge}, whose frames pass through the host's iptables (br_netfilter): while the host's conntrack is on (a libvirt NAT network, Docker, a stateful firewall) the namespace's replies look new and guests' flows leave un-NATed; ${restart}, or sysctl -w net.bridge.bridge-nf-call-iptables=0`,
  };
}

function insideReasons(o: NetObservation): Reason[] {
  const spec = o.spec!;
  if (!o.inside)
    return [{ code: "probe-failed", message: `namespace ${o.netns.name} could not be probed: ${o.probeError ?? "?"}` }];
  const out: Reason[] = [];
  const want: Array<[string, string, string | null]> = [
    [LAN_IF, formatCidr(spec.lan), null],
    [UPLINK_IF, formatCidr(spec.uplink.address), spec.uplink.mac],
  ];
  for (const [ifname, address, mac] of want) {
    const link = o.inside.links.find((l) => l.name === ifname);
    if (!link) {
      out.push({ code: "link-missing", message: `link ${ifname} missing in namespace ${o.netns.name}` });
      continue;
    }
    if (!link.up) out.push({ code: "link-down", message: `link down: ${ifname} in namespace ${o.netns.name}` });
    const wrong = !link.addresses.includes(address) || (ifname === LAN_IF && link.addresses.length > 1);
    if (wrong)
      out.push({
        code: "address-wrong",
        message: `wrong address: ${ifname} has ${link.addresses.join(", ") || "none"}, expected ${address}`,
      });
    if (mac !== null && link.mac !== mac)
      out.push({
        code: "address-wrong",
        message: `wrong address: ${ifname} has MAC ${link.mac ?? "none"}, expected ${mac}`,
      });
  }
  out.push(...insideReasons6(o, spec)); // IPv6 (issue 17)
  const gw = formatIp(spec.uplink.gateway);
  const r = o.inside.defaultRoute;
  if (r?.gateway !== gw || r.dev !== UPLINK_IF)
    out.push({
      code: "route-wrong",
      message: `wrong default route: ${r ? `via ${r.gateway ?? "-"} dev ${r.dev ?? "-"}` : "none"}, expected via ${gw} dev ${UPLINK_IF}`,
    });
  if (o.expectedRuleset !== undefined) {
    const live = normalizeRuleset(o.inside.ruleset);
    if (live !== o.expectedRuleset)
      out.push({
        code: "ruleset-changed",
        message: `ruleset missing or changed (${live === "" ? "no ruleset" : "differs from the rendered one"})`,
      });
  }
  return out;
}

function serviceReasons(o: NetObservation): Reason[] {
  const out: Reason[] = [];
  const d = o.dnsmasq;
  if (d.pid === null) out.push({ code: "dnsmasq-down", message: "dnsmasq not running" });
  else if (!d.inNamespace)
    out.push({ code: "dnsmasq-down", message: `dnsmasq not running in the namespace (pid ${d.pid} runs elsewhere)` });
  else if (!d.argsMatch)
    out.push({ code: "dnsmasq-changed", message: `dnsmasq runs with outdated options (pid ${d.pid})` });
  if (o.duplicate?.answeredBy)
    out.push({
      code: "uplink-duplicate",
      message: `uplink address answered by another host on the provider network (MAC ${o.duplicate.answeredBy})`,
    });
  return out;
}
