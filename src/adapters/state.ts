// vnat's runtime record of each network it runs (/run/vnat/net/NAME/state.json) and its
// uplink claims (/run/vnat/claims/BRIDGE@IP, created with O_EXCL so two networks can
// never both hold one address). The live system stays the authority: these records only
// say what vnat meant to build and who holds which uplink.
import { mkdir, open, readdir, unlink } from "node:fs/promises";
import type { Attachments } from "../core/attach.ts";
import { conflict } from "../core/errors.ts";
import { claimPath, claimsDir, netPaths, type Roots } from "../core/paths.ts";
import { readIfExists, removeTree, writeAtomic } from "./files.ts";

export interface NetState {
  name: string;
  phase: "starting" | "active";
  lanBridge: string;
  uplinkBridge: string;
  uplink: string;
  netns: string;
  startedAt: string;
  /** how the namespace is attached to its bridges (absent: built before vnat used macvlans, veths) */
  attach?: Attachments;
  /** the spec as built, for status and reconcile */
  spec?: unknown;
}

export async function readState(roots: Roots, name: string): Promise<NetState | undefined> {
  const text = await readIfExists(netPaths(roots, name).state);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as NetState;
  } catch {
    return undefined;
  }
}

export async function writeState(roots: Roots, state: NetState): Promise<void> {
  await writeAtomic(netPaths(roots, state.name).state, JSON.stringify(state, null, 2) + "\n", 0o600);
}

export async function removeNetDir(roots: Roots, name: string): Promise<void> {
  await removeTree(netPaths(roots, name).dir);
}

export async function listStates(roots: Roots): Promise<string[]> {
  try {
    return await readdir(`${roots.run}/net`);
  } catch {
    return [];
  }
}

export async function claimOwner(roots: Roots, bridge: string, ip: string): Promise<string | undefined> {
  return (await readIfExists(claimPath(roots, bridge, ip)))?.trim();
}

/**
 * Claims BRIDGE@IP for a network. A claim held by a network whose namespace is gone
 * (`isLive` false) is stale and taken over.
 */
export async function claimUplink(
  roots: Roots,
  bridge: string,
  ip: string,
  name: string,
  isLive: (owner: string) => boolean,
): Promise<void> {
  await mkdir(claimsDir(roots), { recursive: true, mode: 0o700 });
  const path = claimPath(roots, bridge, ip);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, "wx", 0o600);
      await fh.writeFile(name + "\n");
      await fh.close();
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = await claimOwner(roots, bridge, ip);
    if (owner === name) return;
    if (owner !== undefined && isLive(owner))
      throw conflict(`uplink ${ip} on bridge "${bridge}": already used by active vnat network "${owner}"`);
    await unlink(path).catch(() => {});
  }
  throw conflict(`uplink ${ip} on bridge "${bridge}": could not be claimed (another network keeps taking it)`);
}

export async function releaseUplink(roots: Roots, bridge: string, ip: string, name: string): Promise<void> {
  const owner = await claimOwner(roots, bridge, ip);
  if (owner === name) await unlink(claimPath(roots, bridge, ip)).catch(() => {});
}

/** Every claim a network holds (a crash may have left one the state file does not name). */
export async function releaseAllClaims(roots: Roots, name: string): Promise<void> {
  let files: string[] = [];
  try {
    files = await readdir(claimsDir(roots));
  } catch {
    return;
  }
  for (const f of files) {
    const owner = (await readIfExists(`${claimsDir(roots)}/${f}`))?.trim();
    if (owner === name) await unlink(`${claimsDir(roots)}/${f}`).catch(() => {});
  }
}
