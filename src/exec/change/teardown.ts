// Teardown from the live system, never stopping at the first error; "not found" counts
// as done, so running it twice is fine. Order matters:
//   1. processes inside the namespace first: `ip netns del` does not kill them, and a
//      live dnsmasq would keep the namespace (and its veths on the bridges) alive;
//   2. the namespace, which takes lan0/wan0 (and so any veth pair) with it, asynchronously:
//      a start right after waits for the macvlans' MACs (apply.ts);
//   3. host-side veth ends still present (deletion is asynchronous, or a half-built start):
//      the names the state file records, else (no state file, or one that fails its schema,
//      core/input/state-schema.ts) today's and an older vnat's (8-hex) names;
//      a link whose alias names another network (or, without alias, that another network's
//      state file records) is that network's: never deleted here, reported instead;
//   4. the bridges' fdb entries for the macvlans, which outlive them (from the state file,
//      plus any the caller saw left behind);
//   5. vnat's files (its state, then libvirt's lease status file for its bridge, when the
//      dhcp-script can no longer find its lease file; the namespace's /etc/netns resolv.conf)
//      and uplink claims last, so a retry still finds what to remove.
import { readFileSync } from "node:fs";
import { aliasOwner, isNetworkName, isVnatLink, kernelNames, legacyKernelNames } from "../../core/names.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { dnsmasqPid, terminate } from "../../adapters/dnsmasq.ts";
import { removeNetnsResolvConf } from "../../adapters/store/netns-etc.ts";
import { removeLeaseStatus } from "../../adapters/store/lease-status.ts";
import { validateIfname } from "../../core/input/ifname.ts";
import {
  listStates,
  readStateFile,
  releaseAllClaims,
  removeNetDir,
  type NetState,
} from "../../adapters/store/state.ts";
import { LEGACY_ATTACH, type Attachments, type FdbEntry } from "../../core/input/attach.ts";
import { linkRecordOf, type LinkRecord } from "../../core/input/state-schema.ts";
import { attachFdb } from "../../core/plan/render.ts";
import { deleteFdb } from "./fdb.ts";
import { linkExists, netnsExists } from "../../adapters/sysfs.ts";
import { netnsPids } from "./ip.ts";
import { firstLine, type Runner } from "../run.ts";
import { sleep } from "../../adapters/async.ts";
import { detachSegments } from "./segments.ts";

export async function stopNetnsProcesses(runner: Runner, netns: string, pidFile: string): Promise<void> {
  const pids = new Set(await netnsPids(runner, netns));
  const dns = await dnsmasqPid(pidFile);
  if (dns !== undefined) pids.add(dns);
  await Promise.all([...pids].map((pid) => terminate(pid)));
}

/** "not found" is success: teardown and undo may run twice. */
export async function deleteNetns(runner: Runner, netns: string): Promise<void> {
  const r = await runner.run("ip", ["netns", "del", netns]);
  if (r.exitCode !== 0 && netnsExists(netns)) throw new Error(`delete namespace "${netns}": ${firstLine(r.stderr)}`);
}

/** The network link IFNAME's alias names ("vnat:NAME"); undefined without one (an older vnat's, or gone). */
export function linkOwner(ifname: string): string | undefined {
  try {
    return aliasOwner(readFileSync(`/sys/class/net/${ifname}/ifalias`, "utf8"));
  } catch {
    return undefined;
  }
}

const foreignLink = (ifname: string, owner: string): string =>
  `interface "${ifname}" belongs to network "${owner}" (its alias says so): left in place`;

/**
 * Waits briefly for links to vanish (namespace deletion is asynchronous), then deletes what is
 * left. With OWNER, a link whose alias names another network is never deleted: it is reported.
 */
export async function deleteLinks(runner: Runner, ifnames: string[], waitMs = 300, owner?: string): Promise<void> {
  const errors: string[] = [];
  const foreign = (ifname: string): boolean => {
    const o = owner === undefined ? undefined : linkOwner(ifname);
    if (o === undefined || o === owner) return false;
    errors.push(foreignLink(ifname, o));
    return true;
  };
  const ours = ifnames.filter((i) => !foreign(i));
  const deadline = Date.now() + waitMs;
  while (ours.some(linkExists) && Date.now() < deadline) await sleep(5);
  for (const ifname of ours.filter(linkExists)) {
    if (foreign(ifname)) continue; // checked again right before: its alias may have come since
    const r = await runner.run("ip", ["link", "del", ifname]);
    if (r.exitCode !== 0 && linkExists(ifname)) errors.push(`delete link "${ifname}": ${firstLine(r.stderr)}`);
  }
  if (errors.length) throw new Error(errors.join("; "));
}

/** The host links a state file says its network built (veth host ends: a macvlan has none there). */
export function recordedHostLinks(st: LinkRecord | undefined): string[] {
  const names = st?.spec?.names;
  if (!names) return [];
  const attach: Attachments = st.attach ?? LEGACY_ATTACH;
  const out: string[] = [];
  if (attach.lan === "veth" && names.lanHost !== undefined) out.push(names.lanHost);
  if (attach.uplink === "veth" && names.uplinkHost !== undefined) out.push(names.uplinkHost);
  return out.filter(isVnatLink);
}

