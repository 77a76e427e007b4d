// The CLI's inbound edits as pure functions on the metadata model. They check only what
// they need to find or place an entry; everything else is validated afterwards by
// buildSpec on the whole new document, so the hook and the CLI share one set of rules.
import { invalid } from "../errors.ts";
import { formatPorts, parsePortRange, type TakenAddress } from "../input/inbound.ts";
import type { KnownNetwork } from "../observe/inventory.ts";
import { parseIp } from "../ipv4.ts";
import type { MetadataModel } from "../input/metadata.ts";
import { printable } from "../names.ts";

function requirePorts(where: string, text: string): string {
  const p = parsePortRange(text);
  if (!p) throw invalid(`${where}: port "${printable(text)}": expected 1-65535 or START-END`);
  return formatPorts(p[0], p[1]);
}

function requireProto(where: string, proto: string): string {
  if (proto !== "tcp" && proto !== "udp")
    throw invalid(`${where}: protocol "${printable(proto)}": expected tcp or udp`);
  return proto;
}

/** `GUEST_IP[:PORT[-PORT]]` → the forward's to / to-port attributes. */
export function parseTarget(where: string, text: string): { to: string; toPort?: string } {
  const [to = "", port, extra] = text.split(":");
  if (extra !== undefined || to === "")
    throw invalid(`${where}: target "${printable(text)}": expected GUEST_IP[:PORT]`);
  return port === undefined ? { to } : { to, toPort: requirePorts(where, port) };
}

export function addForward(m: MetadataModel, net: string, proto: string, ports: string, target: string): MetadataModel {
  const where = `network "${net}": forward`;
  const p = requireProto(where, proto);
  const port = requirePorts(`${where} ${p}`, ports);
  const t = parseTarget(`${where} ${p} ${port}`, target);
  return { ...m, forwards: [...(m.forwards ?? []), { proto: p, port, ...t }] };
}

export function removeForward(m: MetadataModel, net: string, proto: string, ports: string): MetadataModel {
  const where = `network "${net}": forward`;
  const p = requireProto(where, proto);
  const port = requirePorts(`${where} ${p}`, ports);
  const list = m.forwards ?? [];
  const keep = list.filter((f) => !(f.proto === p && f.port === port));
  if (keep.length === list.length) {
    const have = list.map((f) => `${f.proto} ${f.port}`).join(", ") || "none";
    throw invalid(`${where} ${p} ${port}: not forwarded (forwards: ${have})`);
  }
  return { ...m, forwards: keep };
}

export function addFloating(m: MetadataModel, _net: string, address: string, to: string): MetadataModel {
  return { ...m, floating: [...(m.floating ?? []), { address, to }] };
}

export function removeFloating(m: MetadataModel, net: string, address: string): MetadataModel {
  const list = m.floating ?? [];
  const keep = list.filter((f) => f.address !== address);
  if (keep.length === list.length)
    throw invalid(
      `network "${net}": floating ${printable(address)}: not configured (floating IPs: ${list.map((f) => f.address).join(", ") || "none"})`,
    );
  return { ...m, floating: keep };
}

export function addHost(m: MetadataModel, _net: string, mac: string, ip: string, name?: string): MetadataModel {
  return { ...m, hosts: [...(m.hosts ?? []), { mac: mac.toLowerCase(), ip, ...(name !== undefined ? { name } : {}) }] };
}

export function removeHost(m: MetadataModel, net: string, mac: string): MetadataModel {
  const list = m.hosts ?? [];
  const keep = list.filter((h) => h.mac.toLowerCase() !== mac.toLowerCase());
  if (keep.length === list.length) throw invalid(`network "${net}": host ${printable(mac)}: not configured`);
  return { ...m, hosts: keep };
}

/**
 * Addresses other vnat networks hold on provider bridges: every defined network's uplink
 * and floating IPs (persistent XML), plus the claims of running ones (which may differ
 * from their definitions until they restart).
 */
export function takenAddresses(networks: KnownNetwork[], claims: TakenAddress[], self: string): TakenAddress[] {
  const out: TakenAddress[] = claims.filter((c) => c.owner !== self);
  for (const n of networks) {
    if (n.name === self || !n.vnat || !n.uplinkBridge) continue;
    const ips = [n.uplink?.address, ...(n.vnat.floating ?? []).map((f) => parseIp(f.address))];
    for (const ip of ips) if (ip !== undefined) out.push({ bridge: n.uplinkBridge, ip, owner: n.name });
  }
  return out;
}
