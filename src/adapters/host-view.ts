// What `vnat net create` must not collide with, read from the live host: every libvirt
// network's persistent XML (ONE virsh process for all of them), the interfaces in
// /sys/class/net, and the uplinks running vnat networks have claimed in /run/vnat.
import { readdir } from "node:fs/promises";
import type { Config } from "../core/config.ts";
import { knownNetworks, type KnownNetwork } from "../core/inventory.ts";
import { parseIp } from "../core/ipv4.ts";
import type { HostView } from "../core/netcreate.ts";
import { claimsDir, type Roots } from "../core/paths.ts";
import { dumpNetworks, listNetworks, type NetListEntry } from "./libvirt.ts";

export interface NetworkRow extends KnownNetwork {
  state: NetListEntry;
}

/** Every libvirt network with what its persistent XML says. */
export async function probeNetworks(config: Config): Promise<NetworkRow[]> {
  const list = await listNetworks();
  const docs = await dumpNetworks(
    list.map((n) => n.name),
    true,
  );
  const known = knownNetworks(docs, config);
  return list.map((state) => ({ ...(known.find((k) => k.name === state.name) ?? { name: state.name }), state }));
}

async function listDir(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => [] as string[]);
}

/** Uplink addresses claimed on BRIDGE by vnat networks that have run (claims: BRIDGE@IP). */
export async function probeClaims(roots: Roots, bridge: string): Promise<Set<number>> {
  const out = new Set<number>();
  for (const f of await listDir(claimsDir(roots))) {
    const at = f.lastIndexOf("@");
    const ip = parseIp(f.slice(at + 1));
    if (at > 0 && f.slice(0, at) === bridge && ip !== undefined) out.add(ip);
  }
  return out;
}

export async function probeHostView(config: Config, roots: Roots, providerBridge: string): Promise<HostView> {
  const [networks, links, claimed] = await Promise.all([
    probeNetworks(config),
    listDir("/sys/class/net"),
    probeClaims(roots, providerBridge),
  ]);
  return { networks, links: new Set(links), claimed };
}
