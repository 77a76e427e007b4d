// Doctor verdicts about the host around vnat: the libvirt hook and the host firewall,
// which may drop the bridged provider traffic vnat's uplinks depend on. Pure.
import { fail, ok, warn, type Check } from "./doctor.ts";

export interface HookFacts {
  path: string;
  exists: boolean;
  executable: boolean;
  /** running it with a no-op event exited 0 */
  runs: boolean;
  runError?: string;
  /** the daemon's start and the earliest time any network hook existed (ms since the epoch) */
  daemon?: { name: string; pid: number; startedAt: number };
  hooksSince?: number;
  /** an active vnat network has a namespace: the hook ran for it */
  ranForActive: boolean;
}

export function judgeHook(h: HookFacts): Check[] {
  const install = "run vnat's install.sh (it installs the hook and makes the daemon see it)";
  if (!h.exists) return [fail("hook", `hook: ${h.path} is missing`, install)];
  if (!h.executable) return [fail("hook", `hook: ${h.path} is not executable`, `chmod 755 ${h.path}`)];
  const out: Check[] = [];
  out.push(
    h.runs
      ? ok("hook", `hook: ${h.path} installed and runs`)
      : fail("hook", `hook: ${h.path} fails: ${h.runError ?? "?"}`, install),
  );
  if (h.ranForActive) out.push(ok("hook-seen", "hook: the daemon runs it (active vnat networks have namespaces)"));
  else if (!h.daemon)
    out.push(warn("hook-seen", "hook: no libvirtd or virtnetworkd process found", "start the libvirt daemon"));
  else if (h.hooksSince !== undefined && h.hooksSince > h.daemon.startedAt)
    out.push(
      warn(
        "hook-seen",
        `hook: ${h.daemon.name} (pid ${h.daemon.pid}) started before any network hook existed, so it may not run it`,
        `kill -HUP ${h.daemon.pid} (or restart ${h.daemon.name})`,
      ),
    );
  else out.push(ok("hook-seen", `hook: present since before ${h.daemon.name} (pid ${h.daemon.pid}) started`));
  return out;
}

export interface FirewallFacts {
  /** net.bridge.bridge-nf-call-iptables: null when br_netfilter is not loaded */
  bridgeNfCall: boolean | null;
  /** `iptables -S` output, or null when iptables is not installed */
  iptables: string | null;
  /** chains of the host's nftables ruleset with a forward hook */
  nftForwardChains: Array<{ family: string; table: string; chain: string; policy: string }>;
  /**
   * provider bridges whose uplinks are veth ports (core/input/attach.ts): only their frames are
   * forwarded by the bridge, and so seen by its forward chains; a macvlan's frames are
   * delivered to the bridge itself and sent from it
   */
  vethBridges: string[];
}

