// Every kernel-visible name vnat uses is derived here and nowhere else. Ownership lives
// in names (Neutron's qrouter-/qg- idea): the namespace is "vnat-NAME", host-side veth
// ends are "vnl-"/"vnu-" plus a hash of the network name, so a sweep can find vnat's
// objects on a live system without any state file, and names always fit IFNAMSIZ.
import { createHash } from "node:crypto";
import { invalid } from "./errors.ts";

export const NETNS_PREFIX = "vnat-";
export const LAN_HOST_PREFIX = "vnl-";
export const UPLINK_HOST_PREFIX = "vnu-";
/** interface names inside the namespace: the namespace gives them their own scope */
export const LAN_IF = "lan0";
export const UPLINK_IF = "wan0";
export const MAX_NAME_LENGTH = 32;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Refuses names that would not fit vnat's derived names or that carry anything but [A-Za-z0-9_.-]. */
export function validateNetworkName(name: string): string {
  if (name.length === 0) throw invalid(`network name is empty (expected 1-${MAX_NAME_LENGTH} characters)`);
  if (name.length > MAX_NAME_LENGTH)
    throw invalid(
      `network name "${printable(name.slice(0, 40))}…" is ${name.length} characters (vnat allows at most ${MAX_NAME_LENGTH})`,
    );
  if (!NAME_RE.test(name))
    throw invalid(
      `network name "${printable(name)}": only letters, digits, "_", "." and "-" are allowed, starting with a letter or digit`,
    );
  return name;
}

/** Makes untrusted text safe to echo in a one-line message: ASCII only, no quotes, at most MAX chars. */
export function printable(text: string, max = 64): string {
  const clipped = text.length > max ? `${text.slice(0, max)}…` : text;
  return clipped.replace(/[^\x20-\x7e…]/g, "?").replace(/"/g, "'");
}

export function hashName(name: string): string {
  return createHash("sha256").update(name).digest("hex").slice(0, 8);
}

export interface KernelNames {
  netns: string;
  lanHost: string;
  uplinkHost: string;
}

export function kernelNames(name: string): KernelNames {
  const h = hashName(name);
  return { netns: NETNS_PREFIX + name, lanHost: LAN_HOST_PREFIX + h, uplinkHost: UPLINK_HOST_PREFIX + h };
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
 * lan0's MAC: locally administered 02:77 followed by four bytes of the network name's hash.
 * Stable across restarts (guests keep their ARP entry for the gateway); it only has to be
 * unique on the network's own bridge.
 */
export function lanMac(name: string): string {
  const h = hashName(name);
  return ["02", "77", h.slice(0, 2), h.slice(2, 4), h.slice(4, 6), h.slice(6, 8)].join(":");
}

/** MACs vnat gives its namespaces' links (lan0: 02:77, wan0: 02:76). */
export function isVnatMac(mac: string): boolean {
  return /^02:7[67]:/i.test(mac);
}

export function isVnatNetns(ns: string): boolean {
  return ns.startsWith(NETNS_PREFIX);
}

export function isVnatLink(ifname: string): boolean {
  return /^vn[lu]-[0-9a-f]{8}$/.test(ifname);
}
