// The shell hook's memo of validated documents (/run/vnat/hook-cache/NAME.HASH,
// core/hookcache.ts): written after Node validated a document, dropped with the network.
import { mkdir, readdir, unlink } from "node:fs/promises";
import { cacheEntryName, cacheEntryNetwork } from "../../core/hookcache.ts";
import { hookCacheDir, type Roots } from "../../core/paths.ts";
import { writeAtomic } from "./files.ts";

/** Records a validated document for the shell's fast path; drops the network's older entries. */
export async function writeCacheEntry(roots: Roots, name: string, key: string, entry: string): Promise<void> {
  const dir = hookCacheDir(roots);
  await mkdir(dir, { recursive: true, mode: 0o700 });
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

/** `vnat reconcile`: removes remembered documents of every network not in KNOWN. */
export async function pruneCacheEntries(roots: Roots, known: string[]): Promise<void> {
  const keep = new Set(known);
  await dropCacheEntries(roots, (network) => !keep.has(network));
}
