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
