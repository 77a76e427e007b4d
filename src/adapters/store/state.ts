// vnat's runtime record of each network it runs (/run/vnat/net/NAME/state.json) and its
// uplink claims (/run/vnat/claims/BRIDGE@IP, written complete and link(2)ed into place so
// two networks can never both hold one address). The live system stays the authority:
// these records only say what vnat meant to build and who holds which uplink.
import { randomBytes } from "node:crypto";
import { link, mkdir, readdir, unlink, writeFile } from "node:fs/promises";
import { conflict, invalid, oneLine } from "../../core/errors.ts";
import { validateNetworkName, netnsName } from "../../core/names.ts";
import { claimPath, claimsDir, netPaths, type Roots } from "../../core/paths.ts";
import { parseState, STATE_VERSION, type NetState } from "../../core/input/state-schema.ts";
import { lockNetwork } from "../../exec/netlock.ts";
import { claimHolderLive } from "./claims.ts";
import { readIfExists, removeTree, writeAtomic } from "./files.ts";
import { netnsExists } from "../sysfs.ts";

export type { NetState } from "../../core/input/state-schema.ts";

/** What a network's state file holds: none, a checked state, or a file that fails the schema. */
export type StateRead =
  { kind: "absent" } | { kind: "ok"; state: NetState } | { kind: "unreadable"; error: string; text: string };

/** Network NAME's state file, read and checked against its schema (core/input/state-schema.ts). */
export async function readStateFile(roots: Roots, name: string): Promise<StateRead> {
  const path = netPaths(roots, name).state;
  const text = await readIfExists(path);
  if (text === undefined) return { kind: "absent" };
  try {
    return { kind: "ok", state: parseState(path, name, text) };
  } catch (e) {
    return { kind: "unreadable", error: oneLine(e), text };
  }
}

/**
 * Network NAME's checked state; undefined when it has none. A file that fails the schema
 * throws its one line (VnatError "invalid-input"): teardown, which must remove such a network
 * anyway, reads with readStateFile.
 */
export async function readState(roots: Roots, name: string): Promise<NetState | undefined> {
  const r = await readStateFile(roots, name);
  if (r.kind === "unreadable")
    throw invalid(
      `network "${name}": ${r.error} (stopping or starting the network removes it: virsh net-destroy ${name})`,
    );
  return r.kind === "ok" ? r.state : undefined;
}

/** Whether network NAME has a state file at all (a corrupt one included: it is still vnat's). */
export async function hasState(roots: Roots, name: string): Promise<boolean> {
  return (await readStateFile(roots, name)).kind !== "absent";
}

/** Written whole (temp + rename) with the schema's current version. */
export async function writeState(roots: Roots, state: NetState): Promise<void> {
  const text = JSON.stringify({ version: STATE_VERSION, ...state }, null, 2) + "\n";
  await writeAtomic(netPaths(roots, state.name).state, text, 0o600);
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

/** A claim's temp file, private to one claimant: no "@" (never read as a claim), "~" is in no network name. */
const CLAIM_TMP = ".claim~";

/**
 * Claims BRIDGE@IP for network NAME, whose lock the caller holds (the build runs under it).
 * The claim file is written complete under a private name and link(2)ed into place, so
 * EEXIST means taken and no reader ever sees an empty or partial claim. A claim held by
 * another network is a conflict while that network is live (claimHolderLive: an event of it
 * runs, or its namespace exists); a stale one is broken only under its owner's lock.
 * `_legacyIsLive` is not consulted (src/exec/change/inbound.ts still passes one; drop it there).
 */
export async function claimUplink(
  roots: Roots,
  bridge: string,
  ip: string,
  name: string,
  _legacyIsLive?: (owner: string) => boolean,
): Promise<void> {
  const dir = claimsDir(roots);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = claimPath(roots, bridge, ip);
  const tmp = `${dir}/${CLAIM_TMP}${name}~${process.pid}~${randomBytes(6).toString("hex")}`;
  await writeFile(tmp, name + "\n", { mode: 0o600, flag: "wx" });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const owner = await claimOwner(roots, bridge, ip);
      if (owner === name) return;
      if (owner !== undefined) await breakStaleClaim(roots, bridge, ip, owner);
      // released or broken: try again
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
  throw conflict(`uplink ${ip} on bridge "${bridge}": could not be claimed (other networks keep taking it)`);
}

const claimedBy = (ip: string, bridge: string, owner: string) =>
  conflict(`uplink ${ip} on bridge "${bridge}": already used by active vnat network "${owner}"`);

/**
 * Removes BRIDGE@IP held by OWNER if OWNER is not live, holding OWNER's lock meanwhile (so
 * OWNER cannot start building, and no other claimant breaks it twice). Never waits: the
 * caller holds its own network's lock, and waiting for a second one could deadlock. Throws
 * a conflict when OWNER is live.
 */
async function breakStaleClaim(roots: Roots, bridge: string, ip: string, owner: string): Promise<void> {
  try {
    validateNetworkName(owner);
  } catch {
    throw conflict(
      `uplink ${ip} on bridge "${bridge}": claim file ${claimPath(roots, bridge, ip)} names no network (remove it)`,
    );
  }
  if (claimHolderLive(roots, owner)) throw claimedBy(ip, bridge, owner);
  const lock = await lockNetwork(roots, owner, { wait: false });
  if (lock === undefined) throw claimedBy(ip, bridge, owner); // an event of OWNER runs right now
  try {
    if (netnsExists(netnsName(owner))) throw claimedBy(ip, bridge, owner);
    if ((await claimOwner(roots, bridge, ip)) !== owner) return; // changed meanwhile: the caller looks again
    await unlink(claimPath(roots, bridge, ip)).catch(() => {});
  } finally {
    await lock.release();
  }
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
    if (f.startsWith(`${CLAIM_TMP}${name}~`)) {
      await unlink(`${claimsDir(roots)}/${f}`).catch(() => {}); // left by a claimant that died
      continue;
    }
    if (f.startsWith(CLAIM_TMP)) continue;
    const owner = (await readIfExists(`${claimsDir(roots)}/${f}`))?.trim();
    if (owner === name) await unlink(`${claimsDir(roots)}/${f}`).catch(() => {});
  }
}
