// Cheap observations from /sys and /proc: no process is started, so probing a hundred
// networks costs file reads only. A namespace's conntrack table is read through
// /proc/PID/net of a process inside it (dnsmasq), which shows that namespace's view.
import { readFileSync, readlinkSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Attachments } from "../../core/input/attach.ts";
import type { DnsmasqState, VethState } from "../../core/observe/observed.ts";
import { parseState } from "../../core/input/state-schema.ts";

export function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

export function probeVeth(name: string): VethState {
  const operstate = readText(`/sys/class/net/${name}/operstate`);
  if (operstate === null) return { name, present: false, up: false, operstate: null, master: null };
  let master: string | null = null;
  try {
    master = basename(readlinkSync(`/sys/class/net/${name}/master`));
  } catch {
    /* not enslaved */
  }
  const flags = Number.parseInt(readText(`/sys/class/net/${name}/flags`) ?? "0", 16);
  return { name, present: true, up: (flags & 1) === 1, operstate, master };
}

export function bridgeExists(name: string): boolean {
  try {
    return statSync(`/sys/class/net/${name}/bridge`).isDirectory();
  } catch {
    return false;
  }
}

function inode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

/** PID runs in the named network namespace (same nsfs inode), not in a deleted one. */
export function inNetns(pid: number, netns: string): boolean {
  const nsIno = inode(`/run/netns/${netns}`);
  return nsIno !== null && inode(`/proc/${pid}/ns/net`) === nsIno;
}

/** The argv of PID without argv[0]; null when it is gone. */
export function processArgs(pid: number): string[] | null {
  const text = readText(`/proc/${pid}/cmdline`);
  return text === null
    ? null
    : text
        .split("\0")
        .filter((a) => a !== "")
        .slice(1);
}

/**
 * vnat's dnsmasq of a network: the pid in its pid file, if that process is a dnsmasq started
 * with this pid file (adapters/dnsmasq.ts's rule, read synchronously: procfs reads are
 * cheaper than the promises around them).
 */
export function ourDnsmasqPid(pidFile: string): number | null {
  const pid = Number.parseInt(readText(pidFile) ?? "", 10);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  const argv = readText(`/proc/${pid}/cmdline`)?.split("\0") ?? [];
  return argv.some((a) => a.endsWith("dnsmasq")) && argv.includes(`--pid-file=${pidFile}`) ? pid : null;
}

export function probeDnsmasq(pidFile: string, netns: string, expectedArgs: string[] | null): DnsmasqState {
  const pid = ourDnsmasqPid(pidFile);
  if (pid === null) return { pid, inNamespace: false, argsMatch: false };
  const inNamespace = inNetns(pid, netns);
  const args = processArgs(pid);
  const argsMatch = expectedArgs === null || (args !== null && args.join("\0") === expectedArgs.join("\0"));
  return { pid, inNamespace, argsMatch };
}

/** Entries in the conntrack table of PID's network namespace (first column of net/stat/nf_conntrack). */
export function conntrackCount(pid: number): number | null {
  const text = readText(`/proc/${pid}/net/stat/nf_conntrack`);
  const first = text?.split("\n")[1]?.trim().split(/\s+/)[0];
  return first && /^[0-9a-f]+$/i.test(first) ? Number.parseInt(first, 16) : null;
}

/** The phase, start time and attachments in network NAME's state.json (adapters/store/state.ts writes it), when it passes its schema. */
export function readStateSync(
  path: string,
  name: string,
): { phase: string; startedAt: string; attach?: Attachments } | undefined {
  const text = readText(path);
  if (text === null) return undefined;
  try {
    const { phase, startedAt, attach } = parseState(path, name, text);
    return { phase, startedAt, ...(attach ? { attach } : {}) };
  } catch {
    return undefined;
  }
}
