// The host's own IPv6 addresses (issue 17), which guests of an IPv6 network must not reach
// through their namespace unless isolation opens the host (core/plan/render6.ts, set
// host6_addrs): the twin of host-addrs.ts. Asked only for a network with an IPv6 side.
import { readFile } from "node:fs/promises";
import { formatIp6, isLinkLocal6, parseIp6 } from "../../core/ipv6.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { firstLine, type Runner } from "../run.ts";

/** /proc/net/if_inet6's addresses (32 hex digits, first field), canonical; loopback and link-local left out. Pure. */
export function parseIfInet6(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const hex = /^([0-9a-f]{32})\s/.exec(line.trim())?.[1];
    if (!hex) continue;
    const ip = BigInt(`0x${hex}`);
    if (ip !== 1n && !isLinkLocal6(ip)) out.add(formatIp6(ip));
  }
  return [...out].sort();
}

/**
 * The host's IPv6 addresses for network SPEC's ruleset ([] when it has no IPv6 side).
 * VNAT_HOST_NETNS points tests at a namespace that stands in for the host (host-addrs.ts).
 */
export async function probeHostAddresses6(
  runner: Runner,
  spec: NetSpec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  return spec.v6 ? probeAllHostAddresses6(runner, env) : [];
}

/** The host's IPv6 addresses, canonical (loopback and link-local left out); the uplink policy asks for every network. */
export async function probeAllHostAddresses6(runner: Runner, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const ns = env.VNAT_HOST_NETNS;
  if (!ns) return parseIfInet6(await readFile("/proc/net/if_inet6", "utf8").catch(() => ""));
  const r = await runner.run("ip", ["-n", ns, "-j", "-6", "addr", "show"]);
  if (r.exitCode !== 0) throw new Error(`list the IPv6 addresses of namespace ${ns}: ${firstLine(r.stderr)}`);
  const links = JSON.parse(r.stdout || "[]") as Array<{ addr_info?: Array<{ local?: string }> }>;
  const all = links.flatMap((l) => (l.addr_info ?? []).map((a) => (a.local ? parseIp6(a.local) : undefined)));
  return [
    ...new Set(all.filter((ip): ip is bigint => ip !== undefined && ip !== 1n && !isLinkLocal6(ip)).map(formatIp6)),
  ].sort();
}
