// The event counts behind vnat's metrics (core/metrics/event-stats.ts), in /run/vnat/stats/:
// hook/NAME.json per network (written by the hook under the network's lock, so never by two
// processes at once), hook/NAME.cached (one byte appended by the shell hook per `start begin`
// it answers from its cache: the file's size is the count) and reconcile.json. Gone at
// reboot with /run, as the counters of any process are when it restarts.
import { appendFile, readdir, stat } from "node:fs/promises";
import {
  addEvent,
  addReconcileRun,
  mergeEventStats,
  parseEventStats,
  parseReconcileStats,
  type EventStats,
  type ReconcileStats,
} from "../../core/metrics/event-stats.ts";
import type { Roots } from "../../core/paths.ts";
import { readIfExists, writeAtomic } from "./files.ts";

export const statsDir = (roots: Roots): string => `${roots.run}/stats`;
export const hookStatsPath = (roots: Roots, name: string): string => `${statsDir(roots)}/hook/${name}.json`;
export const hookCachedPath = (roots: Roots, name: string): string => `${statsDir(roots)}/hook/${name}.cached`;
export const reconcileStatsPath = (roots: Roots): string => `${statsDir(roots)}/reconcile.json`;

/** Adds one finished event of network NAME. The caller holds NAME's lock. Never throws: a count is not worth an event. */
export async function recordHookEvent(
  roots: Roots,
  name: string,
  event: string,
  result: string,
  seconds: number,
): Promise<void> {
  try {
    const path = hookStatsPath(roots, name);
    const next = addEvent(parseEventStats(await readIfExists(path)), event, result, seconds);
    await writeAtomic(path, JSON.stringify(next) + "\n", 0o600);
  } catch {
    /* metrics only */
  }
}

/** Parsed stats files by path, with the mtime and size they were read at (a resident reader re-reads only changed files). */
export type HookStatsCache = Map<string, { mtimeMs: number; size: number; stats: EventStats }>;

/**
 * Every network's hook stats summed, and the shell hook's cached answers counted. With CACHE,
 * a file whose mtime and size did not change since the last call is not read again: the
 * files outlive their networks until reboot, so a host that made many networks has many.
 */
export async function readHookStats(
  roots: Roots,
  cache: HookStatsCache = new Map(),
): Promise<{ stats: EventStats; cached: number }> {
  const dir = `${statsDir(roots)}/hook`;
  const files = await readdir(dir).catch(() => [] as string[]);
  const json = files.filter((f) => f.endsWith(".json"));
  const cachedFiles = files.filter((f) => f.endsWith(".cached"));
  const seen = new Set<string>();
  const [all, sizes] = await Promise.all([
    Promise.all(
      json.map(async (f) => {
        const path = `${dir}/${f}`;
        seen.add(path);
        const st = await stat(path).catch(() => undefined);
        if (!st) return parseEventStats(undefined);
        const hit = cache.get(path);
        if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.stats;
        const stats = parseEventStats(await readIfExists(path).catch(() => undefined));
        cache.set(path, { mtimeMs: st.mtimeMs, size: st.size, stats });
        return stats;
      }),
    ),
    Promise.all(
      cachedFiles.map((f) =>
        stat(`${dir}/${f}`).then(
          (s) => s.size,
          () => 0,
        ),
      ),
    ),
  ]);
  for (const path of cache.keys()) if (!seen.has(path)) cache.delete(path);
  return { stats: mergeEventStats(all), cached: sizes.reduce((a, b) => a + b, 0) };
}

/** Counts one `start begin` answered from the cache, as the shell hook does (tests; the shell appends itself). */
export async function recordCachedStart(roots: Roots, name: string): Promise<void> {
  await appendFile(hookCachedPath(roots, name), ".");
}

export async function readReconcileStats(roots: Roots): Promise<ReconcileStats> {
  return parseReconcileStats(await readIfExists(reconcileStatsPath(roots)).catch(() => undefined));
}

/**
 * Adds one finished reconcile run. Two runs at once may lose one's counts (read, add, rename):
 * a metric, never a repair, is what is lost. Never throws.
 */
export async function recordReconcileRun(
  roots: Roots,
  now: number,
  repairs: ReadonlyArray<{ kind: string; result: string }>,
): Promise<void> {
  try {
    const path = reconcileStatsPath(roots);
    const next = addReconcileRun(await readReconcileStats(roots), now, repairs);
    await writeAtomic(path, JSON.stringify(next) + "\n", 0o600);
  } catch {
    /* metrics only */
  }
}
