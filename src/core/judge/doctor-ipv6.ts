// Doctor verdicts about the kernel's IPv6 (issue 17): vnat's dual-stack networks need IPv6
// in a new network namespace, IPv6 forwarding there and an nftables ip6 NAT table. A
// problem fails the check when a network uses IPv6, and only warns while none does. Pure.
import { fail, ok, warn, type Check } from "./doctor.ts";

export interface Ipv6KernelFacts {
  /** a new namespace has /proc/sys/net/ipv6 (the kernel has IPv6 and it is not off at boot) */
  present: boolean;
  /** why not (sysctl's first line) */
  presentError?: string;
  /** a new namespace's conf/all and conf/default disable_ipv6 are 1 (inherited: net.core.devconf_inherit_init_net) */
  disabledAll: boolean;
  disabledDefault: boolean;
  /** setting net.ipv6.conf.all.forwarding=1 in a new namespace: null when it works, else the error's first line */
  forwarding: string | null;
  /** loading an ip6 NAT table (nat66, nptv6, forwards, default deny) in a new namespace: null when it works */
  nat: string | null;
  /** ipv6.disable=1 on the kernel's command line */
  cmdlineDisabled: boolean;
}

/** USING: the vnat networks with an IPv6 side (their names). */
export function judgeIpv6(f: Ipv6KernelFacts, using: readonly string[]): Check[] {
  const who = using.length ? `${using.join(", ")} ${using.length === 1 ? "uses" : "use"} IPv6` : "";
  const bad = (id: string, message: string, fix: string): Check =>
    using.length ? fail(id, `${message} (${who})`, fix) : warn(id, `${message}: vnat networks cannot have IPv6`, fix);
  if (!f.present)
    return [
      bad(
        "kernel-ipv6",
        f.cmdlineDisabled
          ? "kernel: IPv6 is switched off at boot (ipv6.disable=1)"
          : `kernel: a new network namespace has no IPv6 (${f.presentError ?? "no /proc/sys/net/ipv6"})`,
        f.cmdlineDisabled
          ? "remove ipv6.disable=1 from the kernel command line (GRUB_CMDLINE_LINUX) and reboot"
          : "use a kernel with CONFIG_IPV6",
      ),
    ];
  const out: Check[] = [];
  const off = [...(f.disabledAll ? ["all"] : []), ...(f.disabledDefault ? ["default"] : [])];
  out.push(
    off.length
      ? bad(
          "kernel-ipv6",
          `kernel: a new network namespace starts with IPv6 disabled (net.ipv6.conf.${off.join("/")}.disable_ipv6=1, inherited from the host)`,
          "sysctl -w net.core.devconf_inherit_init_net=0 (new namespaces then start with IPv6 on; the host keeps its own settings)",
        )
      : ok("kernel-ipv6", "kernel: IPv6 is on in new network namespaces"),
  );
  out.push(
    f.forwarding === null
      ? ok("kernel-ipv6-forwarding", "kernel: IPv6 forwarding can be switched on inside a namespace")
      : bad(
          "kernel-ipv6-forwarding",
          `kernel: net.ipv6.conf.all.forwarding cannot be set in a namespace: ${f.forwarding}`,
          "check that /proc/sys is writable for root (no read-only sysctl mount) and the kernel has CONFIG_IPV6",
        ),
  );
  out.push(
    f.nat === null
      ? ok("kernel-nft6", "kernel: nftables takes an ip6 NAT table (nat66, nptv6, forwards)")
      : bad(
          "kernel-nft6",
          `kernel: an ip6 NAT table was refused: ${f.nat}`,
          "use a kernel with nf_tables, nft_nat and NF_NAT for IPv6 (CONFIG_NF_NAT, CONFIG_NFT_NAT, CONFIG_IP6_NF_NAT)",
        ),
  );
  return out;
}

export interface Firewall6Facts {
  /** net.bridge.bridge-nf-call-ip6tables: null when br_netfilter is not loaded */
  bridgeNfCall6: boolean | null;
  /** `ip6tables -S` output, or null when ip6tables is not installed */
  ip6tables: string | null;
  /** the host's nftables chains with a forward hook (doctor-host.ts's FirewallFacts) */
  nftForwardChains: Array<{ family: string; table: string; chain: string; policy: string }>;
  /** provider and LAN bridges with veth ports: their frames pass the host's forward chains */
  vethBridges: string[];
}

/**
 * The host firewall and bridged IPv6 (issue 17): with br_netfilter's bridge-nf-call-ip6tables
 * on, IPv6 frames bridged between a veth port and the rest of a bridge pass the host's ip6tables
 * and nftables forward chains, so a drop policy there cuts the networks' IPv6 silently (the
 * twin of doctor-host.ts's IPv4 check). Only said when a network uses IPv6.
 */
export function judgeFirewall6(f: Firewall6Facts, using: readonly string[]): Check[] {
  if (using.length === 0) return [];
  if (f.vethBridges.length === 0)
    return [ok("firewall6", "firewall6: uplinks are macvlans, whose IPv6 the host's forward chains never see")];
  if (f.bridgeNfCall6 !== true)
    return [ok("firewall6", "firewall6: bridged IPv6 bypasses the host's firewall (bridge-nf-call-ip6tables off)")];
  const ipt = f.ip6tables ?? "";
  const problems = [
    ...(/^-P FORWARD DROP/m.test(ipt) ? ["ip6tables FORWARD policy is DROP"] : []),
    ...(/^-N DOCKER(-USER|-FORWARD)?$/m.test(ipt) ? ["Docker's chains are in ip6tables FORWARD"] : []),
    ...f.nftForwardChains
      .filter((c) => (c.family === "ip6" || c.family === "inet") && c.policy === "drop")
      .map((c) => `nftables ${c.family} ${c.table} chain ${c.chain} has policy drop`),
  ];
  const accepted =
    /^-A (FORWARD|DOCKER-USER) .*--physdev-is-bridged.* -j ACCEPT/m.test(ipt) ||
    f.vethBridges.every((b) => new RegExp(`^-A (FORWARD|DOCKER-USER) -i ${b} .*-j ACCEPT`, "m").test(ipt));
  if (problems.length === 0)
    return [ok("firewall6", "firewall6: br_netfilter on, but the host's IPv6 forward chains accept by default")];
  if (accepted) return [ok("firewall6", `firewall6: ${problems.join(", ")}, but bridged traffic is accepted`)];
  return [
    fail(
      "firewall6",
      `firewall6: br_netfilter passes bridged IPv6 to the host firewall and ${problems.join(", ")}: the IPv6 of ${using.join(", ")} may be dropped silently`,
      "ip6tables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT (Docker: add it to DOCKER-USER), or sysctl -w net.bridge.bridge-nf-call-ip6tables=0",
    ),
  ];
}
