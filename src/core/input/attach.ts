// How vnat's namespace is attached to a bridge. "macvlan": a macvlan child of the bridge
// device inside the namespace plus a static local fdb entry for its MAC on the bridge (so the
// bridge hands the child's frames up instead of flooding them to every port); one hop less
// than a veth pair and no pass through the host's bridge netfilter FORWARD step, so the
// forwarding cost per packet drops (docs/DESIGN.md has the measurement). "veth": a veth pair
// whose host end is a bridge port.
//
// "auto" picks a macvlan unless the bridge passes its frames to the host's iptables
// (br_netfilter: net.bridge.bridge-nf-call-iptables=1, or the bridge's own nf_call_iptables):
// then the host's conntrack, once anything on the host uses it (a libvirt NAT network,
// Docker, a stateful firewall), tracks every IP frame entering the bridge, and the bridge
// hands a frame for a macvlan's MAC up with the HOST's conntrack entry attached; macvlan
// moves it into vnat's namespace without scrubbing it (a veth does), and the namespace's
// conntrack then takes the host's entry for its own: replies to its flows look new and are
// dropped, guests' flows are not NATed (docs/DESIGN.md, "Host conntrack and macvlans").
// That holds for both sides. The uplink is also a veth when the provider bridge carries a
// host IPv4 address: a macvlan child is unreachable from its lower device's own stack, and
// a host that has an address on the provider bridge expects to reach its uplinks. A
// provider's "attach" forces the uplink's kind either way (the LAN side has no such option).
// Pure.
import { invalid } from "../errors.ts";

export type AttachKind = "veth" | "macvlan";
export type AttachChoice = "auto" | AttachKind;
export const ATTACH_CHOICES: readonly AttachChoice[] = ["auto", "veth", "macvlan"];

export interface Attachments {
  lan: AttachKind;
  uplink: AttachKind;
}

/** Veths on both sides: what networks started before vnat attached with macvlans use. */
export const LEGACY_ATTACH: Attachments = { lan: "veth", uplink: "veth" };

/**
 * How a network is attached when its state file does not say (a network started by an older
 * vnat, or none running): a side whose host veth exists is a veth; otherwise what a start
 * would make, as far as is known without asking the host (a provider's forced choice).
 */
export function inferAttachments(
  lanVeth: boolean,
  uplinkVeth: boolean,
  forcedUplink: AttachKind | undefined,
): Attachments {
  return { lan: lanVeth ? "veth" : "macvlan", uplink: uplinkVeth ? "veth" : (forcedUplink ?? "macvlan") };
}

export function parseAttachChoice(where: string, value: unknown): AttachChoice {
  if (value === undefined) return "auto";
  if (typeof value === "string" && (ATTACH_CHOICES as readonly string[]).includes(value)) return value as AttachChoice;
  throw invalid(`${where}: "attach" must be "auto", "veth" or "macvlan", got ${JSON.stringify(value)}`);
}

/** What "auto" needs to know about the two bridges (read at the start, exec/probe/attach-facts.ts). */
export interface AttachFacts {
  /** the provider bridge carries a host IPv4 address */
  uplinkHasAddress: boolean;
  /** the guests' bridge passes its frames to the host's iptables (br_netfilter) */
  lanCallsIptables: boolean;
  /** the provider bridge passes its frames to the host's iptables (br_netfilter) */
  uplinkCallsIptables: boolean;
}

/** Facts under which "auto" makes macvlans on both sides. */
export const MACVLAN_FRIENDLY: AttachFacts = {
  uplinkHasAddress: false,
  lanCallsIptables: false,
  uplinkCallsIptables: false,
};

export function resolveAttachments(uplink: AttachChoice | undefined, facts: AttachFacts): Attachments {
  const choice = uplink ?? "auto";
  const auto: AttachKind = facts.uplinkHasAddress || facts.uplinkCallsIptables ? "veth" : "macvlan";
  return { lan: facts.lanCallsIptables ? "veth" : "macvlan", uplink: choice === "auto" ? auto : choice };
}

/**
 * A bridge passes IPv4 frames to the host's iptables when br_netfilter's global switch
 * (net.bridge.bridge-nf-call-iptables; null: br_netfilter not loaded) or the bridge's own
 * nf_call_iptables (null: unknown, e.g. no such bridge) is on.
 */
export const callsIptables = (global: boolean | null, bridge: boolean | null): boolean =>
  global === true || bridge === true;

/** A static local entry in a bridge's forwarding database. */
export interface FdbEntry {
  bridge: string;
  mac: string;
}

export const fdbKey = (e: FdbEntry): string => `${e.bridge} ${e.mac.toLowerCase()}`;

interface FdbJson {
  mac?: string;
  ifname?: string;
  master?: string;
  flags?: string[];
  state?: string;
}

/**
 * The bridge-local permanent entries in `bridge -j fdb show` output (entries on the bridge
 * device itself: ifname and master are both the bridge), as fdbKey strings. Ports' entries
 * and the device's own address lists ("self") are left out.
 */
export function parseFdbLocals(json: string): Set<string> {
  const rows = JSON.parse(json || "[]") as FdbJson[];
  const out = new Set<string>();
  for (const r of rows)
    if (r.mac && r.ifname && r.master === r.ifname && r.state === "permanent" && !(r.flags ?? []).includes("self"))
      out.add(fdbKey({ bridge: r.ifname, mac: r.mac }));
  return out;
}

/** `bridge -batch` lines that add (replace: idempotent) or delete entries. */
export const fdbAddLine = (e: FdbEntry): string => `fdb replace ${e.mac} dev ${e.bridge} self local`;
export const fdbDelLine = (e: FdbEntry): string => `fdb del ${e.mac} dev ${e.bridge} self`;
