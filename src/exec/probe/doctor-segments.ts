// The host facts `vnat doctor` judges about segments (core/judge/doctor-segments.ts): other
// DHCP servers on a segment's bridge (processes whose command line or conf file names it),
// Docker's isolation chains (iptables -S, nft), br_netfilter and the host's forward policies.
import { readdirSync, readFileSync } from "node:fs";
import type { SegmentFacts } from "../../core/judge/doctor-segments.ts";
import { contains, formatSubnet, parseCidr } from "../../core/ipv4.ts";
import { segmentLabel } from "../../core/input/segments.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { linkExists } from "../../adapters/sysfs.ts";
import { bridgeCallsIptables } from "./attach-facts.ts";
import type { Runner } from "../run.ts";

const DHCP_SERVERS = /^(dnsmasq|dhcpd|udhcpd|kea-dhcp4|dhcpd3)$/;

/** "dnsmasq (pid N)" for each DHCP server process whose arguments (or --conf-file) name DEVICE. */
export function dhcpServersOn(device: string, exceptPidFiles: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    } catch {
      continue;
    }
    const comm = (argv[0] ?? "").split("/").pop() ?? "";
    if (!DHCP_SERVERS.test(comm)) continue;
    if (argv.some((a) => exceptPidFiles.some((p) => a === `--pid-file=${p}`))) continue;
    const texts = [...argv];
    for (const a of argv) {
      const conf = /^--conf-file=(.+)$/.exec(a)?.[1];
      if (conf)
        try {
          texts.push(...readFileSync(conf, "utf8").split("\n"));
        } catch {
          /* unreadable: only its arguments count */
        }
    }
    const names = texts.some(
      (t, i) =>
        t === `--interface=${device}` ||
        t === `interface=${device}` ||
        ((t === "-i" || t === "--interface") && texts[i + 1] === device) ||
        (comm.startsWith("dhcpd") && t === device),
    );
    if (names) out.push(`${comm} (pid ${pid})`);
  }
  return out;
}

/** The lines of the host's iptables / nft rulesets in Docker's isolation chains that name DEVICE. */
export function isolationRulesFor(device: string, iptables: string, nft: string): string[] {
  const lines = [...iptables.split("\n"), ...nft.split("\n")].map((l) => l.trim());
  const inChain = (l: string): boolean => /DOCKER-ISOLATION/.test(l) && !/^-N |^chain /.test(l);
  return lines.filter((l) => inChain(l) && new RegExp(`(^|[\\s"])${device.replace(/\./g, "\\.")}($|[\\s"])`).test(l));
}

/** Drop-by-default forward chains: "iptables FORWARD", "nft inet filter forward". */
export function dropForwardChains(
  iptables: string,
  nftChains: Array<{ family: string; table: string; chain: string; policy: string }>,
): string[] {
  const out: string[] = [];
  if (/^-P FORWARD DROP$/m.test(iptables)) out.push("iptables FORWARD policy DROP");
  for (const c of nftChains) if (c.policy === "drop") out.push(`nft ${c.family} ${c.table} ${c.chain} policy drop`);
  return out;
}

export async function segmentFacts(
  runner: Runner,
  specs: readonly NetSpec[],
  firewall: {
    iptables: string | null;
    nftForwardChains: Array<{ family: string; table: string; chain: string; policy: string }>;
  },
  pidFiles: readonly string[],
): Promise<SegmentFacts[]> {
  const withSegments = specs.filter((s) => s.segments?.length);
  if (!withSegments.length) return [];
  const nft = (await runner.run("nft", ["list", "ruleset"], { timeoutMs: 10_000 })).stdout;
  const iptables = firewall.iptables ?? "";
  const dropForward = dropForwardChains(iptables, firewall.nftForwardChains);
  const out: SegmentFacts[] = [];
  for (const spec of withSegments)
    for (const s of spec.segments!) {
      const present = linkExists(s.device);
      const addrs = present ? await hostAddresses(runner, s.device) : [];
      out.push({
        network: spec.name,
        label: segmentLabel(s),
        device: s.device,
        present,
        takeAddresses: s.takeAddresses === true,
        lanSubnet: formatSubnet(spec.lan),
        hostAddresses: addrs.map((cidr) => {
          const c = parseCidr(cidr);
          return { cidr, inLan: c !== undefined && contains(spec.lan, c.address) };
        }),
        dhcpServers: present ? dhcpServersOn(s.device, pidFiles) : [],
        isolationRules: isolationRulesFor(s.device, iptables, nft),
        callsIptables:
          present && (bridgeCallsIptables(spec.lanBridge) || (s.kind !== "tap" && bridgeCallsIptables(s.device))),
        dropForward,
      });
    }
  return out;
}

async function hostAddresses(runner: Runner, device: string): Promise<string[]> {
  const r = await runner.run("ip", ["-j", "-4", "addr", "show", "dev", device]);
  try {
    const links = JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
    return links.flatMap((l) => (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  } catch {
    return [];
  }
}
