// Every kernel-visible name vnat uses is derived here and nowhere else. Ownership lives
// in names (Neutron's qrouter-/qg- idea): the namespace is "vnat-NAME", host-side veth
// ends are "vnl-"/"vnu-" plus a hash of the network name, so a sweep can find vnat's
// objects on a live system without any state file, and names always fit IFNAMSIZ. A hash
// can collide, so each host-side link also carries its owner in its alias ("vnat:NAME",
// /sys/class/net/IF/ifalias): teardown and the sweeps never take another network's link.
import { createHash } from "node:crypto";
import { invalid } from "./errors.ts";

export const NETNS_PREFIX = "vnat-";
export const LAN_HOST_PREFIX = "vnl-";
export const UPLINK_HOST_PREFIX = "vnu-";
/** interface names inside the namespace: the namespace gives them their own scope */
export const LAN_IF = "lan0";
export const UPLINK_IF = "wan0";
/** vnat's nft table inside each namespace: `table ip vnat` (core/plan/render.ts renders it) */
export const NFT_TABLE = "vnat";
export const MAX_NAME_LENGTH = 32;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

declare const checked: unique symbol;
/**
 * A network name validateNetworkName (or isNetworkName) accepted: 1-32 of [A-Za-z0-9_.-],
 * safe in paths and kernel names. The hook checks the name libvirt passes once, at its
 * entry (hook/event.ts), and hands this type on; everything it calls can rely on it.
 */
export type NetworkName = string & { readonly [checked]: "NetworkName" };

/** Refuses names that would not fit vnat's derived names or that carry anything but [A-Za-z0-9_.-]. */
export function validateNetworkName(name: string): NetworkName {
  if (name.length === 0) throw invalid(`network name is empty (expected 1-${MAX_NAME_LENGTH} characters)`);
  if (name.length > MAX_NAME_LENGTH)
    throw invalid(
      `network name "${printable(name.slice(0, 40))}…" is ${name.length} characters (vnat allows at most ${MAX_NAME_LENGTH})`,
    );
  if (!NAME_RE.test(name))
    throw invalid(
      `network name "${printable(name)}": only letters, digits, "_", "." and "-" are allowed, starting with a letter or digit`,
    );
  return name as NetworkName;
}

