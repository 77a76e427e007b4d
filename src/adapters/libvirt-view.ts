// Every libvirt network with its XML, for status and reconcile: `net-list` once, then ONE
// virsh process for all the dumps (live XML, and for an active persistent network also
// its persistent XML: vnat's CLI writes live-applied changes there).
import { listNetworks, virshBatch } from "./libvirt.ts";

export interface LibvirtNetwork {
  name: string;
  active: boolean;
  autostart: boolean;
  persistent: boolean;
  /** live XML of an active network, else its definition */
  xml: string;
  /** the persistent definition of an active persistent network */
  persistentXml?: string;
}

export async function readLibvirtNetworks(): Promise<LibvirtNetwork[]> {
  const list = await listNetworks();
  const commands: string[][] = [];
  for (const n of list) {
    commands.push(["net-dumpxml", n.name]);
    if (n.active && n.persistent) commands.push(["net-dumpxml", "--inactive", n.name]);
  }
  const outs = await virshBatch(commands);
  const nets: LibvirtNetwork[] = [];
  let i = 0;
  for (const n of list) {
    const xml = outs[i++] ?? "";
    const persistentXml = n.active && n.persistent ? outs[i++] : undefined;
    // a network undefined between the list and the dump has no XML: skip it
    if (!xml.includes("<network")) continue;
    nets.push({ ...n, xml, ...(persistentXml?.includes("<network") ? { persistentXml } : {}) });
  }
  return nets;
}
