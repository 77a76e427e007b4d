// Attaches and detaches a network's segments (issue 19, core/input/segments.ts):
//   bridge, docker — a veth pair "vsl-…" (in the network's bridge) / "vss-…" (in the other
//     bridge), both aliased "vnat:NAME"; with take-addresses the other bridge's host addresses
//     are taken off while attached and put back after;
//   tap — the tap itself is enslaved to the network's bridge (its master was none; it is set
//     up) and released, and set down again if it was down, after.
// What is about to be done is recorded in /run/vnat/net/NAME/segments.json BEFORE it is done,
// so the journal's undo, a stop (teardown.ts) or a retry finds everything to take back.
// Detaching never stops at the first error and treats "gone already" as done.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import {
  defaultRouteDevices,
  parseSegmentRecords,
  segmentLabel,
  takenAddrsOf,
  type SegmentRecord,
  type SegmentSpec,
  type TakenAddr,
} from "../../core/input/segments.ts";
import { ownerAlias, segmentLinkNames } from "../../core/names.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { readIfExists, writeAtomic } from "../../adapters/store/files.ts";
import { isBridge, linkExists } from "../../adapters/sysfs.ts";
import { ipBatch } from "./ip.ts";
import { deleteLinks } from "./teardown.ts";
import { firstLine, type Runner } from "../run.ts";

export const segmentsFile = (roots: Roots, name: string): string => `${netPaths(roots, name).dir}/segments.json`;

export async function readSegmentRecords(roots: Roots, name: string): Promise<SegmentRecord[]> {
  const text = await readIfExists(segmentsFile(roots, name)).catch(() => undefined);
  return text === undefined ? [] : parseSegmentRecords(text).records;
}

const writeRecords = (roots: Roots, name: string, recs: SegmentRecord[]): Promise<void> =>
  writeAtomic(segmentsFile(roots, name), JSON.stringify(recs, null, 1) + "\n");

/** The interface DEV's master (a bridge), or undefined. */
export function masterOf(dev: string): string | undefined {
  try {
    return basename(readlinkSync(`/sys/class/net/${dev}/master`));
  } catch {
    return undefined;
  }
}

export const isTap = (dev: string): boolean => {
  try {
    readFileSync(`/sys/class/net/${dev}/tun_flags`);
    return true;
  } catch {
    return false;
  }
};

