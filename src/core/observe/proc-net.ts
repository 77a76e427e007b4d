// A namespace's links, addresses and routes as /proc/PID/net and the namespace's own sysfs
// (seen through /proc/PID/root of a process that `ip netns exec` started in it) show them:
// file reads instead of an `ip` process per namespace. Pure parsers; exec/probe/netns.ts
// falls back to `ip` whenever these files cannot answer for sure.

export interface ProcRoute {
  iface: string;
  dest: number;
  gateway: number;
  mask: number;
}

const RTF_UP = 0x1;

/** /proc/net/route prints each address as the host-order hex of a network-order word. */
function wordToIp(hex: string, littleEndian: boolean): number {
  const n = Number.parseInt(hex, 16) >>> 0;
  if (!littleEndian) return n;
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

/** The main routing table of /proc/PID/net/route (routes that are up). */
export function parseRoutes(text: string, littleEndian = true): ProcRoute[] {
  const out: ProcRoute[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || (Number.parseInt(f[3]!, 16) & RTF_UP) === 0) continue;
    out.push({
      iface: f[0]!,
      dest: wordToIp(f[1]!, littleEndian),
      gateway: wordToIp(f[2]!, littleEndian),
      mask: wordToIp(f[7]!, littleEndian),
    });
  }
  return out;
}

/** Every local IPv4 address ("/32 host LOCAL" leaves of /proc/PID/net/fib_trie), once each. */
export function parseLocalAddresses(fibTrie: string): string[] {
  const out = new Set<string>();
  let leaf: string | undefined;
  for (const line of fibTrie.split("\n")) {
    const m = /^\s*\|-- (\d+\.\d+\.\d+\.\d+)$/.exec(line);
    if (m) leaf = m[1];
    else if (leaf && /^\s*\/32 host LOCAL$/.test(line)) out.add(leaf);
  }
  return [...out];
}

const ipToNum = (ip: string): number => ip.split(".").reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0);
const numToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const prefixOf = (mask: number): number => mask.toString(2).replace(/0/g, "").length;

/**
 * A/N per interface: each local address goes to the interface whose connected route (no
 * gateway) covers it most specifically. An address without one (a /32, a noprefixroute
 * address) cannot be placed: `complete` is false and the caller asks `ip` instead.
 */
export function addressesByIface(
  locals: string[],
  routes: ProcRoute[],
): { byIface: Map<string, string[]>; complete: boolean } {
  const byIface = new Map<string, string[]>();
  let complete = true;
  for (const a of locals) {
    const n = ipToNum(a);
    if (n >>> 24 === 127) continue;
    const best = routes
      .filter((r) => r.gateway === 0 && r.mask !== 0 && (n & r.mask) >>> 0 === r.dest)
      .sort((x, y) => prefixOf(y.mask) - prefixOf(x.mask))[0];
    if (!best) {
      complete = false;
      continue;
    }
    byIface.set(best.iface, [...(byIface.get(best.iface) ?? []), `${a}/${prefixOf(best.mask)}`]);
  }
  return { byIface, complete };
}

export function defaultRouteOf(routes: ProcRoute[]): { gateway: string | null; dev: string | null } | null {
  const r = routes.find((x) => x.dest === 0 && x.mask === 0);
  return r ? { gateway: r.gateway === 0 ? null : numToIp(r.gateway), dev: r.iface } : null;
}

/** Interface names of /proc/PID/net/dev. */
export function parseNetDevNames(text: string): string[] {
  return text
    .split("\n")
    .slice(2)
    .map((l) => /^\s*([^:\s]+):/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}
