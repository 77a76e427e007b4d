// Teardown from the live system, never stopping at the first error; "not found" counts
// as done, so running it twice is fine. Order matters:
//   1. processes inside the namespace first: `ip netns del` does not kill them, and a
//      live dnsmasq would keep the namespace (and its veths on the bridges) alive;
//   2. the namespace, which takes lan0/wan0 (and so any veth pair) with it, asynchronously:
//      a start right after waits for the macvlans' MACs (apply.ts);
//   3. host-side veth ends still present (deletion is asynchronous, or a half-built start);
//   4. the bridges' fdb entries for the macvlans, which outlive them (from the state file,
//      plus any the caller saw left behind);
//   5. vnat's files and uplink claims last, so a retry still finds what to remove.
import { kernelNames } from "../core/names.ts";
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

/** "not found" is success: teardown and undo may run twice. */
export async function deleteNetns(runner: Runner, netns: string): Promise<void> {
  const r = await runner.run("ip", ["netns", "del", netns]);
  if (r.exitCode !== 0 && netnsExists(netns)) throw new Error(`delete namespace "${netns}": ${firstLine(r.stderr)}`);
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
