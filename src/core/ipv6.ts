// IPv6 arithmetic on bigints: an address is an unsigned 128-bit integer. Text is read
// strictly (RFC 4291 forms, no zone index, no leading "0x") and written in the one
// canonical form of RFC 5952 (lowercase, no leading zeros, the longest run of two or more
// zero groups compressed), so the same address always has the same text (claims are keyed
// by it). Pure, no dependencies; src/core/ipv4.ts is the IPv4 twin.
import { invalid } from "./errors.ts";
import { parseIp } from "./ipv4.ts";
import { printable } from "./names.ts";

export interface Cidr6 {
  /** the address as written (host part kept) */
  address: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;
const GROUP = /^[0-9a-fA-F]{1,4}$/;
/** the longest text form: 8 groups of 4 and 7 colons, or 6 groups and a dotted quad */
const MAX_TEXT = 45;

function groups(part: string): number[] | undefined {
  if (part === "") return [];
  const out: number[] = [];
  const items = part.split(":");
  for (let i = 0; i < items.length; i++) {
    const g = items[i]!;
    if (i === items.length - 1 && g.includes(".")) {
      const v4 = parseIp(g);
      if (v4 === undefined) return undefined;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (GROUP.test(g)) out.push(Number.parseInt(g, 16));
    else return undefined;
  }
  return out;
}

/** Parses IPv6 text; undefined when it is not exactly an IPv6 address. */
export function parseIp6(text: string): bigint | undefined {
  if (typeof text !== "string" || text.length < 2 || text.length > MAX_TEXT) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  let words: number[];
  if (halves.length === 2) {
    const head = groups(halves[0]!);
    const tail = groups(halves[1]!);
    // a dotted quad only at the very end
    if (!head || !tail || halves[0]!.includes(".")) return undefined;
    if (head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = groups(text);
    if (!all || all.length !== 8) return undefined;
    words = all;
  }
  return words.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** RFC 5952 text of an address. */
export function formatIp6(n: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  // the longest run of at least two zero words (the first of equal runs)
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

export function parseCidr6(text: string): Cidr6 | undefined {
  if (typeof text !== "string") return undefined;
  const m = /^([0-9a-fA-F:.]+)\/(0|[1-9]\d{0,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseIp6(m[1]!);
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 128) return undefined;
  return { address, prefix };
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

export function networkOf6(c: Cidr6): bigint {
  return c.address & mask6(c.prefix);
}

/** the host part (the address's bits below the prefix) */
export function hostPart6(c: Cidr6, ip: bigint = c.address): bigint {
  return ip & ~mask6(c.prefix) & ALL;
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === networkOf6(c);
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const m = mask6(Math.min(a.prefix, b.prefix));
  return (a.address & m) === (b.address & m);
}

export function formatCidr6(c: Cidr6): string {
  return `${formatIp6(c.address)}/${c.prefix}`;
}

/** "fd00:a::/64" for the network the address lies in. */
export function formatSubnet6(c: Cidr6): string {
  return `${formatIp6(networkOf6(c))}/${c.prefix}`;
}

/** IP's host part under prefix TO (NPTv6's 1:1 mapping of one /N onto another). */
export function translate6(ip: bigint, to: Cidr6): bigint {
  return networkOf6(to) | hostPart6(to, ip);
}

const within = (ip: bigint, net: string): boolean => contains6(parseCidr6(net)!, ip);

/** fc00::/7, the unique local addresses (RFC 4193) */
export const isUla6 = (ip: bigint): boolean => within(ip, "fc00::/7");
export const isLinkLocal6 = (ip: bigint): boolean => within(ip, "fe80::/10");
export const isMulticast6 = (ip: bigint): boolean => within(ip, "ff00::/8");

/** What kind of address IP is not allowed to be as a unicast address of vnat's, or undefined. */
export function nonUnicast6(ip: bigint): string | undefined {
  if (ip === 0n) return "the unspecified address";
  if (ip === 1n) return "the loopback address";
  if (isMulticast6(ip)) return "a multicast address";
  if (isLinkLocal6(ip)) return "a link-local address";
  if (within(ip, "::ffff:0:0/96")) return "an IPv4-mapped address";
  return undefined;
}

/** The modified EUI-64 SLAAC address a MAC forms in /64 PREFIX (RFC 4291 appendix A). */
export function eui64(prefix: Cidr6, mac: string): bigint {
  const b = mac.split(":").map((x) => Number.parseInt(x, 16));
  if (b.length !== 6 || b.some((x) => !(x >= 0 && x <= 255))) throw new Error(`eui64: not a MAC "${mac}"`);
  const iid = [b[0]! ^ 2, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!].reduce((a, x) => (a << 8n) | BigInt(x), 0n);
  return networkOf6({ address: prefix.address, prefix: 64 }) | iid;
}

/** Parses an IPv6 address or throws a one-line error naming the field. */
export function requireIp6(field: string, text: string): bigint {
  const ip = parseIp6(text);
  if (ip === undefined) throw invalid(`${field} "${printable(text)}": not an IPv6 address (expected e.g. 2001:db8::1)`);
  return ip;
}

/** Parses "ADDR/N" or throws a one-line error naming the field. */
export function requireCidr6(field: string, text: string, minPrefix = 8, maxPrefix = 128): Cidr6 {
  const c = parseCidr6(text);
  if (!c)
    throw invalid(`${field} "${printable(text)}": not an IPv6 address with prefix (expected e.g. 2001:db8::1/64)`);
  if (c.prefix < minPrefix || c.prefix > maxPrefix)
    throw invalid(
      `${field} "${text}": prefix /${c.prefix} not allowed (expected ${minPrefix === maxPrefix ? `/${minPrefix}` : `/${minPrefix} to /${maxPrefix}`})`,
    );
  return c;
}

/** A host address of a subnet vnat configures: unicast, and not the subnet-router anycast (host part 0). */
export function requireHost6(field: string, c: Cidr6, ip: bigint = c.address): void {
  const bad = nonUnicast6(ip);
  if (bad) throw invalid(`${field} ${formatIp6(ip)}: is ${bad} (expected a unicast address)`);
  if (c.prefix < 127 && hostPart6(c, ip) === 0n)
    throw invalid(
      `${field} ${formatIp6(ip)}: is the subnet-router anycast address of ${formatSubnet6(c)} (expected a host address)`,
    );
}

/** Parses "START-END" (two addresses, START <= END). */
export function requireRange6(field: string, text: string): { start: bigint; end: bigint } {
  const m = typeof text === "string" ? /^([0-9a-fA-F:.]+)-([0-9a-fA-F:.]+)$/.exec(text) : null;
  const start = m ? parseIp6(m[1]!) : undefined;
  const end = m ? parseIp6(m[2]!) : undefined;
  if (start === undefined || end === undefined)
    throw invalid(`${field} "${printable(String(text))}": not an IPv6 address range (expected ADDR-ADDR)`);
  if (start > end) throw invalid(`${field} "${printable(text)}": start is after end`);
  return { start, end };
}
