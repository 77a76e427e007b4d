// Small file helpers: atomic writes (temp + rename), tolerant reads and removals.
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** Temp file + rename; the file gets exactly MODE, whatever the umask. */
export async function writeAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Lets other users traverse (not list) DIRS: dnsmasq runs as nobody and reads its hosts file below them. */
export async function ensureSearchable(dirs: string[]): Promise<void> {
  for (const d of dirs) {
    const mode = (await stat(d)).mode & 0o7777;
    if ((mode & 0o011) !== 0o011) await chmod(d, mode | 0o011);
  }
}
