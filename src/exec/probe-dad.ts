// Duplicate-address detection for an uplink: `arping -D` (iputils) from inside the
// namespace sends ARP probes with source 0.0.0.0 for the uplink address; any answer comes
// from another host that holds it. Takes about a second, so status runs it only with
// --probe; doctor always does.
import { UPLINK_IF } from "../core/names.ts";
import type { Runner } from "./run.ts";

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
