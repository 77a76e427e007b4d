// What `vnat doctor` reads about the kernel's IPv6 (issue 17): every trial runs in a
// throwaway network namespace (`unshare --net`), which is what a vnat namespace starts
// as, so nothing is created on the host and the host's own IPv6 settings are untouched.
import { readFileSync } from "node:fs";
import type { Firewall6Facts, Ipv6KernelFacts } from "../../core/judge/doctor-ipv6.ts";
import { firstLine, type Runner } from "../run.ts";

/**
 * The statements vnat's ip6 table uses, on the addresses of the docs: nat66 (masquerade,
 * snat to the uplink6), nptv6 (a prefix mapped onto a prefix), forwards (dnat to a guest)
 * and a default-deny forward chain that lets ICMPv6 and replies through.
 */
export const NAT6_TRIAL = `table ip6 vnat_doctor6 {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr 2001:db8:100::10 tcp dport 8080 dnat to [fd00::10]:80
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip6 saddr fd00:1::/64 oifname "up0" snat ip6 prefix to 2001:db8:100:1::/64
    ip6 saddr fd00::/64 oifname "up0" snat to 2001:db8:100::10
    ip6 saddr fd00::/64 masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    meta l4proto ipv6-icmp accept
  }
}
`;

const SYSCTL_DISABLED = ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"];

/** Reads a fresh namespace's IPv6 switches, then tries forwarding and the NAT table in fresh namespaces. */
export async function tryKernel6(runner: Runner, cmdline = readCmdline()): Promise<Ipv6KernelFacts> {
  const [disabled, fwd, nat] = await Promise.all([
    runner.run("unshare", ["--net", "sysctl", "-n", ...SYSCTL_DISABLED], { timeoutMs: 10_000 }),
    runner.run("unshare", ["--net", "sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"], { timeoutMs: 10_000 }),
    runner.run("unshare", ["--net", "nft", "-f", "-"], { input: NAT6_TRIAL, timeoutMs: 10_000 }),
  ]);
  const values = disabled.stdout.split("\n").map((l) => l.trim());
  const present = disabled.exitCode === 0 && values.length >= 2;
  return {
    present,
    ...(present ? {} : { presentError: firstLine(disabled.stderr) || `sysctl exit ${disabled.exitCode}` }),
    disabledAll: present && values[0] === "1",
    disabledDefault: present && values[1] === "1",
    forwarding: fwd.exitCode === 0 ? null : firstLine(fwd.stderr) || `sysctl exit ${fwd.exitCode}`,
    nat: nat.exitCode === 0 ? null : firstLine(nat.stderr) || `nft exit ${nat.exitCode}`,
    cmdlineDisabled: /(^|\s)ipv6\.disable=1(\s|$)/.test(cmdline),
  };
}

function readCmdline(): string {
  try {
    return readFileSync("/proc/cmdline", "utf8");
  } catch {
    return "";
  }
}

/** bridge-nf-call-ip6tables and `ip6tables -S` (the host's; read only). */
export async function firewall6Facts(runner: Runner): Promise<Pick<Firewall6Facts, "bridgeNfCall6" | "ip6tables">> {
  let bridgeNfCall6: boolean | null = null;
  try {
    bridgeNfCall6 = readFileSync("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "utf8").trim() === "1";
  } catch {
    /* br_netfilter not loaded */
  }
  const r = await runner.run("ip6tables", ["-w", "5", "-S"], { timeoutMs: 10_000 });
  return { bridgeNfCall6, ip6tables: r.exitCode === 0 ? r.stdout : null };
}
