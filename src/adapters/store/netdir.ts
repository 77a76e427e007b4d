// Modes of what vnat keeps under its run directory. vnat runs with umask 077, so whatever
// it (or a dnsmasq it starts) creates is root's alone. The one exception is dnsmasq's way
// to its hosts file: dnsmasq drops to an unprivileged user and re-reads the file on SIGHUP,
// so the directories on the way may be traversed (never listed) and the file read.
import { chmod, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { netPaths, type Roots } from "../../core/paths.ts";
import { writeAtomic } from "./files.ts";

export const TRAVERSE_ONLY = 0o711;
export const HOSTS_FILE_MODE = 0o644;

/** Creates /run/vnat/net/NAME and sets the modes of it and its parents, whatever existed before. */
export async function ensureNetDir(roots: Roots, name: string): Promise<void> {
  const dir = netPaths(roots, name).dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const d of [roots.run, dirname(dir), dir]) await chmod(d, TRAVERSE_ONLY);
}

/** Writes dnsmasq's --dhcp-hostsfile atomically, readable by dnsmasq's unprivileged user. */
export async function writeHostsFile(path: string, text: string): Promise<void> {
  await writeAtomic(path, text, HOSTS_FILE_MODE);
}

/** Makes sure the hosts file exists (keeping its content) with dnsmasq-readable mode. */
export async function touchHostsFile(path: string): Promise<void> {
  await (await open(path, "a", HOSTS_FILE_MODE)).close();
  await chmod(path, HOSTS_FILE_MODE);
}

/**
 * Creates dnsmasq's lease and log files root-only before dnsmasq starts: it opens them as
 * root and keeps writing through those descriptors after dropping privileges, and it
 * would create them world-readable (it sets umask 022 itself). The leases name guests'
 * MACs and hostnames. (Its pid file it recreates 0644 whatever vnat does: a pid is public.)
 */
export async function prepareDnsmasqFiles(paths: { leases: string; dnsmasqLog: string }): Promise<void> {
  for (const f of [paths.leases, paths.dnsmasqLog]) {
    await (await open(f, "a", 0o600)).close();
    await chmod(f, 0o600);
  }
}