/** Host link name → the network (other than EXCEPT) whose state file records it. */
export async function linksRecordedByOthers(roots: Roots, except: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const other of await listStates(roots)) {
    if (other === except || !isNetworkName(other)) continue;
    for (const l of recordedHostLinks(await readLinkRecord(roots, other))) out.set(l, other);
  }
  return out;
}

/**
 * Network NAME's state when its file passes the schema; undefined when there is none or it is
 * unreadable: teardown then goes by the names derived from NAME, as for a network with no
 * state (the file itself goes with the network's directory).
 */
async function readValidState(roots: Roots, name: string): Promise<NetState | undefined> {
  const r = await readStateFile(roots, name).catch(() => undefined);
  return r?.kind === "ok" ? r.state : undefined;
}

/**
 * The host links network NAME's state file records: from its checked state, or, for a file
 * that fails the schema (an older vnat's, or damaged), from what it still says (linkRecordOf):
 * another network's links are never taken for this one's because its file is old.
 */
async function readLinkRecord(roots: Roots, name: string): Promise<LinkRecord | undefined> {
  const r = await readStateFile(roots, name).catch(() => undefined);
  if (r?.kind === "ok") return r.state;
  return r?.kind === "unreadable" ? linkRecordOf(r.text) : undefined;
}

/**
 * The host links network NAME's teardown looks for: those its state file records (what was
 * built), else today's names and an older vnat's (which named them with 8 hex digits).
 */
function teardownLinks(name: string, st: LinkRecord | undefined): string[] {
  const recorded = st?.spec !== undefined;
  const k = kernelNames(name);
  const l = legacyKernelNames(name);
  const names = recorded
    ? [...recordedHostLinks(st), k.lanHost, k.uplinkHost]
    : [k.lanHost, k.uplinkHost, l.lanHost, l.uplinkHost];
  return [...new Set(names)];
}

/**
 * Deletes network NAME's host links (teardownLinks), leaving any link that belongs to another
 * network: its alias names that network, or it has no alias (an older vnat's) and that
 * network's state file records it while NAME's does not.
 */
async function deleteOwnLinks(runner: Runner, roots: Roots, name: string, st: LinkRecord | undefined): Promise<void> {
  const candidates = teardownLinks(name, st);
  const mine = new Set(recordedHostLinks(st));
  const unaliased = candidates.filter((l) => linkExists(l) && !mine.has(l) && linkOwner(l) === undefined);
  const others = unaliased.length ? await linksRecordedByOthers(roots, name) : new Map<string, string>();
  const errors: string[] = [];
  const ours = candidates.filter((l) => {
    const other = unaliased.includes(l) ? others.get(l) : undefined;
    if (other !== undefined) errors.push(`interface "${l}" is recorded by network "${other}"'s state: left in place`);
    return other === undefined;
  });
  await deleteLinks(runner, ours, 300, name).catch((e: unknown) => errors.push((e as Error).message));
  if (errors.length) throw new Error(errors.join("; "));
}

export async function teardownNetwork(
  runner: Runner,
  roots: Roots,
  name: string,
  leftFdb: FdbEntry[] = [],
): Promise<string[]> {
  const names = kernelNames(name);
  const paths = netPaths(roots, name);
  const st = await readValidState(roots, name);
  const errors: string[] = [];
  const step = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  await step(() => stopNetnsProcesses(runner, names.netns, paths.pidFile));
  await step(() => deleteNetns(runner, names.netns));
  await step(async () => deleteOwnLinks(runner, roots, name, st ?? (await readLinkRecord(roots, name))));
  await step(async () => deleteFdb(runner, [...recordedFdb(st), ...leftFdb]));
  // segments (issue 19): veth pairs deleted, taps released, taken addresses put back, from the
  // record in the network's directory, which goes next
  errors.push(...(await detachSegments(runner, roots, name, undefined, st?.spec?.segments)));
  await step(() => removeNetDir(roots, name));
  await step(() => removeRecordedLeaseStatus(st));
  await step(() => removeNetnsResolvConf(roots, names.netns));
  await step(() => releaseAllClaims(roots, name));
  return errors;
}

/** libvirt's lease status file for the bridge the state file records (core/plan/lease-status.ts). */
async function removeRecordedLeaseStatus(st: NetState | undefined): Promise<void> {
  if (st === undefined) return;
  try {
    validateIfname("bridge", st.lanBridge);
  } catch {
    return; // not a name libvirt could have given a bridge: no file of ours
  }
  await removeLeaseStatus(st.lanBridge);
}

/** The fdb entries a network's state file says its build added. */
function recordedFdb(st: NetState | undefined): FdbEntry[] {
  return st?.attach && st.spec ? attachFdb(st.spec, st.attach) : [];
}
