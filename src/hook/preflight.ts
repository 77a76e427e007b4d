// Checks at `start begin` that the host can take this network: vnat touches nothing here,
// because a failure at `started` makes libvirt leak its bridge.
import { conflict, invalid } from "../core/errors.ts";
import { formatIp } from "../core/ipv4.ts";
import type { Roots } from "../core/paths.ts";
import type { NetSpec } from "../core/spec.ts";
import { claimHolderLive } from "../adapters/claims.ts";
import { claimOwner, readState } from "../adapters/state.ts";
import { isBridge, linkExists, netnsExists } from "../adapters/sysfs.ts";

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

  // vnat's own leftovers (a crash, a lost `stopped`) are cleaned at `started`; anything
  // else holding vnat's names belongs to somebody else and is not ours to remove.
  const ours = (await readState(roots, spec.name)) !== undefined;
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
