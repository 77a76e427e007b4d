// A namespace's global IPv6 addresses per link (issue 17), from either probe path: `ip -j addr`
// (netns-view.ts) or /proc/PID/net/if_inet6 (exec/probe/netns.ts's fast path). Canonical
// text "ADDR/PREFIX" (core/ipv6.ts), so they compare with a spec's. Pure.
import { formatIp6, parseIp6 } from "../ipv6.ts";

/** /proc/net/if_inet6 lines: hex address, ifindex, prefix (hex), scope (hex: 00 global), flags, device. */
export function parseIfInet6ByDev(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-f]{32}$/.test(f[0]!) || f[3] !== "00") continue;
    const dev = f[5]!;
    const cidr = `${formatIp6(BigInt(`0x${f[0]}`))}/${Number.parseInt(f[2]!, 16)}`;
    out.set(dev, [...(out.get(dev) ?? []), cidr]);
  }
  return out;
}

/** `ip -j addr`'s addr_info entries of one link: its global IPv6 addresses. */
export function globalAddresses6(
  info: ReadonlyArray<{ family?: string; local?: string; prefixlen?: number; scope?: string }>,
): string[] {
  return info.flatMap((i) => {
    if (i.family !== "inet6" || i.scope !== "global" || i.local === undefined) return [];
    const ip = parseIp6(i.local);
    return ip === undefined ? [] : [`${formatIp6(ip)}/${i.prefixlen ?? 128}`];
  });
}

/**
 * The IPv6 default route from /proc/net/ipv6_route (destination ::/0 with a next hop; the
 * kernel's own unreachable route on lo left out): null when there is none.
 */
export function parseIpv6DefaultRoute(text: string): { gateway: string | null; dev: string | null } | null {
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[0] !== "0".repeat(32) || f[1] !== "00" || f[9] === "lo") continue;
    const hop = BigInt(`0x${f[4]}`);
    return { gateway: hop === 0n ? null : formatIp6(hop), dev: f[9]! };
  }
  return null;
}
