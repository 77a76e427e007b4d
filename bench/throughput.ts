// TCP throughput (iperf3, 1 and 4 streams), always to the internet namespace of one
// sandbox world, over five paths measured interleaved in the same run:
//
//   bare     router ns ──veth── internet ns                       (the physical limit)
//   direct   provider-host ns (198.51.100.60) ─ provider bridge ─ router ─ internet
//            (the same path without vnat: what vnat adds is the difference)
//   vnat     guest ns (10.0.0.50) ─ LAN bridge ─ vnat ns (NAT) ─ provider bridge ─ router ─ internet
//   libvirt  guest ns ─ bridge + masquerade in one "host" ns (libvirt 9.0's iptables rules)
//            ─ provider bridge ─ router ─ internet
//   hop      guest ns (10.9.0.50) ─ LAN bridge ─ a plain router ns (no NAT, no conntrack, no
//            rules; the world's router routes 10.9.0.0/24 back to it) ─ provider bridge ─ …:
//            vnat's hops without its NAT, to tell what the hops cost from what NAT costs
//   vnatveth a second vnat network whose provider forces a veth uplink (what "auto" builds on a
//            provider bridge that carries a host address); its LAN side as "auto" makes it
//
// Where br_netfilter passes bridged frames to iptables (bridge-nf-call-iptables=1), "auto"
// makes veth pairs on both sides (core/input/attach.ts), so "vnat" and "vnatveth" are the same
// build; VNAT_BRIDGE_NF_CALL_IPTABLES=0 in the environment measures the macvlans there.
//
// Everything lives in the world's namespaces and bridges; no packet takes this machine's
// own uplink. The libvirt-style namespaces use the world's name prefix (vt-TAG-…, vth-TAGn)
// so that world.destroy() finds and removes them even if this file's own cleanup fails.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hookData, type NetOpts } from "../test/support/fixtures.ts";
import { runHook, vnatDebris } from "../test/support/hook.ts";
import { nsExec, run, sh, sleep } from "../test/support/sh.ts";
import { createWorld, type World } from "../test/support/world.ts";
import { compare, figure, log, type Figure } from "./lib.ts";

const SECONDS = Number(process.env.BENCH_TP_SECONDS ?? 3);
const RUNS = Number(process.env.BENCH_TP_RUNS ?? 9);
const STREAMS = [1, 4] as const;
const GUEST_IP = "10.0.0.50";
const LAN_GW = "10.0.0.1";

export type PathName = "bare" | "direct" | "vnat" | "libvirt" | "hop" | "vnatveth";
const LABELS: Record<PathName, string> = {
  bare: "bare veth pair (physical limit)",
  direct: "same path without vnat (host on provider net)",
  vnat: "through vnat",
  libvirt: "libvirt-style NAT (bridge + masquerade)",
  hop: "vnat's hops without NAT (plain router ns)",
  vnatveth: "through vnat, uplink as a veth (provider bridge with a host address)",
};

/** One iperf3 client run from namespace `ns`; returns Gbit/s as the receiver counted it. */
export async function iperf(ns: string, server: string, streams: number): Promise<number> {
  const args = [
    "-c",
    server,
    "-t",
    String(SECONDS),
    "-O",
    "1",
    "-P",
    String(streams),
    "-J",
    "--connect-timeout",
    "3000",
  ];
  for (let attempt = 1; ; attempt++) {
    const r = await nsExec(ns, "iperf3", args, { timeoutMs: (SECONDS + 10) * 1000 });
    let j: { error?: string; end?: { sum_received?: { bits_per_second?: number } } } = {};
    try {
      j = JSON.parse(r.stdout) as typeof j;
    } catch {
      /* no JSON: reported below */
    }
    const bps = j.end?.sum_received?.bits_per_second;
    if (r.exitCode === 0 && bps !== undefined) return bps / 1e9;
    // the one server is busy for a moment after a test ends ("the server is busy")
    if (attempt < 3) {
      await sleep(500);
      continue;
    }
    throw new Error(`iperf3 from ${ns} to ${server}: exit ${r.exitCode}: ${j.error ?? r.stderr.trim()}`);
  }
}

