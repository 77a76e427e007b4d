// Segments (issue 19): other layer-2 segments patched into a vnat network's bridge, so their
// hosts share the guests' LAN (DHCP, DNS, NAT and forwards from the network's namespace).
// `vnat attach NET SEGMENT` / `vnat detach NET SEGMENT`; stored in the metadata as
//   <vnat:segment kind="bridge" name="br-x" take-addresses="yes"/>
//   <vnat:segment kind="tap" name="tap3"/>
//   <vnat:segment kind="docker" name="lab" bridge="br-0123456789ab"/>
// ("attach" in core/input/attach.ts is the uplink/LAN link kind, macvlan or veth: a
// different thing.) Pure: parse, validate, edit the model.
import { invalid } from "../errors.ts";
import { isSegmentLink, isVnatLink, printable } from "../names.ts";
import { validateIfname } from "./ifname.ts";
import { attr, type XmlNode } from "./xml.ts";

export const SEGMENT_KINDS = ["bridge", "tap", "docker"] as const;
export type SegmentKind = (typeof SEGMENT_KINDS)[number];

export interface SegmentSpec {
  kind: SegmentKind;
  /** bridge, tap: the interface; docker: the Docker network's name */
  name: string;
  /** the Linux device vnat links to the network's bridge (docker: the bridge resolved at attach time) */
  device: string;
  /** the foreign bridge's host addresses are taken off while attached, and put back at detach/stop */
  takeAddresses?: true;
}

/** As the metadata model holds it (core/input/metadata.ts): attributes as written. */
export interface SegmentModel {
  kind: string;
  name: string;
  bridge?: string;
  takeAddresses?: string;
}

export const ALLOWED_SEGMENT = ["@kind", "@name", "@bridge", "@take-addresses"];
/** one veth pair (or one tap) each: a bound on what a start builds */
export const MAX_SEGMENTS = 32;

// Docker's own rule for network names, bounded
const DOCKER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export const segmentLabel = (s: { kind: string; name: string }): string => `${s.kind}:${s.name}`;

/** The model entry from the metadata element. */
export function segmentModelOf(el: XmlNode): SegmentModel {
  return {
    kind: attr(el, "kind") ?? "",
    name: attr(el, "name") ?? "",
    ...(attr(el, "bridge") !== undefined ? { bridge: attr(el, "bridge") } : {}),
    ...(attr(el, "take-addresses") !== undefined ? { takeAddresses: attr(el, "take-addresses") } : {}),
  };
}

/**
 * A validated segment from its model entry. WHERE names the network; LAN and UPLINK are the
 * network's own bridge and its provider bridge, which are never a segment.
 */
export function parseSegment(
  where: string,
  m: SegmentModel,
  lan: string,
  uplink: string,
  providers: readonly string[] = [],
): SegmentSpec {
  const kinds = SEGMENT_KINDS.join(", ");
  if (!(SEGMENT_KINDS as readonly string[]).includes(m.kind))
    throw invalid(`${where}: segment kind "${printable(m.kind)}" (allowed: ${kinds})`);
  const kind = m.kind as SegmentKind;
  let name: string;
  let device: string;
  if (kind === "docker") {
    if (!DOCKER_NAME_RE.test(m.name))
      throw invalid(
        `${where}: docker network "${printable(m.name)}": not a Docker network name (1-64 of letters, digits, "_", "." and "-", starting with a letter or digit)`,
      );
    name = m.name;
    if (m.bridge === undefined)
      throw invalid(`${where}: segment docker:${name} has no bridge="…" (vnat attach resolves it; attach it again)`);
    device = validateIfname(`${where}: segment docker:${name} bridge`, m.bridge);
  } else {
    if (m.bridge !== undefined)
      throw invalid(`${where}: segment ${kind}:${printable(m.name)}: bridge="…" is for docker segments only`);
    name = validateIfname(`${where}: segment ${kind}`, m.name);
    device = name;
  }
  const label = segmentLabel({ kind, name });
  if (device === lan)
    throw invalid(`${where}: segment ${label} is the network's own bridge "${lan}" (attach another bridge)`);
  if (device === uplink)
    throw invalid(
      `${where}: segment ${label} is the provider bridge "${uplink}" (guests would sit on the provider network)`,
    );
  if (providers.includes(device))
    throw invalid(
      `${where}: segment ${label} is provider bridge "${device}" of the config (guests would sit on that provider network)`,
    );
  if (isVnatLink(device) || isSegmentLink(device))
    throw invalid(`${where}: segment ${label}: "${device}" is one of vnat's own links`);
  const take = m.takeAddresses;
  if (take !== undefined && take !== "yes" && take !== "no")
    throw invalid(`${where}: segment ${label} take-addresses="${printable(take)}" (expected "yes" or "no")`);
  if (take === "yes" && kind === "tap")
    throw invalid(`${where}: segment ${label}: take-addresses is for bridges (bridge:, docker:), not taps`);
  return { kind, name, device, ...(take === "yes" ? { takeAddresses: true as const } : {}) };
}

