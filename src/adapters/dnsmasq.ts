// dnsmasq is owned through its pid file and checked by its command line before any
// signal (Neutron's ProcessManager), so a recycled pid is never hit.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { signal } from "../exec/run.ts";
import { readIfExists } from "./store/files.ts";
import { sleep } from "./async.ts";

export async function readPid(pidFile: string): Promise<number | undefined> {
  const text = await readIfExists(pidFile);
  const pid = Number.parseInt(text?.trim() ?? "", 10);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/** True when PID is a live dnsmasq started with this pid file. */
export async function isOurDnsmasq(pid: number, pidFile: string): Promise<boolean> {
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0");
    return argv.some((a) => a.endsWith("dnsmasq")) && argv.includes(`--pid-file=${pidFile}`);
  } catch {
    return false;
  }
}

export async function dnsmasqPid(pidFile: string): Promise<number | undefined> {
  const pid = await readPid(pidFile);
  return pid !== undefined && (await isOurDnsmasq(pid, pidFile)) ? pid : undefined;
}

export const isAlive = (pid: number): boolean => signal(pid, 0);

/** SIGTERM, wait up to waitMs, then SIGKILL. Resolves once the process is gone. */
export async function terminate(pid: number, waitMs = 1000): Promise<void> {
  if (!signal(pid, "SIGTERM")) return;
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid) || isZombieOrGone(pid)) return;
    await sleep(5);
  }
  signal(pid, "SIGKILL"); // false: already gone
}

function isZombieOrGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}
