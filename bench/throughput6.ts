// IPv6 TCP throughput (iperf3, 1 and 4 streams) to the internet namespace of one sandbox
// world, over [2001:db8:200::10], measured interleaved in the same run (issue 17):
//
//   bare6    router ns ──veth── internet ns                       (the physical limit)
//   direct6  provider-host ns (2001:db8:100::60) ─ provider bridge ─ router ─ internet
//   hop6     guest ns (2001:db8:309::50) ─ LAN bridge ─ a plain IPv6 router ns (forwarding,
//            no NAT, no conntrack, no rules; the world's router routes 2001:db8:309::/64 back
//            to it) ─ provider bridge ─ router ─ internet: the same bridges and veth pairs as
//            vnat's path with plain IPv6 routing — "the same path without vnat"
//   vnat6    guest ns (fd00:b6::50, a ULA) ─ LAN bridge ─ vnat ns (nat66 to 2001:db8:100::61)
//            ─ provider bridge ─ router ─ internet: a dual-stack vnat network, hook-driven
//
// vnat6's ratio is to hop6 (target ≥ 0.90×); direct6's path has one router fewer, like the
// IPv4 rows' "direct". Everything lives in the world's namespaces and bridges.
import { rm, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { hookData, type NetOpts } from "../test/support/fixtures.ts";
import { runHook, vnatDebris } from "../test/support/hook.ts";
import { nsExec, run, sh } from "../test/support/sh.ts";
import { createWorld, type World } from "../test/support/world.ts";
import { compare, figure, log, type Figure } from "./lib.ts";
import { iperf } from "./throughput.ts";

const RUNS = Number(process.env.BENCH_TP_RUNS ?? 9);
const STREAMS = [1, 4] as const;
export const LAN6 = "fd00:b6::1/64";
export const GUEST6 = "fd00:b6::50";
export const UPLINK6 = "2001:db8:100::61";
const HOP_PREFIX = "2001:db8:309::/64";

export type Path6 = "bare6" | "direct6" | "hop6" | "vnat6";
const LABELS: Record<Path6, string> = {
  bare6: "IPv6 bare veth pair (physical limit)",
  direct6: "IPv6 host on the provider net (one router fewer)",
  hop6: "IPv6 same path without vnat (plain IPv6 router ns in vnat's place)",
  vnat6: "IPv6 through vnat (nat66, ULA guest)",
};

/** vnat's IPv6 metadata for a dual-stack network on the world's provider (nat66). */
export function dualStackMetadata(lan6 = LAN6, uplink6 = `${UPLINK6}/64`, mode = "nat66"): string {
  return `<vnat:lan6 address="${lan6}"/><vnat:uplink6 address="${uplink6}" mode="${mode}"/>`;
}

/** vnat's hops with a plain IPv6 router in its place (like throughput.ts's "hop", for IPv6). */
async function buildHop6(w: World): Promise<{ guestNs: string; cleanup: () => Promise<void> }> {
  const hr = `vt-${w.tag}-h6`;
  const [lanHost, wanHost] = [`vth-${w.tag}94`, `vth-${w.tag}95`];
  const cleanup = async (): Promise<void> => {
    await sh("ip", ["-n", w.routerNs, "-6", "route", "del", HOP_PREFIX]);
    await sh("ip", ["netns", "del", hr]);
    await rm(join("/etc/netns", hr), { recursive: true, force: true });
    for (const l of [lanHost, wanHost]) await sh("ip", ["link", "del", l]);
  };
  try {
    const lanBridge = await w.addLanBridge();
    await mkdir(join("/etc/netns", hr), { recursive: true });
    await writeFile(join("/etc/netns", hr, "resolv.conf"), "# vnat bench: no resolver\n");
    await run("ip", ["netns", "add", hr]);
    await run("ip", [
      "netns",
      "exec",
      hr,
      "sysctl",
      "-q",
      "-w",
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv6.conf.default.accept_ra=0",
    ]);
    for (const [host, inside, bridge] of [
      [lanHost, "lan0", lanBridge],
      [wanHost, "wan0", w.providerBridge],
    ] as const) {
      await run("ip", ["link", "add", host, "type", "veth", "peer", "name", inside, "netns", hr]);
      await run("ip", ["link", "set", host, "addrgenmode", "none"]);
      await writeFile(`/proc/sys/net/ipv6/conf/${host}/disable_ipv6`, "1\n");
      await run("ip", ["link", "set", host, "master", bridge, "up"]);
    }
    await run("ip", ["-n", hr, "-batch", "-"], {
      input: [
        "link set lo up",
        "addr add 2001:db8:309::1/64 dev lan0 nodad",
        "link set lan0 up",
        "addr add 2001:db8:100::63/64 dev wan0 nodad",
        "link set wan0 up",
        `route add default via ${w.providerGateway6} dev wan0`,
        "",
      ].join("\n"),
    });
    await w.addUpstreamRoute6(HOP_PREFIX, "2001:db8:100::63");
    const guest = await w.addGuest(lanBridge);
    await guest.addStaticAddress6("2001:db8:309::50/64", "2001:db8:309::1");
    return { guestNs: guest.ns, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export interface Throughput6Setup {
  world: World;
  clients: Partial<Record<Path6, string>>;
  teardown: () => Promise<void>;
}

/** BENCH_TP6_NO_VNAT=1 leaves the vnat path out (to try the harness without a dual-stack vnat). */
export async function setupPaths6(withVnat = process.env.BENCH_TP6_NO_VNAT !== "1"): Promise<Throughput6Setup> {
  const world = await createWorld();
  let hop: { guestNs: string; cleanup: () => Promise<void> } | undefined;
  const net: NetOpts = {
    name: `b${world.tag}t6`,
    bridge: "",
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.61/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    extraMetadata: dualStackMetadata(),
  };
  const teardown = async (): Promise<void> => {
    const errors: string[] = [];
    if (net.bridge !== "") {
      const r = await runHook(net.name, "stopped", "end", hookData(net));
      if (r.exitCode !== 0) errors.push(`stop vnat network ${net.name}: ${r.stderr.trim()}`);
      const left = vnatDebris(net.name);
      if (left.length) errors.push(`vnat network ${net.name} left ${left.join(", ")}`);
    }
    await hop?.cleanup().catch((e: unknown) => errors.push((e as Error).message));
    await world.destroy().catch((e: unknown) => errors.push((e as Error).message));
    if (errors.length) throw new Error(`throughput6 teardown: ${errors.join("; ")}`);
  };
  try {
    await world.startProcess(world.internetNs, "iperf3-6", "iperf3", ["-s", "-B", world.internetIp6]);
    const direct = await world.addProviderHost("198.51.100.60", "2001:db8:100::60");
    hop = await buildHop6(world);
    const clients: Partial<Record<Path6, string>> = { bare6: world.routerNs, direct6: direct.ns, hop6: hop.guestNs };
    if (withVnat) {
      net.bridge = await world.addLanBridge();
      const started = await runHook(net.name, "started", "begin", hookData(net));
      if (started.exitCode !== 0) throw new Error(`start vnat network ${net.name}: ${started.stderr.trim()}`);
      const guest = await world.addGuest(net.bridge);
      await guest.addStaticAddress6(`${GUEST6}/64`, LAN6.split("/")[0]);
      clients.vnat6 = guest.ns;
    }
    // every path reaches the server before anything is timed
    for (const [path, ns] of Object.entries(clients)) {
      // any of three echoes answered (busybox exits 0 then): the first packets of a path just built
      // may wait for neighbour discovery on three links
      const r = await nsExec(ns, "busybox", ["ping", "-c", "3", "-i", "0.2", "-w", "4", world.internetIp6]);
      if (r.exitCode !== 0)
        throw new Error(`path ${path}: ${ns} cannot reach ${world.internetIp6}: ${r.stdout.trim()} ${r.stderr.trim()}`);
    }
    return { world, clients, teardown };
  } catch (e) {
    await teardown().catch((c: unknown) => log(`after a failed setup: ${(c as Error).message}`));
    throw e;
  }
}

export async function benchThroughput6(): Promise<Figure[]> {
  const s = await setupPaths6();
  try {
    const samples = new Map<string, number[]>();
    const paths = Object.keys(s.clients) as Path6[];
    for (let i = 0; i < RUNS; i++)
      for (const p of STREAMS)
        for (const path of paths) {
          const gbps = await iperf(s.clients[path]!, s.world.internetIp6, p);
          const key = `${p}.${path}`;
          samples.set(key, [...(samples.get(key) ?? []), gbps]);
          log(`throughput6 run ${i + 1}/${RUNS} ${p} stream(s) ${path}: ${gbps.toFixed(2)} Gbit/s`);
        }
    const figs: Figure[] = [];
    for (const p of STREAMS)
      for (const path of paths)
        figs.push(
          figure(
            "throughput6",
            `throughput6.p${p}.${path}`,
            `TCP ${p} stream${p > 1 ? "s" : ""}: ${LABELS[path]}`,
            "Gbit/s",
            samples.get(`${p}.${path}`) ?? [],
            {
              ...(path !== "hop6" ? { baseline: `throughput6.p${p}.hop6`, paired: true } : {}),
              ...(path === "vnat6" ? { target: { of: "ratio", op: ">=", limit: 0.9 } as const } : {}),
            },
          ),
        );
    return compare(figs);
  } finally {
    await s.teardown();
  }
}
