// What the libvirt networks already on the host hold, read from their XML documents
// (`virsh net-dumpxml`): bridge names, and for vnat networks the uplink each one uses.
// Parsed by the hook's own parser, so the CLI and the hook never disagree on what a
// network's metadata says. Pure.
import { findProvider, type Config } from "../input/config.ts";
import { parseHookData, type HookNetwork } from "../input/hookdata.ts";
import { parseCidr, type Cidr } from "../ipv4.ts";
import { modelFromMetadata, type MetadataModel } from "../input/metadata.ts";

export interface KnownNetwork {
  name: string;
  bridge?: string;
  /** the vnat metadata, when the network has any */
  vnat?: MetadataModel;
  /** the provider bridge and uplink the metadata names (after config defaults) */
  uplinkBridge?: string;
  uplink?: Cidr;
}

/** Parses one `net-dumpxml` document as the hook would see it. */
export function parseNetworkXml(xml: string): HookNetwork {
  const body = xml.replace(/^\s*<\?xml[^>]*\?>/, "");
  return parseHookData(`<hookData>${body}</hookData>`).network;
}

export function knownNetwork(xml: string, config: Config): KnownNetwork {
  const net = parseNetworkXml(xml);
  if (!net.metadata) return { name: net.name, bridge: net.bridge };
  const vnat = modelFromMetadata(net.metadata);
  return {
    name: net.name,
    bridge: net.bridge,
    vnat,
    uplinkBridge: vnat.uplink.bridge ?? findProvider(config, undefined)?.bridge,
    uplink: parseCidr(vnat.uplink.address),
  };
}

/** Every network's facts; a document that does not parse still yields its bridge name if visible. */
export function knownNetworks(docs: Iterable<[string, string]>, config: Config): KnownNetwork[] {
  const out: KnownNetwork[] = [];
  for (const [name, xml] of docs) {
    try {
      out.push(knownNetwork(xml, config));
    } catch {
      out.push({ name, bridge: /<bridge\s[^>]*name=["']([^"']+)["']/.exec(xml)?.[1] });
    }
  }
  return out;
}