export function judgeFirewall(f: FirewallFacts): Check[] {
  const out: Check[] = [];
  if (f.vethBridges.length === 0) {
    out.push(ok("firewall", "firewall: uplinks are macvlans, whose traffic the host's forward chains never see"));
    return out;
  }
  const ipt = f.iptables ?? "";
  const dropPolicy = /^-P FORWARD DROP/m.test(ipt);
  const docker = /^-N DOCKER(-USER|-FORWARD)?$/m.test(ipt);
  const bridgedAccepted =
    /^-A (FORWARD|DOCKER-USER) .*--physdev-is-bridged.* -j ACCEPT/m.test(ipt) ||
    f.vethBridges.every((b) => new RegExp(`^-A (FORWARD|DOCKER-USER) -i ${b} .*-j ACCEPT`, "m").test(ipt));
  const bridgeDrops = f.nftForwardChains.filter((c) => c.family === "bridge" && c.policy === "drop");
  const ipDrops = f.nftForwardChains.filter((c) => (c.family === "ip" || c.family === "inet") && c.policy === "drop");
  for (const c of bridgeDrops)
    out.push(
      fail(
        "firewall-nft",
        `firewall: nftables ${c.family} ${c.table} chain ${c.chain} drops forwarded frames by default`,
        `accept the provider bridges in it (iifname { ${f.vethBridges.join(", ") || "BRIDGE"} } accept)`,
      ),
    );
  if (f.bridgeNfCall !== true) {
    out.push(ok("firewall", "firewall: bridged frames bypass the host's IP firewall (bridge-nf-call-iptables off)"));
    return out;
  }
  const fix =
    "iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT (Docker: add it to DOCKER-USER), or sysctl -w net.bridge.bridge-nf-call-iptables=0";
  const problems = [
    ...(dropPolicy ? ["iptables FORWARD policy is DROP"] : []),
    ...(docker ? ["Docker's chains are in FORWARD"] : []),
    ...ipDrops.map((c) => `nftables ${c.family} ${c.table} chain ${c.chain} has policy drop`),
  ];
  if (problems.length === 0)
    out.push(ok("firewall", "firewall: br_netfilter on, but the host's forward chains accept by default"));
  else if (bridgedAccepted)
    out.push(ok("firewall", `firewall: ${problems.join(", ")}, but bridged traffic is accepted`));
  else
    out.push(
      fail(
        "firewall",
        `firewall: br_netfilter passes bridged frames to the host firewall and ${problems.join(", ")}: provider traffic may be dropped silently`,
        fix,
      ),
    );
  return out;
}

/** A running network's side that is a macvlan of a bridge calling iptables. */
export interface MacvlanAtRisk {
  network: string;
  ifname: string;
  bridge: string;
  /** the provider forces attach "macvlan" (uplink side only) */
  forced: boolean;
}

export interface NetfilterAttachFacts {
  /** net.bridge.bridge-nf-call-iptables: null when br_netfilter is not loaded */
  globalNfCall: boolean | null;
  /** providers that force attach "macvlan" although their bridge calls iptables */
  forcedMacvlan: string[];
  running: MacvlanAtRisk[];
}

const SYSCTL_OFF = "sysctl -w net.bridge.bridge-nf-call-iptables=0";

/**
 * br_netfilter and macvlans (core/input/attach.ts): a macvlan side on a bridge whose frames pass
 * through the host's iptables receives the host's conntrack entries whenever the host's
 * conntrack is on, which breaks the namespace's own (replies dropped, flows un-NATed).
 */
export function judgeNetfilterAttach(f: NetfilterAttachFacts): Check[] {
  const out: Check[] = [];
  const effect =
    "while the host's conntrack is on (a libvirt NAT network, Docker, a stateful firewall) its replies look new and guests' flows leave un-NATed";
  for (const r of f.running)
    out.push(
      fail(
        `attach-${r.network}`,
        `attach: ${r.network}'s ${r.ifname} is a macvlan of ${r.bridge}, whose frames pass through the host's iptables (br_netfilter): ${effect}`,
        r.forced
          ? `vnat provider set ${r.bridge} attach=auto, then restart ${r.network} (virsh net-destroy, net-start); or ${SYSCTL_OFF}`
          : `restart ${r.network} (virsh net-destroy, net-start: it attaches with veth pairs then), or ${SYSCTL_OFF}`,
      ),
    );
  for (const b of f.forcedMacvlan)
    out.push(
      warn(
        `attach-provider-${b}`,
        `attach: provider ${b} forces macvlan uplinks, but its bridge passes frames to the host's iptables (br_netfilter): ${effect}`,
        `vnat provider set ${b} attach=auto, or ${SYSCTL_OFF}`,
      ),
    );
  if (out.length) return out;
  return [
    f.globalNfCall === true
      ? ok("attach", "attach: br_netfilter passes bridged frames to iptables, so vnat attaches with veth pairs")
      : ok(
          "attach",
          `attach: ${f.globalNfCall === null ? "br_netfilter not loaded" : "bridge-nf-call-iptables off"}, vnat attaches with macvlans (a network started before br_netfilter came on shows macvlan-netfilter in vnat status)`,
        ),
  ];
}