/** libvirt 9.0's rules for a NAT network on `bridge` with `subnet` (iptables-save text). */
function libvirtRules(bridge: string, subnet: string): string {
  return `*nat
:LIBVIRT_PRT - [0:0]
-A POSTROUTING -j LIBVIRT_PRT
-A LIBVIRT_PRT -s ${subnet} -d 224.0.0.0/24 -j RETURN
-A LIBVIRT_PRT -s ${subnet} -d 255.255.255.255/32 -j RETURN
-A LIBVIRT_PRT -s ${subnet} ! -d ${subnet} -p tcp -j MASQUERADE --to-ports 1024-65535
-A LIBVIRT_PRT -s ${subnet} ! -d ${subnet} -p udp -j MASQUERADE --to-ports 1024-65535
-A LIBVIRT_PRT -s ${subnet} ! -d ${subnet} -j MASQUERADE
COMMIT
*filter
:LIBVIRT_INP - [0:0]
:LIBVIRT_OUT - [0:0]
:LIBVIRT_FWO - [0:0]
:LIBVIRT_FWI - [0:0]
:LIBVIRT_FWX - [0:0]
-A INPUT -j LIBVIRT_INP
-A FORWARD -j LIBVIRT_FWX
-A FORWARD -j LIBVIRT_FWI
-A FORWARD -j LIBVIRT_FWO
-A OUTPUT -j LIBVIRT_OUT
-A LIBVIRT_INP -i ${bridge} -p udp -m udp --dport 53 -j ACCEPT
-A LIBVIRT_INP -i ${bridge} -p tcp -m tcp --dport 53 -j ACCEPT
-A LIBVIRT_INP -i ${bridge} -p udp -m udp --dport 67 -j ACCEPT
-A LIBVIRT_INP -i ${bridge} -p tcp -m tcp --dport 67 -j ACCEPT
-A LIBVIRT_OUT -o ${bridge} -p udp -m udp --dport 53 -j ACCEPT
-A LIBVIRT_OUT -o ${bridge} -p tcp -m tcp --dport 53 -j ACCEPT
-A LIBVIRT_OUT -o ${bridge} -p udp -m udp --dport 68 -j ACCEPT
-A LIBVIRT_OUT -o ${bridge} -p tcp -m tcp --dport 68 -j ACCEPT
-A LIBVIRT_FWO -s ${subnet} -i ${bridge} -j ACCEPT
-A LIBVIRT_FWO -i ${bridge} -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWI -d ${subnet} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A LIBVIRT_FWI -o ${bridge} -j REJECT --reject-with icmp-port-unreachable
-A LIBVIRT_FWX -i ${bridge} -o ${bridge} -j ACCEPT
COMMIT
`;
}

async function addNs(ns: string): Promise<void> {
  await mkdir(join("/etc/netns", ns), { recursive: true });
  await writeFile(join("/etc/netns", ns, "resolv.conf"), "# vnat bench: no resolver\n");
  await run("ip", ["netns", "add", ns]);
  await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
}

/**
 * A libvirt host in a namespace: bridge virbr0 10.0.0.1/24 with one guest port, uplink
 * eth0 198.51.100.62/24 on the world's provider bridge, libvirt's iptables rules.
 * Returns the guest namespace and a cleanup function.
 */