/** DEV's ifindex, or undefined when it is gone. */
const ifindexOf = (dev: string): number | undefined => {
  const n = Number.parseInt(readText(`/sys/class/net/${dev}/ifindex`).trim(), 10);
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

/** Whether DEV is still the device REC was made for (a record from before ifindexes were kept: yes). */
const sameDevice = (rec: SegmentRecord): boolean => rec.ifindex === undefined || ifindexOf(rec.device) === rec.ifindex;

const isUp = (dev: string): boolean => {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${dev}/flags`, "utf8").trim(), 16) & 1) === 1;
  } catch {
    return false;
  }
};

const readText = (path: string): string => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};

/** The ports of bridge BR. */
const portsOf = (br: string): string[] => {
  try {
    return readdirSync(`/sys/class/net/${br}/brif`);
  } catch {
    return [];
  }
};

/** The host's uplink among DEV and (a bridge) its ports: the one carrying a default route of the host. */
export function hostUplinkOf(dev: string, bridge: boolean): string | undefined {
  const uplinks = defaultRouteDevices(readText("/proc/net/route"), readText("/proc/net/ipv6_route"));
  return [dev, ...(bridge ? portsOf(dev) : [])].find((d) => uplinks.has(d));
}

/** net.ipv6.conf.DEV.accept_ra as it is (undefined: no IPv6 on this kernel). */
const acceptRaOf = (dev: string): number | undefined => {
  const v = Number.parseInt(readText(`/proc/sys/net/ipv6/conf/${dev}/accept_ra`).trim(), 10);
  return Number.isInteger(v) ? v : undefined;
};

/**
 * Why segment S cannot be attached to LANBRIDGE now (undefined: it can): it is missing, of the
 * wrong kind, or a tap that another bridge holds. Used at `start begin` and before a live attach.
 */
export function segmentProblem(where: string, s: SegmentSpec, lanBridge: string): string | undefined {
  const label = segmentLabel(s);
  const dev = s.device;
  if (!linkExists(dev))
    return s.kind === "docker"
      ? `${where}: segment ${label}: its bridge "${dev}" does not exist (is the Docker network still there? vnat attach it again to resolve its bridge)`
      : `${where}: segment ${label}: interface "${dev}" does not exist (create it, or vnat detach it)`;
  if (s.kind === "tap") {
    if (!isTap(dev)) return `${where}: segment ${label}: "${dev}" is not a tap device`;
    const m = masterOf(dev);
    if (m !== undefined && m !== lanBridge)
      return `${where}: segment ${label}: tap "${dev}" is already in bridge "${m}" (release it: ip link set ${dev} nomaster)`;
  } else if (!isBridge(dev)) return `${where}: segment ${label}: "${dev}" is not a bridge`;
  const uplink = hostUplinkOf(dev, s.kind !== "tap");
  if (uplink !== undefined)
    return `${where}: segment ${label}: ${uplink === dev ? `"${dev}"` : `"${dev}" has port "${uplink}", which`} carries the host's default route (a host uplink: the network's DHCP and gateway would serve the host's own LAN)`;
  return undefined;
}

/** Attaches SEGMENTS to network NAME's bridge LANBRIDGE; throws at the first failure (the record says what to undo). */
export async function attachSegments(
  runner: Runner,
  roots: Roots,
  name: string,
  lanBridge: string,
  segments: readonly SegmentSpec[],
): Promise<void> {
  const where = `network "${name}"`;
  for (const s of segments) {
    const problem = segmentProblem(where, s, lanBridge);
    if (problem) throw new Error(problem);
    const all = await readSegmentRecords(roots, name);
    const recs = all.filter((r) => r.device !== s.device);
    // attached again (a repair): what was there before vnat first came is what goes back —
    // unless the device was deleted and made again since (its ifindex differs): then nothing of
    // the old one's is put on the new one
    const found = all.find((r) => r.device === s.device && r.kind === s.kind);
    const prev = found && sameDevice(found) ? found : undefined;
    // a tap in the bridge that vnat did not put there is a guest's own (libvirt's vnetN): a
    // detach would release it and cut the guest off
    if (s.kind === "tap" && !prev && masterOf(s.device) === lanBridge)
      throw new Error(
        `${where}: segment ${segmentLabel(s)}: tap "${s.device}" is in the network's bridge already (a guest's own interface? vnat attaches taps that are in no bridge)`,
      );
    const ifindex = prev?.ifindex ?? ifindexOf(s.device);
    const rec: SegmentRecord = {
      kind: s.kind,
      name: s.name,
      device: s.device,
      lanBridge,
      ...(ifindex !== undefined ? { ifindex } : {}),
    };
    if (s.kind === "tap") rec.tapWasUp = prev?.tapWasUp ?? isUp(s.device);
    else {
      rec.links = segmentLinkNames(name, s.device);
      // the bridge is a host interface: router advertisements from the network's LAN (its
      // namespace's, or a guest's) must not give the host an address or a default route
      const ra = prev?.acceptRa ?? acceptRaOf(s.device);
      if (ra !== undefined) rec.acceptRa = ra;
    }
    let now: TakenAddr[] = [];
    if (s.takeAddresses) {
      const r = await runner.run("ip", ["-j", "addr", "show", "dev", s.device]);
      if (r.exitCode !== 0) throw new Error(`${where}: segment ${segmentLabel(s)}: ${firstLine(r.stderr)}`);
      now = takenAddrsOf(JSON.parse(r.stdout || "[]"));
      const before = prev?.taken ?? [];
      rec.taken = [...before, ...now.filter((a) => !before.some((b) => b.cidr === a.cidr))];
    }
    await writeRecords(roots, name, [...recs, rec]);
    if (rec.acceptRa !== undefined && rec.acceptRa !== 0) {
      const r = await runner.run("sysctl", ["-q", "-w", `net/ipv6/conf/${s.device}/accept_ra=0`]);
      if (r.exitCode !== 0) throw new Error(`${where}: segment ${segmentLabel(s)}: accept_ra: ${firstLine(r.stderr)}`);
    }
    const lines: string[] = [];
    if (rec.links) {
      const { lan, peer } = rec.links;
      // a pair left by an earlier attempt goes first: it is rebuilt from scratch
      await deleteLinks(runner, [lan, peer], 0, name);
      lines.push(
        `link add ${lan} type veth peer name ${peer}`,
        `link set ${lan} alias ${ownerAlias(name)}`,
        `link set ${peer} alias ${ownerAlias(name)}`,
        `link set ${lan} master ${lanBridge} up`,
        `link set ${peer} master ${s.device} up`,
      );
    } else {
      // "dev": a tap may be named like a keyword of ip(8) ("name" would rename the bridge)
      lines.push(`link set dev ${s.device} master ${lanBridge}`, `link set dev ${s.device} up`);
    }
    for (const t of now) lines.push(`addr del ${t.cidr} dev ${s.device}`);
    const b = await ipBatch(runner, lines);
    if (!b.ok) throw new Error(`${where}: segment ${segmentLabel(s)}: ${b.error}`);
  }
}

/**
 * Takes back what the record says was done for the segments on DEVICES (all: undefined), plus
 * the veth pairs the names of EXTRA (a state's spec, for a record that is gone) give. Returns
 * what could not be undone; never throws.
 */
export async function detachSegments(
  runner: Runner,
  roots: Roots,
  name: string,
  devices?: readonly string[],
  extra: readonly SegmentSpec[] = [],
): Promise<string[]> {
  const all = await readSegmentRecords(roots, name);
  const chosen = (d: string): boolean => devices === undefined || devices.includes(d);
  const errors: string[] = [];
  const keep: SegmentRecord[] = [];
  for (const rec of all) {
    if (!chosen(rec.device)) {
      keep.push(rec);
      continue;
    }
    const errs = await detachOne(runner, name, rec);
    errors.push(...errs);
    if (errs.length) keep.push(rec);
  }
  for (const s of extra.filter((x) => chosen(x.device) && !all.some((r) => r.device === x.device))) {
    if (s.kind === "tap") continue; // nothing of vnat's: the tap left the bridge with it
    const { lan, peer } = segmentLinkNames(name, s.device);
    await deleteLinks(runner, [lan, peer], 0, name).catch((e: unknown) => errors.push((e as Error).message));
  }
  if (all.length) await writeRecords(roots, name, keep).catch((e: unknown) => errors.push((e as Error).message));
  return errors;
}

async function detachOne(runner: Runner, name: string, rec: SegmentRecord): Promise<string[]> {
  const label = `segment ${segmentLabel(rec)}`;
  const errors: string[] = [];
  if (rec.links)
    await deleteLinks(runner, [rec.links.lan, rec.links.peer], 0, name).catch((e: unknown) =>
      errors.push(`${label}: ${(e as Error).message}`),
    );
  // a device deleted and made again under the name is not the one vnat changed: left alone
  if (!linkExists(rec.device) || !sameDevice(rec)) return errors;
  if (rec.kind === "tap") {
    // released only from the bridge vnat put it in (it may have been moved since: then it is not ours)
    if (masterOf(rec.device) === rec.lanBridge) {
      const r = await runner.run("ip", ["link", "set", "dev", rec.device, "nomaster"]);
      if (r.exitCode !== 0 && linkExists(rec.device)) errors.push(`${label}: release: ${firstLine(r.stderr)}`);
    }
    if (rec.tapWasUp === false && masterOf(rec.device) === undefined) {
      const r = await runner.run("ip", ["link", "set", "dev", rec.device, "down"]);
      if (r.exitCode !== 0 && linkExists(rec.device)) errors.push(`${label}: set down: ${firstLine(r.stderr)}`);
    }
  }
  if (rec.acceptRa !== undefined && rec.acceptRa !== 0) {
    const r = await runner.run("sysctl", ["-q", "-w", `net/ipv6/conf/${rec.device}/accept_ra=${rec.acceptRa}`]);
    if (r.exitCode !== 0 && linkExists(rec.device)) errors.push(`${label}: accept_ra: ${firstLine(r.stderr)}`);
  }
  if (rec.taken?.length)
    for (const t of rec.taken) {
      const args = ["addr", "add", t.cidr, ...(t.broadcast ? ["brd", t.broadcast] : []), "dev", rec.device];
      const r = await runner.run("ip", t.family === "inet6" ? ["-6", ...args] : args);
      if (r.exitCode !== 0 && !/File exists/.test(r.stderr))
        errors.push(`${label}: put back ${t.cidr}: ${firstLine(r.stderr)}`);
    }
  return errors;
}
