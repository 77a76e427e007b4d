// Plans how to bring one observed network back to its desired state: a list of repair
// actions derived from the health reasons. A healthy network gets none, so a reconcile
// never touches it. Repairs are the smallest that fix the drift: a detached veth is
// re-enslaved, a missing fdb entry added again, a changed ruleset replaced in one transaction, a dead dnsmasq restarted;
// only a namespace that lost one of its links is rebuilt. Pure.
import { missing6 } from "./health6.ts";
import { formatCidr } from "../ipv4.ts";
import { LAN_IF, UPLINK_IF } from "../names.ts";
import type { NetObservation } from "../observe/observed.ts";
import { leftFdb, sides, type Reason, type ReasonCode, type Verdict } from "./health.ts";
import type { FdbEntry } from "../input/attach.ts";
import type { NetSpec } from "../input/spec.ts";
import { segmentLabel, type SegmentSpec } from "../input/segments.ts";
import { segmentsToRepair } from "./segments.ts";

export type Repair =
  /** the namespace is missing, or too broken to mend in place: clear leftovers, build it again */
  | { kind: "create"; spec: NetSpec; rebuild: boolean }
  /** the network is no longer active: remove its namespace, interfaces, dnsmasq and files */
  | { kind: "remove"; name: string; fdb: FdbEntry[] }
  | { kind: "enslave"; ifname: string; bridge: string }
  | { kind: "fdb"; entry: FdbEntry }
  | { kind: "link-up"; ifname: string; netns: string | null }
  | { kind: "addresses"; spec: NetSpec; ifname: string; add: string[]; remove: string[]; mac: string | null }
  | { kind: "route"; spec: NetSpec }
  | { kind: "ruleset"; spec: NetSpec }
  | { kind: "dnsmasq"; spec: NetSpec; stopPid: number | null }
  /** segments (issue 19) that are there but no longer patched in: attached again */
  | { kind: "segments"; spec: NetSpec; segments: SegmentSpec[] };

export interface NetPlan {
  name: string;
  repairs: Repair[];
  /** problems no repair can fix (invalid metadata, a missing bridge, a duplicate uplink) */
  unfixable: Reason[];
}

const UNFIXABLE: ReasonCode[] = [
  "spec-invalid",
  "bridge-missing",
  "uplink-duplicate",
  "probe-failed",
  "macvlan-netfilter",
  "segment-missing",
];
const REBUILD: ReasonCode[] = ["link-missing", "veth-missing"];

export function planNetwork(o: NetObservation, v: Verdict): NetPlan {
  const plan: NetPlan = { name: o.name, repairs: [], unfixable: v.reasons.filter((r) => UNFIXABLE.includes(r.code)) };
  const has = (code: ReasonCode): boolean => v.reasons.some((r) => r.code === code);
  if (v.health === "orphan") plan.repairs.push({ kind: "remove", name: o.name, fdb: leftFdb(o) });
  if (!o.spec || (v.health !== "down" && v.health !== "degraded")) return plan;
  const spec = o.spec;
  if (has("namespace-missing") || REBUILD.some(has)) {
    // a rebuild also fixes everything else; a missing bridge would make it fail anyway
    if (!has("bridge-missing")) plan.repairs.push({ kind: "create", spec, rebuild: !has("namespace-missing") });
    return plan;
  }
  const netns = o.netns.name;
  for (const { kind, veth, bridge, exists, fdb, mac } of sides(o, spec)) {
    if (exists === false) continue; // unfixable, reported
    if (kind === "macvlan") {
      if (fdb === false) plan.repairs.push({ kind: "fdb", entry: { bridge, mac } });
    } else if (veth.present && veth.master !== bridge)
      plan.repairs.push({ kind: "enslave", ifname: veth.name, bridge });
    else if (veth.present && !veth.up) plan.repairs.push({ kind: "link-up", ifname: veth.name, netns: null });
  }
  for (const l of o.inside?.links ?? [])
    if ((l.name === LAN_IF || l.name === UPLINK_IF) && !l.up)
      plan.repairs.push({ kind: "link-up", ifname: l.name, netns });
  const addresses = has("address-wrong") ? addressRepairs(o, spec) : [];
  plan.repairs.push(...addresses);
  if (has("route-wrong")) plan.repairs.push({ kind: "route", spec });
  if (has("ruleset-changed")) plan.repairs.push({ kind: "ruleset", spec });
  // after the addresses, and again when the gateway address changed: dnsmasq binds to it
  const gatewayFixed = addresses.some((r) => r.kind === "addresses" && r.ifname === LAN_IF);
  if (has("dnsmasq-down") || has("dnsmasq-changed") || gatewayFixed)
    plan.repairs.push({ kind: "dnsmasq", spec, stopPid: o.dnsmasq.pid });
  const segments = segmentsToRepair(o, spec);
  if (segments.length) plan.repairs.push({ kind: "segments", spec, segments });
  return plan;
}

/**
 * lan0 must hold exactly the gateway address. wan0 must hold the uplink address and MAC;
 * other addresses on wan0 are left alone (floating IPs live there).
 */
function addressRepairs(o: NetObservation, spec: NetSpec): Repair[] {
  const out: Repair[] = [];
  const want: Array<[string, string, string | null]> = [
    [LAN_IF, formatCidr(spec.lan), null],
    [UPLINK_IF, formatCidr(spec.uplink.address), spec.uplink.mac],
  ];
  for (const [ifname, address, mac] of want) {
    const link = o.inside?.links.find((l) => l.name === ifname);
    if (!link) continue;
    // IPv6 (issue 17): a missing lan6/uplink6/floating6 is added back; replacing it is enough
    const add = [...(link.addresses.includes(address) ? [] : [address]), ...missing6(o, spec, ifname)];
    const remove = ifname === LAN_IF ? link.addresses.filter((a) => a !== address) : [];
    const setMac = mac !== null && link.mac !== mac ? mac : null;
    if (add.length || remove.length || setMac) out.push({ kind: "addresses", spec, ifname, add, remove, mac: setMac });
  }
  return out;
}

/** One line per repair, for `--dry-run` and progress output. */
export function describeRepair(r: Repair): string {
  switch (r.kind) {
    case "create":
      return r.rebuild ? `rebuild namespace ${r.spec.names.netns}` : `create namespace ${r.spec.names.netns}`;
    case "remove":
      return `remove namespace, interfaces, dnsmasq and state of "${r.name}"`;
    case "enslave":
      return `attach ${r.ifname} to bridge ${r.bridge}`;
    case "fdb":
      return `add fdb entry ${r.entry.mac} on bridge ${r.entry.bridge}`;
    case "link-up":
      return r.netns ? `set ${r.ifname} up in ${r.netns}` : `set ${r.ifname} up`;
    case "addresses": {
      const parts = [...r.add.map((a) => `add ${a}`), ...r.remove.map((a) => `remove ${a}`)];
      if (r.mac) parts.push(`set MAC ${r.mac}`);
      return `${r.ifname}: ${parts.join(", ")}`;
    }
    case "route":
      return `replace the default route`;
    case "ruleset":
      return `replace the nftables ruleset (one transaction)`;
    case "dnsmasq":
      return r.stopPid !== null ? `restart dnsmasq (pid ${r.stopPid})` : `start dnsmasq`;
    case "segments":
      return `attach segment${r.segments.length > 1 ? "s" : ""} ${r.segments.map(segmentLabel).join(" ")} again`;
  }
}
