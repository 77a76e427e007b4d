// /etc/netns/vnat-NAME/resolv.conf: what `ip netns exec vnat-NAME` (so `vnat exec NAME`) puts
// over /etc/resolv.conf. vnat owns that one file; anything else an administrator keeps in
// the directory stays, and the directory goes only when it is empty.
import { chmod, mkdir, rm, rmdir } from "node:fs/promises";
import { dirname } from "node:path";
import { netnsResolvConfPath, type Roots } from "../../core/paths.ts";
import { renderResolvConf } from "../../core/plan/resolv.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { writeAtomic } from "./files.ts";

/** /etc/netns and the namespace's directory are searchable and the file readable by all, as /etc is. */
const DIR_MODE = 0o755;
const FILE_MODE = 0o644;

/** Makes DIR (mode 0755 when it makes it: vnat runs with umask 077); an existing one keeps its mode. */
async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: DIR_MODE });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return;
    throw e;
  }
  await chmod(dir, DIR_MODE);
}

/** Writes network SPEC's namespace resolver configuration (atomically: `ip netns exec` may run meanwhile). */
export async function writeNetnsResolvConf(roots: Roots, spec: NetSpec): Promise<void> {
  const { dir, file } = netnsResolvConfPath(roots, spec.names.netns);
  await ensureDir(dirname(dir));
  await ensureDir(dir);
  await writeAtomic(file, renderResolvConf(spec), FILE_MODE);
}

/** Removes it, and its directory when nothing else is in it; "not there" is done. */
export async function removeNetnsResolvConf(roots: Roots, netns: string): Promise<void> {
  const { dir, file } = netnsResolvConfPath(roots, netns);
  await rm(file, { force: true });
  try {
    await rmdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
  }
}
