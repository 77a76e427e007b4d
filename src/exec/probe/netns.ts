// What a namespace holds, at the least cost. Usually a process vnat started inside it
// (dnsmasq) answers for links, addresses and routes through /proc/PID/net and the
// namespace's sysfs under /proc/PID/root (readNetnsFiles), and only nft runs, many
// namespaces to one `ip -batch` (exec/probe/live-rulesets.ts). Otherwise ONE
// `ip -n NS -j -batch -` per namespace lists links, addresses and the default route, then
// forks `nft list ruleset` inside the same namespace (ip flushes its output before the
// fork, so the order holds).
import { readdirSync, readFileSync } from "node:fs";
import { NETNS_PROBE_LINES, parseNetnsProbe, type InsideLink, type NetnsView } from "../../core/observe/netns-view.ts";
import {
  addressesByIface,
  defaultRouteOf,
  parseLocalAddresses,
  parseNetDevNames,
  parseRoutes,
} from "../../core/observe/proc-net.ts";
import { endianness } from "node:os";
import { parseIfInet6ByDev, parseIpv6DefaultRoute } from "../../core/observe/inet6.ts";
import { firstLine, type Runner } from "../run.ts";

export async function probeNetns(runner: Runner, netns: string): Promise<NetnsView> {
  const lines = [...NETNS_PROBE_LINES, `netns exec ${netns} nft list ruleset`];
  const r = await runner.run("ip", ["-n", netns, "-j", "-batch", "-"], {
    input: lines.join("\n") + "\n",
    timeoutMs: 10_000,
  });
  if (r.exitCode !== 0) throw new Error(`probe namespace ${netns}: ${firstLine(r.stderr)}`);
  return parseNetnsProbe(r.stdout);
}

/**
 * The fast path through PID, a process in the namespace (the caller checked): links,
 * addresses and routes from /proc/PID/net and the namespace's sysfs under /proc/PID/root,
 * read synchronously (tiny procfs files: a promise per read cost more than the read).
 * undefined when the files cannot answer for sure: the sysfs PID sees is not the
 * namespace's (its interfaces differ from /proc/PID/net/dev), or an address cannot be
 * placed on an interface. The ruleset comes from exec/probe/live-rulesets.ts.
 */
export function readNetnsFiles(pid: number): Omit<NetnsView, "ruleset"> | undefined {
  const proc = `/proc/${pid}`;
  try {
    const names = parseNetDevNames(readFileSync(`${proc}/net/dev`, "utf8")).sort();
    if (names.join(",") !== readdirSync(`${proc}/root/sys/class/net`).sort().join(",")) return undefined;
    const routes = parseRoutes(readFileSync(`${proc}/net/route`, "utf8"), endianness() === "LE");
    const placed = addressesByIface(parseLocalAddresses(readFileSync(`${proc}/net/fib_trie`, "utf8")), routes);
    if (!placed.complete) return undefined;
    // no if_inet6: IPv6 is off in this kernel or namespace (no addresses then)
    let inet6 = new Map<string, string[]>();
    let defaultRoute6: NetnsView["defaultRoute6"] = null;
    try {
      inet6 = parseIfInet6ByDev(readFileSync(`${proc}/net/if_inet6`, "utf8"));
      defaultRoute6 = parseIpv6DefaultRoute(readFileSync(`${proc}/net/ipv6_route`, "utf8"));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    const links: InsideLink[] = names.map((name) => {
      const sys = (f: string): string => readFileSync(`${proc}/root/sys/class/net/${name}/${f}`, "utf8").trim();
      return {
        name,
        up: (Number.parseInt(sys("flags"), 16) & 1) === 1,
        operstate: sys("operstate").toUpperCase(),
        mac: sys("address"),
        // loopback's 127/8 is left out (addressesByIface): vnat never judges lo
        addresses: placed.byIface.get(name) ?? [],
        addresses6: inet6.get(name) ?? [],
      };
    });
    return { links, defaultRoute: defaultRouteOf(routes), defaultRoute6 };
  } catch {
    return undefined; // the process went away meanwhile
  }
}
