// Duplicate-address detection for an uplink: `arping -D` (iputils) from inside the
// namespace sends ARP probes with source 0.0.0.0 for the uplink address; any answer comes
// from another host that holds it. Takes about a second, so status runs it only with
// --probe; doctor always does.
import { UPLINK_IF } from "../../core/names.ts";
import type { Runner } from "../run.ts";

/** The MAC of a host that answers for ADDRESS on the provider network, or null. */
export async function probeDuplicate(runner: Runner, netns: string, address: string): Promise<string | null> {
  const r = await runner.run(
    "ip",
    ["netns", "exec", netns, "arping", "-D", "-I", UPLINK_IF, "-c", "2", "-w", "3", address],
    { timeoutMs: 8000 },
  );
  if (r.exitCode === 0) return null;
  const mac = /\[([0-9A-Fa-f:]{17})\]/.exec(r.stdout)?.[1];
  if (mac) return mac.toLowerCase();
  if (/Received [1-9]/.test(r.stdout)) return "unknown";
  throw new Error(`arping in ${netns}: ${(r.stderr || r.stdout).trim().split("\n")[0] ?? `exit ${r.exitCode}`}`);
}

/**
 * How long `start begin` waits for another host to answer for an address (the shell's fast
 * path uses the same: hooks/network). Measured here: arping needs ~10–16 ms from its start to
 * a neighbour's answer on an idle machine; 15 ms caught 18 of 20, 30 ms all 20.
 */
export const BEGIN_DAD_WAIT_MS = 30;

/**
 * Duplicate-address detection before an address goes up: one `arping -D` probe (sender
 * 0.0.0.0) sent by the provider bridge itself, answered within WAIT_MS or not at all (the
 * probe is killed then; a host on the same segment answers in well under a millisecond).
 * Replies from OWN_MAC are this network's own previous uplink, still freeing. Resolves to the
 * MAC of another host that answers for ADDRESS, or null.
 */
export async function probeDuplicateOnBridge(
  runner: Runner,
  bridge: string,
  address: string,
  ownMac: string,
  waitMs = BEGIN_DAD_WAIT_MS,
): Promise<string | null> {
  const r = await runner.run("arping", ["-D", "-c", "1", "-w", "1", "-I", bridge, address], { timeoutMs: waitMs });
  if (r.exitCode !== 1) return null; // no answer (0), killed at the deadline, or arping missing (the build reports that)
  const macs = [...r.stdout.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase());
  const other = macs.find((m) => m !== ownMac.toLowerCase());
  return other ?? (macs.length ? null : "unknown");
}
