// Every libvirt network with its XML, for status and reconcile: one virsh process lists
// them by UUID, ONE more dumps them all (live XML, and for an active persistent network
// also its persistent XML: vnat's CLI writes live-applied changes there). Each name is
// read from its network's XML, never parsed out of virsh's table (see libvirt.ts).
import { dumpAllNetworks, type NetworkDump } from "./virsh.ts";

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

/** A network undefined between the list and the dump is left out; any other missing XML is an error. */
export async function readLibvirtNetworks(): Promise<LibvirtNetwork[]> {
  return (await dumpAllNetworks({ persistentToo: true })).map((n: NetworkDump) => ({
    name: n.name,
    active: n.active,
    autostart: n.autostart,
    persistent: n.persistent,
    xml: n.xml,
    ...(n.persistentXml !== undefined ? { persistentXml: n.persistentXml } : {}),
  }));
}
