// Teardown from the live system, never stopping at the first error; "not found" counts
// as done, so running it twice is fine. Order matters:
//   1. processes inside the namespace first: `ip netns del` does not kill them, and a
//      live dnsmasq would keep the namespace (and its veths on the bridges) alive;
//   2. lan0/wan0 (and so both veth pairs), then the namespace;
//   3. host-side veth ends still present (deletion is asynchronous, or a half-built start);
//   4. the bridges' fdb entries for the macvlans, which outlive them (from the state file,
//      plus any the caller saw left behind);
//   5. vnat's files and uplink claims last, so a retry still finds what to remove.
import { statSync } from "node:fs";
import { LAN_IF, UPLINK_IF, kernelNames } from "../core/names.ts";
import { netPaths, type Roots } from "../core/paths.ts";
import { dnsmasqPid, sleep, terminate } from "../adapters/dnsmasq.ts";
import { readState, releaseAllClaims, removeNetDir } from "../adapters/state.ts";
import type { FdbEntry } from "../core/attach.ts";
import { attachFdb } from "../core/render.ts";
import type { NetSpec } from "../core/spec.ts";
import { deleteFdb } from "./fdb.ts";
import { linkExists, netnsExists } from "../adapters/sysfs.ts";
import { netnsPids } from "./ip.ts";
import { firstLine, type Runner } from "./run.ts";

export async function stopNetnsProcesses(runner: Runner, netns: string, pidFile: string): Promise<void> {
  const pids = new Set(await netnsPids(runner, netns));
  const dns = await dnsmasqPid(pidFile);
  if (dns !== undefined) pids.add(dns);
  await Promise.all([...pids].map((pid) => terminate(pid)));
}

/**
 * Deletes lan0 and wan0 first, then the namespace, in one `ip` process. A namespace is freed
 * asynchronously once its name is gone, and until then its macvlans hold their MACs on the
 * bridges: a network started again at once could not bring up a macvlan with the same MAC
 * ("Address already in use"). Deleting the links is synchronous. "Not found" is success:
 * teardown and undo may run twice.
 */
export async function deleteNetns(runner: Runner, netns: string): Promise<void> {
  const r = await runner.run("ip", ["-n", netns, "-force", "-batch", "-"], {
    input: `link del ${LAN_IF}\nlink del ${UPLINK_IF}\nnetns del ${netns}\n`,
  });
  if (r.exitCode !== 0 && netnsExists(netns)) {
    const cause = r.stderr.split("\n").find((l) => l && !/Cannot find device|Command failed/.test(l));
    throw new Error(`delete namespace "${netns}": ${cause ?? firstLine(r.stderr)}`);
  }
}

/**
 * A namespace whose name was deleted while vnat's dnsmasq still ran in it lives on, with its
 * macvlans: it gets its name back from that process, so that teardown can empty it.
 */
export async function reclaimNetns(runner: Runner, netns: string, pidFile: string): Promise<void> {
  if (netnsExists(netns)) return;
  const pid = await dnsmasqPid(pidFile);
  // never name the host's own namespace: deleting "its" lan0/wan0 would hit the host's links
  const ino = (p: string): number | undefined => {
    try {
      return statSync(p).ino;
    } catch {
      return undefined;
    }
  };
  const theirs = pid !== undefined ? ino(`/proc/${pid}/ns/net`) : undefined;
  if (theirs === undefined || theirs === ino("/proc/self/ns/net") || theirs === ino("/proc/1/ns/net")) return;
  await runner.run("ip", ["netns", "attach", netns, String(pid)]);
}

/** Waits briefly for links to vanish (namespace deletion is asynchronous), then deletes what is left. */
export async function deleteLinks(runner: Runner, ifnames: string[], waitMs = 300): Promise<void> {
  const deadline = Date.now() + waitMs;
  while (ifnames.some(linkExists) && Date.now() < deadline) await sleep(5);
  const errors: string[] = [];
  for (const ifname of ifnames.filter(linkExists)) {
    const r = await runner.run("ip", ["link", "del", ifname]);
    if (r.exitCode !== 0 && linkExists(ifname)) errors.push(`delete link "${ifname}": ${firstLine(r.stderr)}`);
  }
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
  const errors: string[] = [];
  const step = async (fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  await step(() => reclaimNetns(runner, names.netns, paths.pidFile));
  await step(() => stopNetnsProcesses(runner, names.netns, paths.pidFile));
  await step(() => deleteNetns(runner, names.netns));
  await step(() => deleteLinks(runner, [names.lanHost, names.uplinkHost]));
  await step(async () => deleteFdb(runner, [...(await recordedFdb(roots, name)), ...leftFdb]));
  await step(() => removeNetDir(roots, name));
  await step(() => releaseAllClaims(roots, name));
  return errors;
}

/** The fdb entries a network's state file says its build added. */
async function recordedFdb(roots: Roots, name: string): Promise<FdbEntry[]> {
  const st = await readState(roots, name);
  return st?.attach && st.spec ? attachFdb(st.spec as NetSpec, st.attach) : [];
}
