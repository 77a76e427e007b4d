// The host facts the policy needs (core/input/policy.ts), read without a process where possible:
// the host's own addresses from /proc/net/fib_trie, other networks' LAN bridges from the
// state files of the networks vnat runs.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Config } from "../../core/input/config.ts";
import type { Roots } from "../../core/paths.ts";
import { checkPolicy, type HostFacts } from "../../core/input/policy.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { listStates, readState } from "../../adapters/store/state.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import { probeAllHostAddresses6 } from "./host-addrs6.ts";
import { BEGIN_DAD_WAIT_MS, probeDuplicateOnBridge } from "./dad.ts";
import { conflict } from "../../core/errors.ts";
import { formatIp } from "../../core/ipv4.ts";
import type { Runner } from "../run.ts";

export async function probePolicyFacts(runner: Runner, roots: Roots): Promise<HostFacts> {
  const [hostAddrs, hostAddrs6, names] = await Promise.all([
    probeHostAddresses(runner),
    probeAllHostAddresses6(runner),
    listStates(roots),
  ]);
  const vnatLanBridges = new Map<string, string>();
  for (const name of names) {
    const st = await readState(roots, name).catch(() => undefined);
    if (st) vnatLanBridges.set(st.lanBridge, st.name);
  }
  return { hostAddrs, hostAddrs6, vnatLanBridges };
}

/**
 * The hash the shell hook compares (hooks/network, cache kind "fib"): taken BEFORE the policy
 * reads the host, so an address added in between makes the shell's later hash differ.
 */
export async function fibHash(): Promise<string> {
  return createHash("sha256")
    .update(await readFile("/proc/net/fib_trie"))
    .digest("hex");
}

/** `start begin` and `started`: refuses what the policy forbids, before anything is built. */
export async function enforcePolicy(runner: Runner, roots: Roots, spec: NetSpec, config: Config): Promise<void> {
  checkPolicy(spec, config, await probePolicyFacts(runner, roots));
}

/** `start begin`: refuses an uplink or floating IP another host on the provider network answers for. */
export async function refuseDuplicates(runner: Runner, spec: NetSpec): Promise<void> {
  const ips = [
    { what: "uplink", ip: formatIp(spec.uplink.address.address) },
    ...(spec.floating ?? []).map((f) => ({ what: "floating IP", ip: formatIp(f.address) })),
  ];
  const found = await Promise.all(
    ips.map((a) => probeDuplicateOnBridge(runner, spec.uplink.bridge, a.ip, spec.uplink.mac, BEGIN_DAD_WAIT_MS)),
  );
  const i = found.findIndex((m) => m !== null);
  if (i >= 0)
    throw conflict(
      `network "${spec.name}": ${ips[i]!.what} ${ips[i]!.ip} on bridge "${spec.uplink.bridge}" is already answered for by ${found[i]} (another host holds it; pick a free address)`,
    );
}
