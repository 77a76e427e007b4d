// The schema of a network's state file (/run/vnat/net/NAME/state.json, adapters/store/state.ts):
// parsed and checked field by field on every read, never cast, so teardown, status and a
// live edit only ever see a well-formed record, or one line saying what is wrong with it.
// Versions: 1 had no "version" field (vnat up to 2026-12-04); 2 adds it and is otherwise
// the same, so a version-1 file (a network started before an upgrade) reads as version 2.
// Pure.
import { readSpec6 } from "./state-schema6.ts";
import type { AttachKind, Attachments } from "./attach.ts";
import { invalid } from "../errors.ts";
import type { FloatingSpec, ForwardSpec, Proto } from "./inbound.ts";
import type { HostSpec } from "./hosts.ts";
import type { IsolationSpec, Reach } from "./isolation.ts";
import type { Cidr } from "../ipv4.ts";
import { parseIp } from "../ipv4.ts";
import { isNetworkName, printable, type KernelNames } from "../names.ts";
import type { DhcpSpec, NetSpec } from "./spec.ts";
import { SEGMENT_KINDS, type SegmentSpec } from "./segments.ts";

export const STATE_VERSION = 2;
/** the oldest version this vnat reads */
export const OLDEST_STATE_VERSION = 1;

/** A state as vnat uses it: the file's "version" is the store's business (adapters/store/state.ts). */
export interface NetState {
  name: string;
  phase: "starting" | "active";
  lanBridge: string;
  uplinkBridge: string;
  /** the uplink address, dotted */
  uplink: string;
  netns: string;
  startedAt: string;
  /** how the namespace is attached to its bridges (absent: built before vnat used macvlans, veths) */
  attach?: Attachments;
  /** the spec as built, for status, reconcile and live edits (absent: an older vnat's) */
  spec?: NetSpec;
}

type Obj = Record<string, unknown>;

/** A field that is not what the schema says: `path` names it ("spec.uplink.address.prefix"). */
class Bad extends Error {
  constructor(path: string, expected: string, value: unknown) {
    super(`${path}: expected ${expected}, got ${shown(value)}`);
  }
}

function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  const text = JSON.stringify(v) ?? String(v);
  return printable(text.length > 40 ? `${text.slice(0, 40)}…` : text, 48);
}

const obj = (path: string, v: unknown): Obj => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Bad(path, "an object", v);
  return v as Obj;
};
const str = (path: string, v: unknown, re?: RegExp, what = "a string"): string => {
  if (typeof v !== "string" || v.length === 0 || (re && !re.test(v))) throw new Bad(path, what, v);
  return v;
};
const int = (path: string, v: unknown, min: number, max: number): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    throw new Bad(path, `an integer ${min}-${max}`, v);
  return v;
};
const oneOf = <T extends string>(path: string, v: unknown, allowed: readonly T[]): T => {
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
    throw new Bad(path, allowed.map((a) => `"${a}"`).join(" or "), v);
  return v as T;
};
const list = <T>(path: string, v: unknown, item: (p: string, x: unknown) => T): T[] => {
  if (!Array.isArray(v)) throw new Bad(path, "a list", v);
  return v.map((x, i) => item(`${path}[${i}]`, x));
};
/** an optional field: absent stays absent (the key is left out) */
const opt = <K extends string, T>(o: Obj, key: K, path: string, read: (p: string, v: unknown) => T) =>
  (o[key] === undefined ? {} : { [key]: read(`${path}.${key}`, o[key]) }) as { [P in K]?: T };

const U32 = 0xffffffff;
const ip = (p: string, v: unknown): number => int(p, v, 0, U32);
const port = (p: string, v: unknown): number => int(p, v, 1, 65535);
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const ifname = (p: string, v: unknown): string => str(p, v, IFNAME, "an interface name");
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const mac = (p: string, v: unknown): string => str(p, v, MAC, "a lower-case MAC address");
const KINDS: readonly AttachKind[] = ["veth", "macvlan"];
const REACH: readonly Reach[] = ["blocked", "open"];
const PROTOS: readonly Proto[] = ["tcp", "udp"];

function cidr(p: string, v: unknown): Cidr {
  const o = obj(p, v);
  return { address: ip(`${p}.address`, o.address), prefix: int(`${p}.prefix`, o.prefix, 0, 32) };
}

function attachments(p: string, v: unknown): Attachments {
  const o = obj(p, v);
  return { lan: oneOf(`${p}.lan`, o.lan, KINDS), uplink: oneOf(`${p}.uplink`, o.uplink, KINDS) };
}

function names(p: string, v: unknown): KernelNames {
  const o = obj(p, v);
  return {
    netns: str(`${p}.netns`, o.netns),
    lanHost: ifname(`${p}.lanHost`, o.lanHost),
    uplinkHost: ifname(`${p}.uplinkHost`, o.uplinkHost),
  };
}

function dhcp(p: string, v: unknown): DhcpSpec {
  const o = obj(p, v);
  return { start: ip(`${p}.start`, o.start), end: ip(`${p}.end`, o.end), lease: str(`${p}.lease`, o.lease) };
}

function forward(p: string, v: unknown): ForwardSpec {
  const o = obj(p, v);
  return {
    proto: oneOf(`${p}.proto`, o.proto, PROTOS),
    port: port(`${p}.port`, o.port),
    portEnd: port(`${p}.portEnd`, o.portEnd),
    to: ip(`${p}.to`, o.to),
    toPort: port(`${p}.toPort`, o.toPort),
  };
}

function floating(p: string, v: unknown): FloatingSpec {
  const o = obj(p, v);
  return { address: ip(`${p}.address`, o.address), to: ip(`${p}.to`, o.to) };
}

