// What one probe of a vnat namespace saw. The probe is ONE `ip -n NS -j -batch -` process:
// `addr show`, `route show default` (one JSON array a line), then `netns exec NS nft list
// ruleset` (text). This module parses that output. Pure.

import { globalAddresses6 } from "./inet6.ts";

export interface InsideLink {
  name: string;
  /** administratively up (IFF_UP) */
  up: boolean;
  operstate: string;
  mac: string | null;
  /** IPv4 addresses as A.B.C.D/N */
  addresses: string[];
  /** global IPv6 addresses, canonical ADDR/N (issue 17, inet6.ts); absent when not read */
  addresses6?: string[];
}

export interface NetnsView {
  links: InsideLink[];
  defaultRoute: { gateway: string | null; dev: string | null } | null;
  /** the IPv6 default route (issue 17, inet6.ts); absent when not read (the one-process probe) */
  defaultRoute6?: { gateway: string | null; dev: string | null } | null;
  /** `nft list ruleset` as printed; "" when the namespace has no ruleset */
  ruleset: string;
}

interface IpAddrJson {
  ifname?: string;
  flags?: string[];
  operstate?: string;
  address?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
}

interface IpRouteJson {
  dst?: string;
  gateway?: string;
  dev?: string;
}

/** Lines of the batch before the nft listing are JSON arrays; everything after is nft text. */
export const NETNS_PROBE_LINES = ["addr show", "route show default"];

export function parseNetnsProbe(stdout: string): NetnsView {
  const lines = stdout.split("\n");
  const [addrLine, routeLine] = lines;
  if (addrLine === undefined || !addrLine.startsWith("[") || routeLine === undefined || !routeLine.startsWith("["))
    throw new Error(`unexpected output from ip: ${JSON.stringify(stdout.slice(0, 80))}`);
  const addrs = JSON.parse(addrLine) as IpAddrJson[];
  const routes = JSON.parse(routeLine) as IpRouteJson[];
  const links = addrs
    .filter((a) => a.ifname !== undefined)
    .map((a) => ({
      name: a.ifname!,
      up: (a.flags ?? []).includes("UP"),
      operstate: a.operstate ?? "UNKNOWN",
      mac: a.address ?? null,
      addresses: (a.addr_info ?? [])
        .filter((i) => i.family === "inet" && i.local !== undefined)
        .map((i) => `${i.local}/${i.prefixlen ?? 32}`),
      addresses6: globalAddresses6(a.addr_info ?? []),
    }));
  const def = routes.find((r) => r.dst === "default" || r.dst === undefined);
  return {
    links,
    defaultRoute: def ? { gateway: def.gateway ?? null, dev: def.dev ?? null } : null,
    ruleset: lines.slice(2).join("\n").trim(),
  };
}

/**
 * Splits the output of `ip -o -force -batch -` over lines `netns exec NS nft list ruleset`
 * and `link show dev lo`, alternating (one pair per namespace), into each namespace's
 * ruleset; a namespace whose nft line failed ("Command failed -:N" on stderr) gets an error.
 */
export function parseRulesetBatch(
  stdout: string,
  stderr: string,
  count: number,
): Array<{ ruleset: string } | { error: string }> {
  // ip prints a command's own error, then "Command failed -:N"
  const failed = new Map<number, string>();
  let last = "";
  for (const line of stderr.split("\n")) {
    const m = /^Command failed -:(\d+)/.exec(line);
    if (m) failed.set(Number(m[1]), last || "nft failed");
    else if (line.trim() !== "") last = line.trim();
  }
  // the text before the k-th separator is the k-th namespace's; what follows the last is none's
  const parts = stdout.split(/^\d+: lo: .*\n?/m).slice(0, -1);
  return Array.from({ length: count }, (_, i) => {
    const error = failed.get(2 * i + 1);
    if (error !== undefined) return { error };
    const text = parts[i];
    return text === undefined ? { error: "output of ip -batch ended early" } : { ruleset: text.trim() };
  });
}
