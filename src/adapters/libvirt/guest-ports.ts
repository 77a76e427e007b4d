// Running guests on a libvirt network and their ports, through virsh (the CLI only).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { guestPortsOn, renderPortXml, type GuestPort } from "../../core/observe/guest-ports.ts";
import { virsh, virshBatch } from "./virsh.ts";

/** Every running guest interface on NETWORK: one virsh lists the domains, one more dumps them all. */
export async function probeGuestPorts(network: string): Promise<GuestPort[]> {
  const ids = (await virsh(["list", "--uuid"]))
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const docs = await virshBatch(ids.map((id) => ["dumpxml", id]));
  // a guest that stopped between the list and its dump has no XML, and no port to restore
  return docs.flatMap((xml) => (xml.includes("<domain") ? guestPortsOn(xml, network) : []));
}

/** `virsh net-port-create`: libvirt's record of the port again (and the network hook's port-created). */
export async function createPort(networkUuid: string, port: GuestPort): Promise<void> {
  const dir = await mkdtemp("/tmp/vnat-port-");
  try {
    await writeFile(`${dir}/port.xml`, renderPortXml(port), { mode: 0o600 });
    await virsh(["net-port-create", "--network", networkUuid, "--file", `${dir}/port.xml`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