async function buildLibvirtStyle(w: World): Promise<{ guestNs: string; cleanup: () => Promise<void> }> {
  const host = `vt-${w.tag}-lvh`;
  const guest = `vt-${w.tag}-lvg`;
  const uplinkHost = `vth-${w.tag}90`;
  const cleanup = async (): Promise<void> => {
    for (const ns of [guest, host]) {
      await sh("ip", ["netns", "del", ns]);
      await rm(join("/etc/netns", ns), { recursive: true, force: true });
    }
    await sh("ip", ["link", "del", uplinkHost]);
  };
  try {
    await addNs(host);
    await addNs(guest);
    await run("ip", ["link", "add", uplinkHost, "type", "veth", "peer", "name", "eth0", "netns", host]);
    await run("ip", ["link", "set", uplinkHost, "addrgenmode", "none"]);
    await run("ip", ["link", "set", uplinkHost, "master", w.providerBridge, "up"]);
    await run("ip", ["-n", host, "-batch", "-"], {
      input: [
        "link add virbr0 type bridge stp_state 0 forward_delay 0",
        `addr add ${LAN_GW}/24 dev virbr0`,
        "link set virbr0 up",
        `link add vnet0 type veth peer name eth0 netns ${guest}`,
        "link set vnet0 master virbr0 up",
        "addr add 198.51.100.62/24 dev eth0",
        "link set eth0 up",
        `route add default via ${w.providerGateway}`,
        "",
      ].join("\n"),
    });
    await run("ip", ["netns", "exec", host, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await run("ip", ["netns", "exec", host, "iptables-restore", "-w"], {
      input: libvirtRules("virbr0", "10.0.0.0/24"),
    });
    await run("ip", ["-n", guest, "-batch", "-"], {
      input: [`addr add ${GUEST_IP}/24 dev eth0`, "link set eth0 up", `route add default via ${LAN_GW}`, ""].join("\n"),
    });
    return { guestNs: guest, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * vnat's topology with a plain router in place of vnat's namespace: guest on its own LAN
 * bridge, router ns with lan0 10.9.0.1/24 and wan0 198.51.100.63/24 on the provider
 * bridge, and a route back in the world's router (inside its namespace, not the host's).
 */
async function buildHop(w: World): Promise<{ guestNs: string; cleanup: () => Promise<void> }> {
  const hr = `vt-${w.tag}-hr`;
  const [lanHost, wanHost] = [`vth-${w.tag}92`, `vth-${w.tag}93`];
  const route = ["-n", w.routerNs, "route", "add", "10.9.0.0/24", "via", "198.51.100.63"];
  const cleanup = async (): Promise<void> => {
    await sh("ip", ["-n", w.routerNs, "route", "del", "10.9.0.0/24"]);
    await sh("ip", ["netns", "del", hr]);
    await rm(join("/etc/netns", hr), { recursive: true, force: true });
    for (const l of [lanHost, wanHost]) await sh("ip", ["link", "del", l]);
  };
  try {
    const lanBridge = await w.addLanBridge();
    await addNs(hr);
    for (const [host, inside, bridge] of [
      [lanHost, "lan0", lanBridge],
      [wanHost, "wan0", w.providerBridge],
    ] as const) {
      await run("ip", ["link", "add", host, "type", "veth", "peer", "name", inside, "netns", hr]);
      await run("ip", ["link", "set", host, "addrgenmode", "none"]);
      await run("ip", ["link", "set", host, "master", bridge, "up"]);
    }
    await run("ip", ["netns", "exec", hr, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
    await run("ip", ["-n", hr, "-batch", "-"], {
      input: [
        "addr add 10.9.0.1/24 dev lan0",
        "link set lan0 up",
        "addr add 198.51.100.63/24 dev wan0",
        "link set wan0 up",
        `route add default via ${w.providerGateway}`,
        "",
      ].join("\n"),
    });
    await run("ip", route);
    const guest = await w.addGuest(lanBridge);
    await guest.addStaticAddress("10.9.0.50/24", "10.9.0.1");
    return { guestNs: guest.ns, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export interface ThroughputSetup {
  world: World;
  clients: Record<PathName, string>;
  vnatName: string;
  teardown: () => Promise<void>;
}

/** Builds the world and the four paths; teardown() removes all of it, whatever state it is in. */
export async function setupPaths(): Promise<ThroughputSetup> {
  const world = await createWorld();
  let lv: { guestNs: string; cleanup: () => Promise<void> } | undefined;
  let hop: { guestNs: string; cleanup: () => Promise<void> } | undefined;
  const net: NetOpts = {
    name: `b${world.tag}tp`,
    bridge: "",
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.61/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
  };
  const vethNet: NetOpts = { ...net, name: `b${world.tag}tv`, uplink: "198.51.100.64/24" };
  const vethEnv = { VNAT_CONFIG: join(world.tmpDir, "veth-uplink.json") };
  const teardown = async (): Promise<void> => {
    const errors: string[] = [];
    for (const [n, env] of [
      [net, {}],
      [vethNet, vethEnv],
    ] as const) {
      if (n.bridge === "") continue;
      const r = await runHook(n.name, "stopped", "end", hookData(n), env);
      if (r.exitCode !== 0) errors.push(`stop vnat network ${n.name}: ${r.stderr.trim()}`);
      const left = vnatDebris(n.name);
      if (left.length) errors.push(`vnat network ${n.name} left ${left.join(", ")}`);
    }
    await lv?.cleanup().catch((e: unknown) => errors.push((e as Error).message));
    await hop?.cleanup().catch((e: unknown) => errors.push((e as Error).message));
    await world.destroy().catch((e: unknown) => errors.push((e as Error).message));
    if (errors.length) throw new Error(`throughput teardown: ${errors.join("; ")}`);
  };
  try {
    await world.startProcess(world.internetNs, "iperf3", "iperf3", ["-s", "-B", world.internetIp]);
    const direct = await world.addProviderHost("198.51.100.60");
    net.bridge = await world.addLanBridge();
    const started = await runHook(net.name, "started", "begin", hookData(net));
    if (started.exitCode !== 0) throw new Error(`start vnat network ${net.name}: ${started.stderr.trim()}`);
    const guest = await world.addGuest(net.bridge);
    await guest.addStaticAddress(`${GUEST_IP}/24`, LAN_GW);
    lv = await buildLibvirtStyle(world);
    hop = await buildHop(world);
    const provider = { bridge: world.providerBridge, gateway: `${world.providerGateway}/24`, attach: "veth" };
    await writeFile(vethEnv.VNAT_CONFIG, JSON.stringify({ providers: [provider] }) + "\n");
    vethNet.bridge = await world.addLanBridge();
    const vs = await runHook(vethNet.name, "started", "begin", hookData(vethNet), vethEnv);
    if (vs.exitCode !== 0) throw new Error(`start vnat network ${vethNet.name}: ${vs.stderr.trim()}`);
    const vethGuest = await world.addGuest(vethNet.bridge);
    await vethGuest.addStaticAddress(`${GUEST_IP}/24`, LAN_GW);
    const clients: Record<PathName, string> = {
      bare: world.routerNs,
      direct: direct.ns,
      vnat: guest.ns,
      libvirt: lv.guestNs,
      hop: hop.guestNs,
      vnatveth: vethGuest.ns,
    };
    // every path reaches the server before anything is timed
    for (const [path, ns] of Object.entries(clients)) {
      const r = await nsExec(ns, "busybox", ["ping", "-c", "1", "-W", "2", world.internetIp]);
      if (r.exitCode !== 0) throw new Error(`path ${path}: ${ns} cannot reach ${world.internetIp}`);
    }
    return { world, clients, vnatName: net.name, teardown };
  } catch (e) {
    await teardown().catch((c: unknown) => log(`after a failed setup: ${(c as Error).message}`));
    throw e;
  }
}

export async function benchThroughput(): Promise<Figure[]> {
  const s = await setupPaths();
  try {
    const samples = new Map<string, number[]>();
    const paths = Object.keys(s.clients) as PathName[];
    for (let i = 0; i < RUNS; i++)
      for (const p of STREAMS)
        for (const path of paths) {
          const gbps = await iperf(s.clients[path], s.world.internetIp, p);
          const key = `${p}.${path}`;
          samples.set(key, [...(samples.get(key) ?? []), gbps]);
          log(`throughput run ${i + 1}/${RUNS} ${p} stream(s) ${path}: ${gbps.toFixed(2)} Gbit/s`);
        }
    const figs: Figure[] = [];
    for (const p of STREAMS)
      for (const path of paths)
        figs.push(
          figure(
            "throughput",
            `throughput.p${p}.${path}`,
            `TCP ${p} stream${p > 1 ? "s" : ""}: ${LABELS[path]}`,
            "Gbit/s",
            samples.get(`${p}.${path}`) ?? [],
            {
              ...(path !== "direct" ? { baseline: `throughput.p${p}.direct`, paired: true } : {}),
              ...(path === "vnat" ? { target: { of: "ratio", op: ">=", limit: 0.9 } as const } : {}),
            },
          ),
        );
    return compare(figs);
  } finally {
    await s.teardown();
  }
}
