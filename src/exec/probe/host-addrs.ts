// The host's own IPv4 addresses, which guests must not reach through their namespace
// unless the network opts in (core/input/isolation.ts). Read when a ruleset is rendered (start,
// reconcile, status, live edits), so a ruleset always names the addresses of the moment.
import { readFile } from "node:fs/promises";
import { parseIp } from "../../core/ipv4.ts";
import { firstLine, type Runner } from "../run.ts";

/**
 * The local addresses in /proc/net/fib_trie: each leaf `|-- A.B.C.D` whose entries include
 * `/32 host LOCAL`. Pure. (Reading the file costs well under a millisecond; `ip -j addr`
 * is a process, 5-20 ms on the hook's critical path.)
 */
export function parseFibTrieLocals(text: string): number[] {
  const out = new Set<number>();
  let leaf: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^\s*\|-- (\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (m) leaf = parseIp(m[1]!);
    else if (/^\s*\+-- /.test(line) || /^\S/.test(line)) leaf = undefined;
    else if (leaf !== undefined && /^\s*\/32 host LOCAL\b/.test(line)) out.add(leaf);
  }
  return [...out];
}

/**
 * Every IPv4 address of the host's network namespace except loopback (127/8 never routes
 * from a guest). Tests point VNAT_HOST_NETNS at a namespace of their own that stands in
 * for the host, because a test must never add an address to the real host.
 */
export async function probeHostAddresses(runner: Runner, env: NodeJS.ProcessEnv = process.env): Promise<number[]> {
  const ns = env.VNAT_HOST_NETNS;
  let all: number[];
  if (ns) {
    const r = await runner.run("ip", ["-n", ns, "-j", "-4", "addr", "show"]);
    if (r.exitCode !== 0) throw new Error(`list the addresses of namespace ${ns}: ${firstLine(r.stderr)}`);
    const links = JSON.parse(r.stdout || "[]") as Array<{ addr_info?: Array<{ local?: string }> }>;
    all = links
      .flatMap((l) => (l.addr_info ?? []).map((a) => (a.local !== undefined ? parseIp(a.local) : undefined)))
      .filter((ip): ip is number => ip !== undefined);
  } else all = parseFibTrieLocals(await readFile("/proc/net/fib_trie", "utf8"));
  return [...new Set(all.filter((ip) => ip >>> 24 !== 127))].sort((a, b) => a - b);
}

/** BRIDGE carries an IPv4 address in the host's namespace (core/input/attach.ts "auto"); a missing bridge has none. */
export async function bridgeHasAddress(runner: Runner, bridge: string): Promise<boolean> {
  const r = await runner.run("ip", ["-j", "-4", "addr", "show", "dev", bridge]);
  if (r.exitCode !== 0) return false;
  const links = JSON.parse(r.stdout || "[]") as Array<{ addr_info?: unknown[] }>;
  return links.some((l) => (l.addr_info ?? []).length > 0);
}