/** Every segment of a network, checked one by one and against each other; PROVIDERS: every provider bridge of the config. */
export function parseSegments(
  where: string,
  models: SegmentModel[],
  lan: string,
  uplink: string,
  providers: readonly string[] = [],
): SegmentSpec[] {
  if (models.length > MAX_SEGMENTS) throw invalid(`${where}: ${models.length} segments (at most ${MAX_SEGMENTS})`);
  const out: SegmentSpec[] = [];
  for (const m of models) {
    const s = parseSegment(where, m, lan, uplink, providers);
    const same = out.find((o) => o.device === s.device || (o.kind === s.kind && o.name === s.name));
    if (same)
      throw invalid(
        `${where}: segment ${segmentLabel(s)} is attached twice${same.kind !== s.kind || same.name !== s.name ? ` (as ${segmentLabel(same)}: both are "${s.device}")` : ""}`,
      );
    out.push(s);
  }
  return out;
}

/**
 * A segment as the user names it on the command line: `bridge:BR`, `tap:DEV` or
 * `docker:NETWORK`. Docker's bridge is not known here (exec/probe/docker.ts resolves it).
 */
export function parseSegmentArg(text: string): { kind: SegmentKind; name: string } {
  const i = text.indexOf(":");
  const kind = i < 0 ? "" : text.slice(0, i);
  const name = i < 0 ? "" : text.slice(i + 1);
  if (!(SEGMENT_KINDS as readonly string[]).includes(kind) || name === "")
    throw invalid(`segment "${printable(text)}": expected bridge:BRIDGE, tap:DEVICE or docker:NETWORK`);
  if (kind === "docker") {
    if (!DOCKER_NAME_RE.test(name))
      throw invalid(
        `segment docker:${printable(name)}: not a Docker network name (1-64 of letters, digits, "_", "." and "-", starting with a letter or digit)`,
      );
  } else validateIfname(`segment ${kind}`, name);
  return { kind: kind as SegmentKind, name };
}

/** The model entry `vnat attach` adds. */
export function segmentModel(kind: SegmentKind, name: string, bridge: string | undefined, take: boolean): SegmentModel {
  return { kind, name, ...(bridge !== undefined ? { bridge } : {}), ...(take ? { takeAddresses: "yes" } : {}) };
}

/** MODELS with S added (an entry for the same segment is replaced: attach again refreshes docker's bridge). */
export function addSegment(models: SegmentModel[] | undefined, s: SegmentModel): SegmentModel[] {
  return [...(models ?? []).filter((m) => !(m.kind === s.kind && m.name === s.name)), s];
}

/** MODELS without KIND:NAME; refused when it is not attached. */
export function removeSegment(
  where: string,
  models: SegmentModel[] | undefined,
  kind: SegmentKind,
  name: string,
): SegmentModel[] {
  const list = models ?? [];
  if (!list.some((m) => m.kind === kind && m.name === name)) {
    const have = list.map(segmentLabel).join(", ");
    throw invalid(`${where}: segment ${kind}:${printable(name)} is not attached (attached: ${have || "none"})`);
  }
  return list.filter((m) => !(m.kind === kind && m.name === name));
}