/** NAME is a valid network name (validateNetworkName would accept it). */
export function isNetworkName(name: string): name is NetworkName {
  return name.length >= 1 && name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

/** Makes untrusted text safe to echo in a one-line message: ASCII only, no quotes, at most MAX chars. */
export function printable(text: string, max = 64): string {
  const clipped = text.length > max ? `${text.slice(0, max)}…` : text;
  return clipped.replace(/[^\x20-\x7e…]/g, "?").replace(/"/g, "'");
}

/** Hex digits of the name's hash in a host link name: "vnl-" + 11 = 15 = IFNAMSIZ - 1 (44 bits). */
export const LINK_HASH_HEX = 11;
/** What vnat used before (32 bits): networks started then still run on such links. */
export const LEGACY_LINK_HASH_HEX = 8;

/** The first HEX hex digits of sha256(NAME). */
export function hashName(name: string, hex: number = LINK_HASH_HEX): string {
  return createHash("sha256").update(name).digest("hex").slice(0, hex);
}

export interface KernelNames {
  netns: string;
  lanHost: string;
  uplinkHost: string;
}

/** Network NAME's namespace: "vnat-NAME" (`ip netns exec vnat-NAME`, /run/netns/vnat-NAME). */
export function netnsName(name: string): string {
  return NETNS_PREFIX + name;
}

/** The network a namespace of vnat's is named after ("vnat-NAME" → NAME); undefined for any other namespace. */
export function netnsNetwork(netns: string): string | undefined {
  return isVnatNetns(netns) ? netns.slice(NETNS_PREFIX.length) : undefined;
}

export function kernelNames(name: string): KernelNames {
  const h = hashName(name);
  return { netns: netnsName(name), lanHost: LAN_HOST_PREFIX + h, uplinkHost: UPLINK_HOST_PREFIX + h };
}

/** The names an older vnat (32-bit hash) gave network NAME's host links: teardown still finds them. */
export function legacyKernelNames(name: string): KernelNames {
  const h = hashName(name, LEGACY_LINK_HASH_HEX);
  return { netns: netnsName(name), lanHost: LAN_HOST_PREFIX + h, uplinkHost: UPLINK_HOST_PREFIX + h };
}

/** Every host link name network NAME may have (today's first, then an older vnat's). */
export function hostLinkNames(name: string): string[] {
  const k = kernelNames(name);
  const l = legacyKernelNames(name);
  return [k.lanHost, k.uplinkHost, l.lanHost, l.uplinkHost];
}

export const OWNER_ALIAS_PREFIX = "vnat:";

/** The alias vnat gives every host link it creates for network NAME: "vnat:NAME" (names are [A-Za-z0-9_.-]). */
export function ownerAlias(name: string): string {
  return OWNER_ALIAS_PREFIX + validateNetworkName(name);
}

/** The network an interface alias names, as ownerAlias writes it; undefined for no alias or any other text. */
export function aliasOwner(alias: string | null | undefined): string | undefined {
  const text = alias?.trim();
  if (!text?.startsWith(OWNER_ALIAS_PREFIX)) return undefined;
  const name = text.slice(OWNER_ALIAS_PREFIX.length);
  return isNetworkName(name) ? name : undefined;
}

/**
 * The uplink MAC: locally administered 02:76 followed by the four bytes of the uplink
 * address. It is stable across restarts of the network, and unique on the provider
 * network exactly as long as uplink addresses are (which vnat enforces).
 */
export function uplinkMac(uplinkIp: number): string {
  const bytes = [0x02, 0x76, uplinkIp >>> 24, (uplinkIp >>> 16) & 255, (uplinkIp >>> 8) & 255, uplinkIp & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * lan0's MAC: locally administered 02:77 followed by four bytes (the first 32 bits) of the
 * network name's hash, as it always was. Stable across restarts and upgrades (guests keep
 * their ARP entry for the gateway); it only has to be unique on the network's own bridge,
 * so two networks may share it (tenant-39588 and tenant-67738 do) without colliding.
 */
export function lanMac(name: string): string {
  const h = hashName(name, 8);
  return ["02", "77", h.slice(0, 2), h.slice(2, 4), h.slice(4, 6), h.slice(6, 8)].join(":");
}

/** MACs vnat gives its namespaces' links (lan0: 02:77, wan0: 02:76). */
export function isVnatMac(mac: string): boolean {
  return /^02:7[67]:/i.test(mac);
}

export function isVnatNetns(ns: string): boolean {
  return ns.startsWith(NETNS_PREFIX);
}

/** A host link name of vnat's: today's (11 hex digits) or an older vnat's (8). */
export function isVnatLink(ifname: string): boolean {
  return /^vn[lu]-(?:[0-9a-f]{11}|[0-9a-f]{8})$/.test(ifname);
}

/** Host links of a segment's veth pair (issue 19): "vsl-" in the network's bridge, "vss-" in the segment's. */
export const SEGMENT_LAN_PREFIX = "vsl-";
export const SEGMENT_PEER_PREFIX = "vss-";

/**
 * The veth pair that patches bridge DEVICE into network NAME's bridge: 11 hex digits of
 * sha256("NAME\nDEVICE") after the prefix (15 = IFNAMSIZ - 1), so each (network, device)
 * has its own pair, found again from the names alone; both ends carry ownerAlias(NAME).
 */
export function segmentLinkNames(name: string, device: string): { lan: string; peer: string } {
  const h = hashName(`${name}\n${device}`);
  return { lan: SEGMENT_LAN_PREFIX + h, peer: SEGMENT_PEER_PREFIX + h };
}

/** A segment veth end of vnat's (segmentLinkNames). */
export function isSegmentLink(ifname: string): boolean {
  return /^vs[ls]-[0-9a-f]{11}$/.test(ifname);
}
