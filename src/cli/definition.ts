// A vnat network's persistent definition as the commands that change one read it (inbound
// edits, net set): every libvirt network's document (the others hold addresses a change must
// not take), and this one's, refused in one line when libvirt lacks it, it is transient, or it
// carries no vnat metadata.
import { dumpNetworks, listNetworks } from "../adapters/libvirt/virsh.ts";
import { invalid } from "../core/errors.ts";
import { parseNetworkXml } from "../core/observe/inventory.ts";
import type { HookNetwork } from "../core/input/hookdata.ts";
import type { XmlNode } from "../core/input/xml.ts";

export interface Definition {
  /** every libvirt network's persistent XML, by name */
  docs: Map<string, string>;
  /** this network's persistent XML */
  xml: string;
  net: HookNetwork & { metadata: XmlNode };
  /** libvirt runs it */
  active: boolean;
}

export async function loadVnatDefinition(name: string): Promise<Definition> {
  const where = `network "${name}"`;
  const list = await listNetworks();
  const entry = list.find((n) => n.name === name);
  if (!entry) throw invalid(`${where}: not defined in libvirt (see vnat net list)`);
  if (!entry.persistent)
    throw invalid(`${where}: is transient; vnat keeps its settings in a persistent definition (virsh net-define)`);
  const docs = await dumpNetworks(
    list.map((n) => n.name),
    true,
  );
  const xml = docs.get(name);
  if (xml === undefined) throw invalid(`${where}: libvirt returned no XML for it`);
  const net = parseNetworkXml(xml);
  if (!net.metadata) throw invalid(`${where}: not a vnat network (no vnat metadata); vnat leaves it alone`);
  return { docs, xml, net: { ...net, metadata: net.metadata }, active: entry.active };
}
