// Invokes hooks/network exactly as libvirt 9.0 does: argv `NAME OP SUBOP -`, hookData
// on stdin, and an environment of only LC_ALL, PATH and HOME. The hook answers when vnat is
// done with the event. Before a `started`, the network's bridge is made when missing, as
// libvirt makes it between `start begin` and `started` (raw = true: the hook alone, as given).
import { existsSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { execFileSync } from "node:child_process";
import { kernelNames, lanMac } from "../../src/core/names.ts";
import { parseFdbLocals } from "../../src/core/input/attach.ts";
import { execa } from "execa";
import type { ShResult } from "./sh.ts";
import { cacheEntryNetwork } from "../../src/core/hookcache.ts";
import type { NetOpts } from "./fixtures.ts";
import { TEST_CONFIG, type World } from "./world.ts";

export const HOOK = fileURLToPath(new URL("../../hooks/network", import.meta.url));
export const RUN_DIR = "/run/vnat";

export async function runHook(
  name: string,
  op: string,
  subop: string,
  stdin: string,
  extraEnv: Record<string, string> = {},
  raw = false,
): Promise<ShResult> {
  if (op === "start") forgetAtExit(name);
  // libvirt creates the network's bridge between `start begin` and `started`: a bridge
  // vnat removed (the one a failed start left) is there again, as libvirt would make it
  const bridge = /<bridge\s+name=['"]([^'"]+)['"]/.exec(stdin)?.[1];
  if (
    !raw &&
    op === "started" &&
    bridge &&
    /^[A-Za-z0-9_.-]{1,15}$/.test(bridge) &&
    !existsSync(`/sys/class/net/${bridge}`)
  ) {
    execFileSync("ip", ["link", "add", bridge, "type", "bridge"]);
    execFileSync("ip", ["link", "set", bridge, "up"]);
  }
  // vnat accepts uplinks only on configured providers: this process's worlds' (test/support/world.ts)
  const config = extraEnv.VNAT_CONFIG ?? TEST_CONFIG;
  // a test that proves macvlans on a machine with br_netfilter on stands in for its switch
  // (exec/probe/attach-facts.ts): the hooks it runs judge as the test process does
  const brnf = process.env.VNAT_BRIDGE_NF_CALL_IPTABLES;
  const env = {
    LC_ALL: "C",
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    ...(brnf !== undefined ? { VNAT_BRIDGE_NF_CALL_IPTABLES: brnf } : {}),
    ...extraEnv,
    VNAT_CONFIG: config,
  };
  const r = await execa(HOOK, [name, op, subop, "-"], {
    input: stdin,
    env,
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** The shell hook's remembered documents of network NAME (src/core/hookcache.ts) */
export const cacheEntries = (name: string): string[] =>
  existsSync(`${RUN_DIR}/hook-cache`)
    ? readdirSync(`${RUN_DIR}/hook-cache`).filter((f) => cacheEntryNetwork(f) === name)
    : [];

/**
 * Networks whose documents the hook may have remembered (a start through the hook, a
 * `vnat net create`): their entries go when the test process exits, like the networks.
 */
const remembered = new Set<string>();
export function forgetAtExit(name: string): void {
  if (remembered.size === 0)
    process.on("exit", () => {
      for (const n of remembered)
        for (const f of cacheEntries(n)) {
          try {
            unlinkSync(`${RUN_DIR}/hook-cache/${f}`);
          } catch {
            /* gone */
          }
        }
    });
  remembered.add(name);
}

/** What vnat would have left of network NAME on this host (empty when it is gone). */
export function vnatDebris(name: string): string[] {
  const k = kernelNames(name);
  const out: string[] = [];
  if (existsSync(`/run/netns/${k.netns}`)) out.push(`namespace ${k.netns}`);
  for (const l of [k.lanHost, k.uplinkHost]) if (existsSync(`/sys/class/net/${l}`)) out.push(`link ${l}`);
  for (const e of fdbLocals()) if (e.endsWith(` ${lanMac(name)}`)) out.push(`fdb entry ${e}`);
  if (existsSync(`${RUN_DIR}/net/${name}`)) out.push(`state dir ${RUN_DIR}/net/${name}`);
  if (existsSync(`/etc/netns/${k.netns}/resolv.conf`)) out.push(`/etc/netns/${k.netns}/resolv.conf`);
  const claims = existsSync(`${RUN_DIR}/claims`) ? readdirSync(`${RUN_DIR}/claims`) : [];
  for (const c of claims) {
    try {
      if (readFileSync(`${RUN_DIR}/claims/${c}`, "utf8").trim() === name) out.push(`claim ${c}`);
    } catch {
      /* removed meanwhile */
    }
  }
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(`--pid-file=${RUN_DIR}/net/${name}/`)) out.push(`process ${pid} dnsmasq`);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A vnat network NAME on a new LAN bridge of WORLD, its uplink on the world's provider network. */
export async function sandboxNet(
  world: World,
  name: string,
  uplink: string,
  extra: Partial<NetOpts> = {},
): Promise<NetOpts> {
  return {
    name,
    bridge: await world.addLanBridge(),
    uplinkBridge: world.providerBridge,
    uplink,
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    ...extra,
  };
}

/** Every bridge-local permanent fdb entry on the host, as "BRIDGE MAC". */
export function fdbLocals(): Set<string> {
  return parseFdbLocals(execFileSync("bridge", ["-j", "fdb", "show", "state", "permanent"], { encoding: "utf8" }));
}

/** What link IFNAME inside NETNS is (info_kind) and the host interface it hangs off (macvlan's lower device). */
export function attachmentOf(netns: string, ifname: string): { kind: string | null; lower: string | null } {
  const out = execFileSync("ip", ["-n", netns, "-d", "-j", "link", "show", "dev", ifname], { encoding: "utf8" });
  const [l] = JSON.parse(out) as Array<{ link_index?: number; linkinfo?: { info_kind?: string } }>;
  const lower =
    l?.link_index === undefined
      ? null
      : (readdirSync("/sys/class/net").find(
          (n) => readFileSync(`/sys/class/net/${n}/ifindex`, "utf8").trim() === String(l.link_index),
        ) ?? null);
  return { kind: l?.linkinfo?.info_kind ?? null, lower };
}
