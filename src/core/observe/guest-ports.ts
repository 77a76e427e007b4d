// Running guests' interfaces on one libvirt network, read from their live domain XML, and
// the network port libvirt keeps for each. libvirt 9.0 forgets a network's ports at
// net-destroy and does not put guests' taps back on the bridge at net-start (measured:
// docs/adopt.md), so a command that restarts a network with guests on it re-creates both
// from this. Pure.
import { invalid } from "../errors.ts";
import { validateIfname } from "../input/ifname.ts";
import { attr, child, children, parseXml, text } from "../input/xml.ts";

export interface GuestPort {
  domain: string;
  domainUuid: string;
  mac: string;
  /** the tap device (vnetN) */
  tap: string;
  /** the port's UUID in libvirt (<source portid>) */
  portid: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The interfaces of one running domain (`virsh dumpxml`) that are plugged into NETWORK. */
export function guestPortsOn(domainXml: string, network: string): GuestPort[] {
  const dom = child(parseXml("domain", domainXml.replace(/^\s*<\?xml[^>]*\?>/, "")), "domain");
  const name = text(dom, "name") ?? "";
  const uuid = (text(dom, "uuid") ?? "").toLowerCase();
  const out: GuestPort[] = [];
  for (const i of children(child(dom, "devices"), "interface")) {
    const source = child(i, "source");
    if (attr(i, "type") !== "network" || attr(source, "network") !== network) continue;
    const mac = (attr(child(i, "mac"), "address") ?? "").toLowerCase();
    const tap = attr(child(i, "target"), "dev") ?? "";
    const portid = (attr(source, "portid") ?? "").toLowerCase();
    const where = `domain "${name}" interface ${mac}`;
    if (!UUID_RE.test(uuid) || !MAC_RE.test(mac) || !UUID_RE.test(portid))
      throw invalid(`${where}: libvirt's XML lacks its UUID, MAC or port id`);
    out.push({ domain: name, domainUuid: uuid, mac, tap: validateIfname(`${where}: tap`, tap), portid });
  }
  return out;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * The port as `virsh net-port-create` takes it: no <plug> (libvirt 9.0 refuses one without
 * its reclaim flag, which virsh does not offer), so libvirt fills in the network's bridge.
 */
export function renderPortXml(p: GuestPort): string {
  return [
    "<networkport>",
    `  <uuid>${p.portid}</uuid>`,
    `  <owner>`,
    `    <name>${esc(p.domain)}</name>`,
    `    <uuid>${p.domainUuid}</uuid>`,
    `  </owner>`,
    `  <mac address='${p.mac}'/>`,
    "</networkport>",
    "",
  ].join("\n");
}
