// Checks at `start begin` that the host can take this network: vnat touches nothing here,
// because a failure at `started` makes libvirt leak its bridge.
import { conflict, invalid } from "../core/errors.ts";
import { formatIp } from "../core/ipv4.ts";
import type { Roots } from "../core/paths.ts";
import type { NetSpec } from "../core/input/spec.ts";
import { claimHolderLive } from "../adapters/store/claims.ts";
import { claimOwner, hasState } from "../adapters/store/state.ts";
import { isBridge, linkExists, netnsExists } from "../adapters/sysfs.ts";
import { linkOwner, linksRecordedByOthers } from "../exec/change/teardown.ts";
import { preflight6 } from "./preflight6.ts";
import { refuseSegmentProblems } from "../exec/probe/segments.ts";

export async function preflight(spec: NetSpec, roots: Roots): Promise<void> {
  const where = `network "${spec.name}"`;
  const { bridge } = spec.uplink;
  if (!linkExists(bridge))
    throw invalid(
      `${where}: provider bridge "${bridge}" does not exist (create it, or name an existing bridge in <vnat:uplink bridge=…>)`,
    );
  if (!isBridge(bridge)) throw invalid(`${where}: provider "${bridge}" exists but is not a bridge`);

  const uplink = formatIp(spec.uplink.address.address);
  const owner = await claimOwner(roots, bridge, uplink);
  if (owner !== undefined && owner !== spec.name && claimHolderLive(roots, owner))
    throw conflict(
      `${where}: uplink ${uplink} on bridge "${bridge}" is already used by active vnat network "${owner}"`,
    );
  for (const f of spec.floating ?? []) {
    const ip = formatIp(f.address);
    const holder = await claimOwner(roots, bridge, ip);
    if (holder !== undefined && holder !== spec.name && claimHolderLive(roots, holder))
      throw conflict(
        `${where}: floating ${ip} on bridge "${bridge}" is already used by active vnat network "${holder}"`,
      );
  }

  await preflight6(spec, roots);
  await refuseNameCollisions(spec, roots);
  await refuseSegmentProblems(spec, roots);

  // vnat's own leftovers (a crash, a lost `stopped`) are cleaned at `started`; anything
  // else holding vnat's names belongs to somebody else and is not ours to remove.
  const ours = await hasState(roots, spec.name);
  if (ours) return;
  const { netns, lanHost, uplinkHost } = spec.names;
  if (netnsExists(netns))
    throw conflict(
      `${where}: namespace "${netns}" already exists and vnat did not create it (remove it or rename the network)`,
    );
  for (const ifname of [lanHost, uplinkHost])
    if (linkExists(ifname))
      throw conflict(`${where}: interface "${ifname}" already exists and vnat did not create it (remove it)`);
}

/**
 * Host link names come from a hash of the network name, so two networks can share one. A
 * name this network would use that a live link holds for another network (its alias
 * "vnat:OTHER", or, for a link an older vnat made without alias, OTHER's state file) is
 * refused here, whether or not this network has state: its teardown would leave that link
 * alone and its build could not make its own. The namespace is named by the network name
 * itself; the LAN MAC is only ever on the network's own bridge, so sharing it collides with
 * nothing (core/names.ts lanMac).
 */
export async function refuseNameCollisions(spec: NetSpec, roots: Roots): Promise<void> {
  let recorded: Map<string, string> | undefined;
  for (const ifname of [spec.names.lanHost, spec.names.uplinkHost]) {
    if (!linkExists(ifname)) continue;
    let owner = linkOwner(ifname);
    if (owner === undefined) {
      recorded ??= await linksRecordedByOthers(roots, spec.name);
      owner = recorded.get(ifname);
    }
    if (owner !== undefined && owner !== spec.name)
      throw conflict(
        `network "${spec.name}": its interface name "${ifname}" collides with network "${owner}"'s (rename one of them)`,
      );
  }
}
