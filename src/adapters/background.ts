// Background builds (config "start": "background"): the shell hook writes the hook data to
// /run/vnat/starting/NAME.xml and starts Node on it; that process writes NAME.pid ("PID
// STARTTIME"), builds, records a failure in /run/vnat/failed/NAME, and removes both files.
// Every other event for the network, and `vnat reconcile`, waits while a build is in flight.
import { mkdir, readdir, stat, unlink } from "node:fs/promises";
import { conflict } from "../core/errors.ts";
import { cacheEntryName, cacheEntryNetwork } from "../core/hookcache.ts";
import { STOP_BACKGROUND, buildPaths, hookCacheDir, netPaths, stopPaths, type Roots } from "../core/paths.ts";
import { readIfExists, writeAtomic } from "./files.ts";
import { isStaleHolder, processStart } from "./lock.ts";

/** The shell starts Node right after it writes the XML: a build with no pid yet this long after is dead. */
const NO_PID_GRACE_MS = 15_000;

const mtime = (path: string): Promise<number | undefined> =>
  stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );

/** True while a background operation with these files runs (or is about to: Node is still starting). */
async function inFlight(p: { xml: string; pid: string }, now: number): Promise<boolean> {
  const xmlTime = await mtime(p.xml);
  if (xmlTime === undefined) return false;
  const holder = await readIfExists(p.pid);
  const pidTime = await mtime(p.pid);
  // a pid file older than the XML belongs to an earlier run
  if (holder !== undefined && pidTime !== undefined && pidTime >= xmlTime) return !isStaleHolder(holder);
  return now - xmlTime < NO_PID_GRACE_MS;
}

/** True while a background build of NAME runs (or is about to: Node is still starting). */
export const buildInFlight = (roots: Roots, name: string, now = Date.now()): Promise<boolean> =>
  inFlight(buildPaths(roots, name), now);

/** True while a background teardown of NAME runs. */
export const stopInFlight = (roots: Roots, name: string, now = Date.now()): Promise<boolean> =>
  inFlight(stopPaths(roots, name), now);

async function waitWhile(busy: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; await busy(); delay = Math.min(delay * 2, 50)) {
    if (Date.now() >= deadline) throw conflict(`${what} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Waits until no background build of NAME is in flight. */
export const waitForBuild = (roots: Roots, name: string, timeoutMs = 60_000): Promise<void> =>
  waitWhile(() => buildInFlight(roots, name), timeoutMs, `network "${name}": its namespace is still being built`);

/** Waits until no background teardown of NAME is in flight (a start must not overlap it). */
export const waitForStop = (roots: Roots, name: string, timeoutMs = 60_000): Promise<void> =>
  waitWhile(() => stopInFlight(roots, name), timeoutMs, `network "${name}": its namespace is still being removed`);

/**
 * The background teardown's wait: only for a build that began before this stop was asked
 * for. A build that began after it is a new start of the network, and that one waits for
 * the teardown (so each waiting on the other would deadlock).
 */
export async function waitForEarlierBuild(roots: Roots, name: string, timeoutMs = 60_000): Promise<void> {
  const asked = (await mtime(stopPaths(roots, name).xml)) ?? Date.now();
  const earlier = async (): Promise<boolean> => {
    const began = await mtime(buildPaths(roots, name).xml);
    return began !== undefined && began < asked && (await buildInFlight(roots, name));
  };
  await waitWhile(earlier, timeoutMs, `network "${name}": its namespace is still being built`);
}

/** A background operation's own process claims it as running: "PID STARTTIME". */
const markRunning = (p: { pid: string }): Promise<void> =>
  writeAtomic(p.pid, `${process.pid} ${processStart(process.pid) ?? "?"}\n`);

/** Ends a background operation: its in-flight files go. */
async function clearRunning(p: { xml: string; pid: string }): Promise<void> {
  await unlink(p.xml).catch(() => {});
  await unlink(p.pid).catch(() => {});
}

/** The background teardown's own process: claims the stop as running. */
export const markStopping = (roots: Roots, name: string): Promise<void> => markRunning(stopPaths(roots, name));

export const finishStopping = (roots: Roots, name: string): Promise<void> => clearRunning(stopPaths(roots, name));

/**
 * Lets the shell hook hand this network's `stopped` to the background (config "start":
 * "background"); the marker lives in the state directory, so a teardown removes it.
 */
export async function allowBackgroundStop(roots: Roots, name: string, allow: boolean): Promise<void> {
  const marker = `${netPaths(roots, name).dir}/${STOP_BACKGROUND}`;
  if (!allow) return unlink(marker).catch(() => {});
  await mkdir(stopPaths(roots, name).dir, { recursive: true, mode: 0o700 });
  await writeAtomic(marker, "");
}

/** The background build's own process: claims the build as running. */
export const markBuilding = (roots: Roots, name: string): Promise<void> => markRunning(buildPaths(roots, name));

/** Ends the build: the failure (if any) is recorded before the in-flight files go. */
export async function finishBuilding(roots: Roots, name: string, failure?: string): Promise<void> {
  const p = buildPaths(roots, name);
  if (failure !== undefined) await writeAtomic(p.failed, failure + "\n");
  await clearRunning(p);
}

export async function buildFailure(roots: Roots, name: string): Promise<string | undefined> {
  return (await readIfExists(buildPaths(roots, name).failed))?.trim();
}

export async function clearBuildFailure(roots: Roots, name: string): Promise<void> {
  await unlink(buildPaths(roots, name).failed).catch(() => {});
}

/** Records a validated document for the shell's fast path; drops the network's older entries. */
export async function writeCacheEntry(roots: Roots, name: string, key: string, entry: string): Promise<void> {
  const dir = hookCacheDir(roots);
  await mkdir(buildPaths(roots, name).dir, { recursive: true, mode: 0o700 });
  const file = cacheEntryName(name, key);
  await writeAtomic(`${dir}/${file}`, entry);
  await dropCacheEntries(roots, (network, f) => network === name && f !== file);
}

/** Removes every entry DROP picks, by its network's name and file name. */
async function dropCacheEntries(roots: Roots, drop: (network: string, file: string) => boolean): Promise<void> {
  const dir = hookCacheDir(roots);
  const files = await readdir(dir).catch(() => [] as string[]);
  const picked = files.filter((f) => {
    const network = cacheEntryNetwork(f);
    return network !== undefined && drop(network, f);
  });
  await Promise.all(picked.map((f) => unlink(`${dir}/${f}`).catch(() => {})));
}

/** `vnat net delete`, `vnat demo --cleanup`: the network's remembered documents go with it. */
export const removeCacheEntries = (roots: Roots, name: string): Promise<void> =>
  dropCacheEntries(roots, (network) => network === name);

/**
 * Waits for NAME's background build; resolves to its recorded failure, or undefined when
 * the namespace is up (what `virsh net-start` alone does not wait for).
 */
export async function awaitBuilt(roots: Roots, name: string, timeoutMs = 60_000): Promise<string | undefined> {
  await waitForBuild(roots, name, timeoutMs);
  return buildFailure(roots, name);
}

/** `vnat reconcile`: removes remembered documents of every network not in KNOWN. */
export async function pruneCacheEntries(roots: Roots, known: string[]): Promise<void> {
  const keep = new Set(known);
  await dropCacheEntries(roots, (network) => !keep.has(network));
}
