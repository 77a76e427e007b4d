// The JSON document `vnat status --json` prints: a stable, documented shape
// (docs/status-json.md, docs/status.schema.json). Fields are only ever added, with a new
// schema version when one changes meaning. Pure.
import { evaluate, type Health, type Reason } from "../judge/health.ts";
import { formatCidr, formatIp } from "../ipv4.ts";
import type { AttachKind, FdbEntry } from "../input/attach.ts";
import { LAN_IF, UPLINK_IF, lanMac } from "../names.ts";
import type { NetObservation, VethState } from "./observed.ts";
import { segmentDoc, type SegmentDoc } from "./segments.ts";
import { ipv6Doc, type Ipv6Doc } from "./status-doc6.ts";

export const STATUS_SCHEMA_VERSION = 1;

interface VethDoc {
  name: string;
  present: boolean;
  up: boolean;
  master: string | null;
}

/** One side of the namespace: its bridge, its link's MAC and how it is attached. */
export interface SideDoc {
  bridge: string;
  mac: string;
  attach: AttachKind;
  veth: VethDoc;
  fdb: boolean | null;
  /** lan0/wan0 administratively up; null when missing */
  up: boolean | null;
}

export interface NetworkDoc {
  name: string;
  health: Health;
  reasons: Reason[];
  libvirt: { active: boolean; autostart: boolean; persistent: boolean } | null;
  namespace: { name: string; present: boolean };
  lan: (SideDoc & { gateway: string }) | null;
  uplink: (SideDoc & { address: string; gateway: string }) | null;
  nat: { out: { packets: number; bytes: number } | null; in: { packets: number; bytes: number } | null };
  conntrack: number | null;
  dnsmasq: { running: boolean; pid: number | null };
  leases: Array<{ mac: string; ip: string; hostname: string | null; expires: string | null }>;
  guests: Array<{ name: string | null; uuid: string | null; mac: string | null }>;
  duplicateProbe: { probed: boolean; answeredBy: string | null };
  /** segments patched into the network's LAN (issue 19); empty when none */
  segments: SegmentDoc[];
  /** the IPv6 side (issue 17, status-doc6.ts); null for an IPv4-only network */
  ipv6: Ipv6Doc | null;
}

export interface StatusDoc {
  version: number;
  generatedAt: string;
  networks: NetworkDoc[];
  /** vnat host interfaces (vnl-/vnu-) no known network owns */
  strayLinks: string[];
  /** bridge fdb entries with vnat's MACs that no known network accounts for */
  strayFdb: FdbEntry[];
}

const vethDoc = (v: VethState): VethDoc => ({ name: v.name, present: v.present, up: v.up, master: v.master });

export function networkDoc(o: NetObservation): NetworkDoc {
  const { health, reasons } = evaluate(o);
  const spec = o.spec;
  const inside = (ifname: string): boolean | null => o.inside?.links.find((l) => l.name === ifname)?.up ?? null;
  return {
    name: o.name,
    health,
    reasons,
    libvirt: o.libvirt
      ? { active: o.libvirt.active, autostart: o.libvirt.autostart, persistent: o.libvirt.persistent }
      : null,
    namespace: { name: o.netns.name, present: o.netns.present },
    lan: spec
      ? {
          bridge: spec.lanBridge,
          gateway: formatCidr(spec.lan),
          mac: lanMac(o.name),
          attach: o.attach.lan,
          veth: vethDoc(o.lanHost),
          fdb: o.fdb.lan,
          up: inside(LAN_IF),
        }
      : null,
    uplink: spec
      ? {
          bridge: spec.uplink.bridge,
          address: formatCidr(spec.uplink.address),
          gateway: formatIp(spec.uplink.gateway),
          mac: spec.uplink.mac,
          attach: o.attach.uplink,
          veth: vethDoc(o.uplinkHost),
          fdb: o.fdb.uplink,
          up: inside(UPLINK_IF),
        }
      : null,
    nat: { out: o.counters.nat_out ?? null, in: o.counters.nat_in ?? null },
    conntrack: o.conntrack,
    dnsmasq: { running: o.dnsmasq.pid !== null && o.dnsmasq.inNamespace, pid: o.dnsmasq.pid },
    leases: o.leases.map((l) => ({
      mac: l.mac,
      ip: l.ip,
      hostname: l.hostname,
      expires: l.expires === null ? null : new Date(l.expires * 1000).toISOString(),
    })),
    guests: o.ports.map((p) => ({ name: p.ownerName ?? null, uuid: p.ownerUuid ?? null, mac: p.mac ?? null })),
    duplicateProbe: { probed: o.duplicate !== undefined, answeredBy: o.duplicate?.answeredBy ?? null },
    segments: (o.segments ?? []).map(segmentDoc),
    ipv6: ipv6Doc(o),
  };
}

export function statusDoc(obs: NetObservation[], strayLinks: string[], strayFdb: FdbEntry[], now: Date): StatusDoc {
  return {
    version: STATUS_SCHEMA_VERSION,
    generatedAt: now.toISOString(),
    networks: obs.map(networkDoc),
    strayLinks,
    strayFdb,
  };
}