/** What changes on a running network when its segments change: by device, what goes and what comes. */
export function diffSegments(
  old: readonly SegmentSpec[] | undefined,
  next: readonly SegmentSpec[] | undefined,
): { add: SegmentSpec[]; remove: SegmentSpec[] } {
  const k = (s: SegmentSpec): string => JSON.stringify([s.kind, s.name, s.device, s.takeAddresses ?? false]);
  const o = new Map((old ?? []).map((s) => [k(s), s]));
  const n = new Map((next ?? []).map((s) => [k(s), s]));
  return {
    add: [...n].filter(([key]) => !o.has(key)).map(([, s]) => s),
    remove: [...o].filter(([key]) => !n.has(key)).map(([, s]) => s),
  };
}

/** An address vnat took off a foreign bridge (--take-addresses), to be put back as it was. */
export interface TakenAddr {
  family: "inet" | "inet6";
  /** "A.B.C.D/N" or "X::Y/N" */
  cidr: string;
  broadcast?: string;
}

/**
 * What vnat did to the host for one attached segment (/run/vnat/net/NAME/segments.json),
 * written before it acts, so an undo, a stop or a retry finds what to take back.
 */
export interface SegmentRecord {
  kind: SegmentKind;
  name: string;
  device: string;
  /** the network's bridge it was attached to */
  lanBridge: string;
  /** the device's ifindex when vnat first attached it: a device deleted and made again under the name is not the one to put back */
  ifindex?: number;
  /** bridge, docker: the veth pair's ends */
  links?: { lan: string; peer: string };
  /** tap: whether it was up before (its master was none: vnat refuses a tap with another master) */
  tapWasUp?: boolean;
  /** bridge, docker: the bridge's net.ipv6.conf accept_ra before vnat set it to 0 */
  acceptRa?: number;
  taken?: TakenAddr[];
}

const CIDR_TEXT = /^[0-9a-fA-F:.]{2,45}\/\d{1,3}$/;
const IP_TEXT = /^[0-9a-fA-F:.]{2,45}$/;
const IFNAME_TEXT = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/;

/** The records from the file's text; entries that are not well formed are dropped (and named in BAD). */
export function parseSegmentRecords(text: string): { records: SegmentRecord[]; bad: number } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { records: [], bad: 1 };
  }
  if (!Array.isArray(raw)) return { records: [], bad: 1 };
  const records: SegmentRecord[] = [];
  let bad = 0;
  for (const r of raw as unknown[]) {
    const ok = recordOf(r);
    if (ok) records.push(ok);
    else bad++;
  }
  return { records, bad };
}

function recordOf(v: unknown): SegmentRecord | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const s = (x: unknown, re: RegExp): x is string => typeof x === "string" && re.test(x);
  if (!(SEGMENT_KINDS as readonly unknown[]).includes(o.kind)) return undefined;
  if (typeof o.name !== "string" || !s(o.device, IFNAME_TEXT) || !s(o.lanBridge, IFNAME_TEXT)) return undefined;
  const rec: SegmentRecord = { kind: o.kind as SegmentKind, name: o.name, device: o.device, lanBridge: o.lanBridge };
  if (o.links !== undefined) {
    const l = o.links as Record<string, unknown>;
    if (typeof l !== "object" || l === null) return undefined;
    if (!s(l.lan, IFNAME_TEXT) || !s(l.peer, IFNAME_TEXT) || !isSegmentLink(l.lan) || !isSegmentLink(l.peer))
      return undefined;
    rec.links = { lan: l.lan, peer: l.peer };
  }
  if (o.tapWasUp !== undefined) {
    if (typeof o.tapWasUp !== "boolean") return undefined;
    rec.tapWasUp = o.tapWasUp;
  }
  if (o.ifindex !== undefined) {
    if (typeof o.ifindex !== "number" || !Number.isInteger(o.ifindex) || o.ifindex < 1) return undefined;
    rec.ifindex = o.ifindex;
  }
  if (o.acceptRa !== undefined) {
    if (o.acceptRa !== 0 && o.acceptRa !== 1 && o.acceptRa !== 2) return undefined;
    rec.acceptRa = o.acceptRa;
  }
  if (o.taken !== undefined) {
    if (!Array.isArray(o.taken)) return undefined;
    const taken: TakenAddr[] = [];
    for (const t of o.taken as unknown[]) {
      const a = t as Record<string, unknown>;
      if (typeof a !== "object" || a === null || (a.family !== "inet" && a.family !== "inet6")) return undefined;
      if (!s(a.cidr, CIDR_TEXT) || (a.broadcast !== undefined && !s(a.broadcast, IP_TEXT))) return undefined;
      taken.push({ family: a.family, cidr: a.cidr, ...(a.broadcast !== undefined ? { broadcast: a.broadcast } : {}) });
    }
    rec.taken = taken;
  }
  return rec;
}

