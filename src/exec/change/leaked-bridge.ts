// libvirt 9.0 keeps a network's bridge (and its own firewall rules) when the `started` hook
// fails or is killed, and then cannot start the network again: "error creating bridge
// interface …: File exists". vnat knows when that happened — a `started` reached it and
// neither succeeded nor was followed by a stop (NAME.begun, core/paths.ts) — and at the next
// `start begin`, when libvirt is about to create the bridge, removes it. Only a bridge with
// no ports goes (one with ports is somebody's, and libvirt's "File exists" says so); libvirt's
// firewall rules are the host's, and stay (docs/DESIGN.md).
import { existsSync, readdirSync } from "node:fs";
import { conflict } from "../../core/errors.ts";
import { netLockPaths, type Roots } from "../../core/paths.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { hasState } from "../../adapters/store/state.ts";
import { isBridge, linkExists, netnsExists } from "../../adapters/sysfs.ts";
import { firstLine, type Runner } from "../run.ts";
import { teardownNetwork } from "./teardown.ts";
import { unlink } from "node:fs/promises";

/** True when a bridge left by a failed start of SPEC's network was removed. Runs under the network's lock. */
export async function removeLeakedBridge(runner: Runner, roots: Roots, spec: NetSpec): Promise<boolean> {
  const begun = netLockPaths(roots, spec.name).begun;
  if (!existsSync(begun)) return false;
  const bridge = spec.lanBridge;
  // what the failed build left inside first: its macvlan sits on the bridge
  if ((await hasState(roots, spec.name)) || netnsExists(spec.names.netns)) {
    const errors = await teardownNetwork(runner, roots, spec.name);
    if (errors.length) throw conflict(`network "${spec.name}": leftovers of a failed start: ${errors.join("; ")}`);
  }
  if (!linkExists(bridge)) {
    await unlink(begun).catch(() => {});
    return false;
  }
  if (!isBridge(bridge) || readdirSync(`/sys/class/net/${bridge}/brif`).length > 0) return false;
  const r = await runner.run("ip", ["link", "del", "dev", bridge]);
  if (r.exitCode !== 0 && linkExists(bridge))
    throw conflict(`network "${spec.name}": delete bridge "${bridge}" left by a failed start: ${firstLine(r.stderr)}`);
  await unlink(begun).catch(() => {});
  return true;
}
