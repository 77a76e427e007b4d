// The host's own IPv4 addresses, which guests must not reach through their namespace
// unless the network opts in (core/isolation.ts). Read when a ruleset is rendered (start,
// reconcile, status, live edits), so a ruleset always names the addresses of the moment.
import { parseIp } from "../core/ipv4.ts";
import { firstLine, type Runner } from "./run.ts";

/**
 * Every IPv4 address of the host's network namespace except loopback (127/8 never routes
 * from a guest). Tests point VNAT_HOST_NETNS at a namespace of their own that stands in
 * for the host, because a test must never add an address to the real host.
 */
export async function probeHostAddresses(runner: Runner, env: NodeJS.ProcessEnv = process.env): Promise<number[]> {
  const ns = env.VNAT_HOST_NETNS;
  const r = await runner.run("ip", [...(ns ? ["-n", ns] : []), "-j", "-4", "addr", "show"]);
  if (r.exitCode !== 0) throw new Error(`list the host's addresses: ${firstLine(r.stderr)}`);
  const links = JSON.parse(r.stdout || "[]") as Array<{ addr_info?: Array<{ local?: string }> }>;
  const out = new Set<number>();
  for (const l of links)
    for (const a of l.addr_info ?? []) {
      const ip = a.local !== undefined ? parseIp(a.local) : undefined;
      if (ip !== undefined && ip >>> 24 !== 127) out.add(ip);
    }
  return [...out].sort((a, b) => a - b);
}