/**
 * The addresses --take-addresses takes off a bridge, from `ip -j addr show dev BR`: IPv4 and
 * global IPv6 (the kernel makes a link-local one itself).
 */
export function takenAddrsOf(ipJson: unknown): TakenAddr[] {
  const out: TakenAddr[] = [];
  for (const link of Array.isArray(ipJson) ? (ipJson as unknown[]) : []) {
    const infos = (link as { addr_info?: unknown }).addr_info;
    for (const a of Array.isArray(infos) ? (infos as Record<string, unknown>[]) : []) {
      const family = a.family;
      if ((family !== "inet" && family !== "inet6") || typeof a.local !== "string") continue;
      if (typeof a.prefixlen !== "number") continue;
      if (family === "inet6" && a.scope !== "global") continue;
      const cidr = `${a.local}/${a.prefixlen}`;
      if (!CIDR_TEXT.test(cidr)) continue;
      out.push({
        family,
        cidr,
        ...(typeof a.broadcast === "string" && IP_TEXT.test(a.broadcast) ? { broadcast: a.broadcast } : {}),
      });
    }
  }
  return out;
}

/**
 * The interfaces that carry one of the host's default routes, from the text of
 * /proc/net/route and /proc/net/ipv6_route (reject routes and "lo" left out): a host uplink,
 * never a segment (the network's DHCP and gateway would serve the host's own LAN).
 */
export function defaultRouteDevices(route4: string, route6: string): Set<string> {
  const out = new Set<string>();
  for (const line of route4.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== "00000000" || f[7] !== "00000000") continue;
    if ((Number.parseInt(f[3]!, 16) & 0x200) === 0 && f[0] !== "lo") out.add(f[0]!);
  }
  for (const line of route6.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^0{32}$/.test(f[0]!) || f[1] !== "00") continue;
    if ((Number.parseInt(f[8]!, 16) & 0x200) === 0 && f[9] !== "lo") out.add(f[9]!);
  }
  return out;
}

/**
 * The Linux bridge of a Docker network from `docker network inspect` output: its
 * "com.docker.network.bridge.name" option, else Docker's default name "br-" + the first 12
 * hex digits of its id. Only the bridge driver has one.
 */
export function dockerBridgeOf(where: string, inspect: unknown): string {
  const net = (Array.isArray(inspect) ? inspect[0] : undefined) as Record<string, unknown> | undefined;
  if (!net || typeof net !== "object") throw invalid(`${where}: docker knows no such network`);
  if (net.Driver !== "bridge")
    throw invalid(`${where}: driver "${printable(String(net.Driver))}" (only bridge networks have a Linux bridge)`);
  const opts = (net.Options ?? {}) as Record<string, unknown>;
  const named = opts["com.docker.network.bridge.name"];
  if (typeof named === "string" && named !== "") return validateIfname(`${where}: bridge`, named);
  const id = typeof net.Id === "string" ? net.Id : "";
  if (!/^[0-9a-f]{12}/.test(id)) throw invalid(`${where}: docker gave no network id`);
  return `br-${id.slice(0, 12)}`;
}
