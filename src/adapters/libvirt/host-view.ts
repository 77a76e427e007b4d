// What `vnat net create` must not collide with, read from the live host: every libvirt
// network's persistent XML (one virsh process lists them by UUID, ONE more dumps them
// all), the interfaces in /sys/class/net, and the uplinks running vnat networks have
// claimed in /run/vnat.
import { readdir } from "node:fs/promises";
import type { Config } from "../../core/input/config.ts";
import { knownNetworks, type KnownNetwork } from "../../core/observe/inventory.ts";
import { parseIp } from "../../core/ipv4.ts";
import type { HostView } from "../../core/edit/netcreate.ts";
import { claimsDir, type Roots } from "../../core/paths.ts";
import { dumpAllNetworks, type NetListEntry } from "./virsh.ts";

export interface NetworkRow extends KnownNetwork {
  state: NetListEntry;
}

/** Every libvirt network with what its persistent XML says. */
export async function probeNetworks(config: Config): Promise<NetworkRow[]> {
  const nets = await dumpAllNetworks({ inactive: true });
  // one fact per document, in order; the name is libvirt's exact one (the parsed XML trims it)
  const known = knownNetworks(
    nets.map((n) => [n.name, n.xml]),
    config,
  );
  return nets.map(({ name, uuid, active, autostart, persistent }, i) => ({
    ...known[i],
    name,
    state: { name, uuid, active, autostart, persistent },
  }));
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
