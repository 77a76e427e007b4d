// Parses what libvirt writes to a network hook's stdin: <hookData><network>…</network>
// [<networkport>…]</hookData>. Only what vnat needs is kept; the vnat metadata element is
// located by its XML namespace, whatever prefix the user chose.
import { invalid } from "../errors.ts";
import { attr, child, children, parseXml, text, type XmlNode } from "./xml.ts";

export const VNAT_XMLNS = "urn:vnat:network:1";

export interface HookNetwork {
  name: string;
  uuid?: string;
  bridge?: string;
  hasIp: boolean;
  forwardMode?: string;
  /** the <vnat:network> element with its prefix stripped from keys, when present */
  metadata?: XmlNode;
}

export interface HookPort {
  uuid?: string;
  ownerName?: string;
  ownerUuid?: string;
  mac?: string;
}

export interface HookData {
  network: HookNetwork;
  port?: HookPort;
}

/** A cheap test the hook runs before loading the XML parser: no vnat namespace, nothing to do. */
export function mentionsVnat(xmlText: string): boolean {
  return xmlText.includes(VNAT_XMLNS);
}

export function parseHookData(xmlText: string): HookData {
  const doc = parseXml("hook data", xmlText);
  const root = child(doc, "hookData");
  const net = child(root, "network");
  if (!net) throw invalid("hook data: no <network> element in <hookData>");
  // libvirt writes each of these once; a second one would be read by nobody and hide intent
  for (const key of ["network", "networkport"])
    if (children(root, key).length > 1) throw invalid(`hook data: <${key}> given ${children(root, key).length} times`);
  for (const key of ["name", "uuid", "bridge", "forward", "metadata"])
    if (children(net, key).length > 1)
      throw invalid(`hook data: <network> has ${children(net, key).length} <${key}> elements`);
  const name = text(net, "name");
  if (!name) throw invalid("hook data: <network> has no <name>");
  const bridge = attr(child(net, "bridge"), "name");
  const forward = child(net, "forward");
  const port = child(root, "networkport");
  return {
    network: {
      name,
      uuid: text(net, "uuid"),
      bridge,
      hasIp: children(net, "ip").length > 0,
      forwardMode: forward ? (attr(forward, "mode") ?? "nat") : undefined,
      metadata: findVnatMetadata(child(net, "metadata")),
    },
    port: port ? parsePort(port) : undefined,
  };
}

function parsePort(port: XmlNode): HookPort {
  const owner = child(port, "owner");
  return {
    uuid: text(port, "uuid"),
    ownerName: text(owner, "name"),
    ownerUuid: text(owner, "uuid"),
    mac: attr(child(port, "mac"), "address"),
  };
}

/** Finds the element bound to VNAT_XMLNS under <metadata> and strips its prefix from every key. */
export function findVnatMetadata(metadata: XmlNode | undefined): XmlNode | undefined {
  if (!metadata) return undefined;
  const found: XmlNode[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const colon = key.indexOf(":");
    const prefix = colon >= 0 ? key.slice(0, colon) : "";
    for (const el of Array.isArray(value) ? value : [value]) {
      if (typeof el !== "object") continue;
      const xmlns = prefix ? el[`@xmlns:${prefix}`] : el["@xmlns"];
      if (xmlns === VNAT_XMLNS) found.push(stripPrefix(el, prefix));
    }
  }
  if (found.length > 1)
    throw invalid(`hook data: <metadata> has ${found.length} elements in namespace ${VNAT_XMLNS} (at most one)`);
  return found[0];
}

function stripPrefix(node: XmlNode, prefix: string): XmlNode {
  if (!prefix) return node;
  const out: XmlNode = {};
  for (const [key, value] of Object.entries(node)) {
    const bare = key.startsWith(prefix + ":") ? key.slice(prefix.length + 1) : key;
    const bareAttr = key.startsWith(`@${prefix}:`) ? "@" + key.slice(prefix.length + 2) : bare;
    const stripped =
      typeof value === "string"
        ? value
        : Array.isArray(value)
          ? value.map((v) => stripPrefix(v, prefix))
          : stripPrefix(value, prefix);
    // an own property even for "__proto__": validation then refuses it as an unknown element
    Object.defineProperty(out, bareAttr, { value: stripped, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
