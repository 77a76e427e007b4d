// The files behind libvirt's view of a vnat network's leases (core/plan/lease-status.ts): the
// network's --dhcp-script, root's alone in its state directory, and libvirt's status file
// for the network's own bridge, which only that script writes and only vnat removes.
import { rm } from "node:fs/promises";
import { leaseScriptPath, leaseStatusPath, leaseStatusTemp, renderLeaseScript } from "../../core/plan/lease-status.ts";
import type { NetPaths } from "../../core/paths.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { writeAtomic } from "./files.ts";

/**
 * Before dnsmasq (re)starts: its script in place (with DHCP), and no status file from an
 * earlier run, which a reboot or a crash may have left (a started dnsmasq replays every lease
 * its lease file still holds to the script). No file is what libvirt reads as no leases.
 */
export async function prepareLeaseStatus(
  spec: Pick<NetSpec, "lanBridge" | "dhcp">,
  paths: Pick<NetPaths, "dir" | "leases">,
): Promise<void> {
  if (spec.dhcp) await writeAtomic(leaseScriptPath(paths), renderLeaseScript(spec, paths), 0o700);
  await removeLeaseStatus(spec.lanBridge);
}

/** Removes the status file libvirt reads for BRIDGE (and the script's temp file); none is fine. */
export async function removeLeaseStatus(bridge: string): Promise<void> {
  await rm(leaseStatusTemp(bridge), { force: true });
  await rm(leaseStatusPath(bridge), { force: true });
}
