// Everything `vnat status` and `vnat reconcile` observe about one vnat network (or one
// leftover of a network that is no longer active), as plain data: the probe fills it in,
// health.ts judges it, drift.ts plans repairs from it. Pure types.
import type { Attachments } from "../input/attach.ts";
import type { HookPort } from "../input/hookdata.ts";
import type { Lease } from "./leases.ts";
import type { NetnsView } from "./netns-view.ts";
import type { CounterValue } from "../judge/ruleset.ts";
import type { NetSpec } from "../input/spec.ts";
import type { SegmentState } from "./segments.ts";

export interface LibvirtState {
  active: boolean;
  autostart: boolean;
  persistent: boolean;
  /** the network's XML has vnat metadata */
  vnat: boolean;
}

/** A host-side veth end (vnl-…/vnu-…) as /sys shows it. */
export interface VethState {
  name: string;
  present: boolean;
  up: boolean;
  operstate: string | null;
  master: string | null;
}

export interface DnsmasqState {
  /** pid of vnat's dnsmasq for this network (pid file + command line checked); null: none */
  pid: number | null;
  /** it runs in the network's namespace (not in a deleted one) */
  inNamespace: boolean;
  /** its arguments are the ones vnat renders now */
  argsMatch: boolean;
}

export interface NetObservation {
  name: string;
  /** undefined: libvirt has no network of this name */
  libvirt?: LibvirtState;
  /** the desired state, when the network's metadata and the config build one */
  spec?: NetSpec;
  specError?: string;
  /** vnat's state file (phase "starting" from the first step of a build until its last) */
  state?: { phase: string; startedAt: string };
  netns: { name: string; present: boolean };
  /**
   * the network's lock and event sequence (exec/netlock.ts): busy while a live process
   * processes an event of it; the last event that finished, and how
   */
  events?: { busy: boolean; seq: number; last: string; outcome: string };
  /** what the namespace holds; undefined when it is missing */
  inside?: NetnsView;
  probeError?: string;
  lanHost: VethState;
  uplinkHost: VethState;
  /** how the namespace was attached (its state file; veths when it recorded none) */
  attach: Attachments;
  /**
   * whether the bridge holds vnat's fdb entry for each side's macvlan MAC (whichever way the
   * side is attached: an entry without its macvlan is a leftover); null when not known
   */
  fdb: { lan: boolean | null; uplink: boolean | null };
  /** bridges the veths belong on, and whether they exist */
  bridges: { lan: boolean | null; uplink: boolean | null };
  /**
   * whether each side's bridge passes its frames to the host's iptables (br_netfilter's
   * global switch or the bridge's own): a macvlan side there gets the host's conntrack
   * entries (core/input/attach.ts); undefined when not probed
   */
  callsIptables?: { lan: boolean; uplink: boolean };
  dnsmasq: DnsmasqState;
  /** the rendered ruleset as nft lists it, normalized; undefined when unknown */
  expectedRuleset?: string;
  counters: Record<string, CounterValue>;
  conntrack: number | null;
  leases: Lease[];
  ports: HookPort[];
  /** the running network's segments (issue 19) as the host has them; undefined: none */
  segments?: SegmentState[];
  /** duplicate-address probe of the uplink; undefined when not probed */
  duplicate?: { answeredBy: string | null };
}