function host(p: string, v: unknown): HostSpec {
  const o = obj(p, v);
  return { mac: mac(`${p}.mac`, o.mac), ip: ip(`${p}.ip`, o.ip), ...opt(o, "name", p, (q, x) => str(q, x)) };
}

function isolation(p: string, v: unknown): IsolationSpec {
  const o = obj(p, v);
  return { host: oneOf(`${p}.host`, o.host, REACH), provider: oneOf(`${p}.provider`, o.provider, REACH) };
}

function uplink(p: string, v: unknown): NetSpec["uplink"] {
  const o = obj(p, v);
  return {
    bridge: ifname(`${p}.bridge`, o.bridge),
    address: cidr(`${p}.address`, o.address),
    gateway: ip(`${p}.gateway`, o.gateway),
    mac: mac(`${p}.mac`, o.mac),
    ...opt(o, "attach", p, (q, x) => oneOf(q, x, KINDS)),
  };
}

function segment(p: string, v: unknown): SegmentSpec {
  const o = obj(p, v);
  if (o.takeAddresses !== undefined && o.takeAddresses !== true)
    throw new Bad(`${p}.takeAddresses`, "true", o.takeAddresses);
  return {
    kind: oneOf(`${p}.kind`, o.kind, SEGMENT_KINDS),
    name: str(`${p}.name`, o.name, /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/, "a segment name"),
    device: ifname(`${p}.device`, o.device),
    ...(o.takeAddresses === true ? { takeAddresses: true as const } : {}),
  };
}

function spec(p: string, v: unknown): NetSpec {
  const o = obj(p, v);
  return {
    name: str(`${p}.name`, o.name),
    names: names(`${p}.names`, o.names),
    lanBridge: ifname(`${p}.lanBridge`, o.lanBridge),
    lan: cidr(`${p}.lan`, o.lan),
    ...opt(o, "dhcp", p, dhcp),
    uplink: uplink(`${p}.uplink`, o.uplink),
    dns: list(`${p}.dns`, o.dns, ip),
    ...opt(o, "forwards", p, (q, x) => list(q, x, forward)),
    ...opt(o, "floating", p, (q, x) => list(q, x, floating)),
    ...opt(o, "hosts", p, (q, x) => list(q, x, host)),
    ...opt(o, "isolation", p, isolation),
    ...opt(o, "v6", p, readSpec6),
    ...opt(o, "segments", p, (q, x) => list(q, x, segment)),
  };
}

/**
 * The state of network NAME from its file's TEXT (WHERE names the file in errors), checked
 * against the schema; a version-1 file reads like a version-2 one. Throws one line (VnatError
 * "invalid") naming the file and the first field that is wrong.
 */
export function parseState(where: string, name: string, text: string): NetState {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`state file ${where}: not JSON (${(e as Error).message})`);
  }
  try {
    const o = obj("state", raw);
    const version = o.version === undefined ? 1 : o.version;
    if (version !== 1 && version !== STATE_VERSION)
      throw typeof version === "number" && Number.isInteger(version) && version > STATE_VERSION
        ? new Error(
            `version ${version} was written by a newer vnat (this one reads ${OLDEST_STATE_VERSION}-${STATE_VERSION})`,
          )
        : new Bad("version", `${OLDEST_STATE_VERSION}-${STATE_VERSION}`, version);
    const own = str("name", o.name, undefined, `"${name}"`);
    if (own !== name || !isNetworkName(own)) throw new Bad("name", `"${printable(name)}"`, own);
    const uplinkIp = str("uplink", o.uplink);
    if (parseIp(uplinkIp) === undefined) throw new Bad("uplink", "an IPv4 address", uplinkIp);
    const startedAt = str("startedAt", o.startedAt);
    if (Number.isNaN(Date.parse(startedAt))) throw new Bad("startedAt", "a date", startedAt);
    const state: NetState = {
      name: own,
      phase: oneOf("phase", o.phase, ["starting", "active"] as const),
      lanBridge: ifname("lanBridge", o.lanBridge),
      uplinkBridge: ifname("uplinkBridge", o.uplinkBridge),
      uplink: uplinkIp,
      netns: str("netns", o.netns),
      startedAt,
      ...opt(o, "attach", "state", attachments),
      ...opt(o, "spec", "state", spec),
    };
    if (state.spec && state.spec.name !== name) throw new Bad("spec.name", `"${printable(name)}"`, state.spec.name);
    return state;
  } catch (e) {
    throw invalid(`state file ${where}: ${(e as Error).message.replace(/^state\./, "")}`);
  }
}

/** The host links a state file records, and how its network was attached (teardown's view). */
export interface LinkRecord {
  attach?: Attachments;
  spec?: { names: { lanHost?: string; uplinkHost?: string } };
}

/**
 * What a state file that fails the schema still says about the host links it records: an
 * older vnat's file (its spec had fewer fields) or a damaged one. Only strings are taken, and
 * callers keep only names that are vnat's link names (teardown's isVnatLink), so a hostile
 * file can name nothing else. Undefined when the text is not a JSON object.
 */
export function linkRecordOf(text: string): LinkRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const obj = (x: unknown): Record<string, unknown> | undefined =>
    typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
  const str = (x: unknown): string | undefined => (typeof x === "string" ? x : undefined);
  const kind = (x: unknown): AttachKind | undefined => (x === "veth" || x === "macvlan" ? x : undefined);
  const top = obj(v);
  if (!top) return undefined;
  const names = obj(obj(top.spec)?.names);
  const att = obj(top.attach);
  const lan = kind(att?.lan);
  const uplink = kind(att?.uplink);
  return {
    ...(lan && uplink ? { attach: { lan, uplink } } : {}),
    ...(names ? { spec: { names: { lanHost: str(names.lanHost), uplinkHost: str(names.uplinkHost) } } } : {}),
  };
}
