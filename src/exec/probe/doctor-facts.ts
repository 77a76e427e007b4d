// What `vnat doctor` reads from the host. Kernel features are tried for real, inside
// throwaway network namespaces (`unshare --net`: nothing is created on the host).
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import type { FirewallFacts, HookFacts } from "../../core/judge/doctor-host.ts";
import { parseCidr } from "../../core/ipv4.ts";
import { kernelNames, uplinkMac } from "../../core/names.ts";
import { renderNft } from "../../core/plan/render.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { firstLine, type Runner } from "../run.ts";

export const HOOK_DIR = "/etc/libvirt/hooks/network.d";
export const HOOK_PATH = `${HOOK_DIR}/vnat`;

/** A network like any other, to try vnat's whole ruleset on this kernel. */
function sampleSpec(): NetSpec {
  const lan = parseCidr("10.0.0.1/24")!;
  const up = parseCidr("198.51.100.10/24")!;
  return {
    name: "doctor",
    names: kernelNames("doctor"),
    lanBridge: "virbr0",
    lan,
    uplink: { bridge: "br0", address: up, gateway: up.address - 9, mac: uplinkMac(up.address) },
    dns: [],
  };
}

/** null when it works, else the first line of the error. */
export async function tryKernel(runner: Runner): Promise<{ links: string | null; nft: string | null }> {
  const [links, nft] = await Promise.all([
    runner.run("unshare", ["--net", "ip", "-batch", "-"], {
      input:
        "link add vd0 type veth peer name vd1\nlink add vd2 type bridge\nlink set vd0 master vd2\n" +
        "link add link vd2 name vd3 type macvlan mode bridge\n",
      timeoutMs: 10_000,
    }),
    runner.run("unshare", ["--net", "nft", "-f", "-"], { input: renderNft(sampleSpec(), []), timeoutMs: 10_000 }),
  ]);
  return {
    links: links.exitCode === 0 ? null : firstLine(links.stderr),
    nft: nft.exitCode === 0 ? null : firstLine(nft.stderr),
  };
}

/** The first line a tool prints about its version, or undefined when it is not installed. */
export async function toolBanner(runner: Runner, cmd: string): Promise<string | undefined> {
  const flag = cmd === "nft" ? "-v" : cmd === "dnsmasq" ? "-v" : cmd === "virsh" ? "-v" : "-V";
  const r = await runner.run(cmd, [flag], { timeoutMs: 10_000 });
  if (r.exitCode === 127) return undefined;
  return firstLine(r.stdout + "\n" + r.stderr);
}

/** Process start (ms since the epoch) from /proc: boot time + start ticks (USER_HZ is 100 on Linux). */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    return (btime + ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

export function findDaemon(): HookFacts["daemon"] {
  const procs = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  for (const name of ["virtnetworkd", "libvirtd"])
    for (const p of procs) {
      let comm = "";
      try {
        comm = readFileSync(`/proc/${p}/comm`, "utf8").trim();
      } catch {
        continue;
      }
      const startedAt = comm === name ? processStartMs(Number(p)) : undefined;
      if (startedAt !== undefined) return { name, pid: Number(p), startedAt };
    }
  return undefined;
}

/** The earliest a network hook (the main script or any network.d file) has existed. */
function hooksSince(): number | undefined {
  const paths = [
    "/etc/libvirt/hooks/network",
    ...(existsSync(HOOK_DIR) ? readdirSync(HOOK_DIR).map((f) => `${HOOK_DIR}/${f}`) : []),
  ];
  const times = paths.flatMap((p) => {
    try {
      const s = statSync(p);
      return [s.birthtimeMs > 0 ? s.birthtimeMs : s.mtimeMs];
    } catch {
      return [];
    }
  });
  return times.length ? Math.min(...times) : undefined;
}

export async function hookFacts(runner: Runner, ranForActive: boolean): Promise<HookFacts> {
  const exists = existsSync(HOOK_PATH);
  let executable = false;
  try {
    accessSync(HOOK_PATH, constants.X_OK);
    executable = exists;
  } catch {
    /* not executable */
  }
  // an event vnat ignores: the hook must start, parse its arguments and exit 0
  const r = executable
    ? await runner.run(HOOK_PATH, ["vnat-doctor", "doctor", "check", "-"], { timeoutMs: 15_000 })
    : undefined;
  const daemon = findDaemon();
  const since = hooksSince();
  return {
    path: HOOK_PATH,
    exists,
    executable,
    runs: r?.exitCode === 0,
    ...(r && r.exitCode !== 0 ? { runError: firstLine(r.stderr) } : {}),
    ...(daemon ? { daemon } : {}),
    ...(since !== undefined ? { hooksSince: since } : {}),
    ranForActive,
  };
}

export async function firewallFacts(runner: Runner, vethBridges: string[]): Promise<FirewallFacts> {
  let bridgeNfCall: boolean | null = null;
  try {
    bridgeNfCall = readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() === "1";
  } catch {
    /* br_netfilter not loaded */
  }
  const [ipt, nft] = await Promise.all([
    runner.run("iptables", ["-w", "5", "-S"], { timeoutMs: 10_000 }),
    runner.run("nft", ["-j", "list", "chains"], { timeoutMs: 10_000 }),
  ]);
  type NftChain = { chain?: { family: string; table: string; name: string; hook?: string; policy?: string } };
  let chains: NftChain[] = [];
  try {
    chains = (JSON.parse(nft.stdout) as { nftables: NftChain[] }).nftables;
  } catch {
    /* nft missing: reported by the tool check */
  }
  return {
    bridgeNfCall,
    iptables: ipt.exitCode === 0 ? ipt.stdout : null,
    nftForwardChains: chains
      .flatMap((c) => (c.chain && c.chain.hook === "forward" ? [c.chain] : []))
      .map((c) => ({ family: c.family, table: c.table, chain: c.name, policy: c.policy ?? "accept" })),
    vethBridges,
  };
}

/**
 * The running daemon's version from its own binary (`/proc/PID/exe --version`): `virsh
 * version --daemon` also probes the hypervisor, which took 40 s on a machine without KVM.
 */
export async function daemonVersion(runner: Runner): Promise<string | undefined> {
  const d = findDaemon();
  if (!d) return undefined;
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${d.pid}/exe`).replace(/ \(deleted\)$/, "");
  } catch {
    return undefined;
  }
  const r = await runner.run(exe, ["--version"], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? firstLine(r.stdout) : undefined;
}
