// IPv4 arithmetic on plain numbers: addresses are unsigned 32-bit integers.
import { invalid } from "./errors.ts";
import { printable } from "./names.ts";

export interface Cidr {
  /** the address as written (host part kept) */
  address: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Parses dotted-quad text; undefined when it is not exactly an IPv4 address. */
export function parseIp(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function parseCidr(text: string): Cidr | undefined {
  // no leading zeros: "/08" is refused like "010.0.0.1" (tools disagree on what it means)
  const m = /^([0-9.]+)\/(0|[1-9]\d?)$/.exec(text);
  if (!m) return undefined;
  const address = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 32) return undefined;
  return { address, prefix };
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function networkOf(c: Cidr): number {
  return (c.address & mask(c.prefix)) >>> 0;
}

export function broadcastOf(c: Cidr): number {
  return (networkOf(c) | ~mask(c.prefix)) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & mask(c.prefix)) >>> 0 === networkOf(c);
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.address)}/${c.prefix}`;
}

/** "10.0.0.0/24" for the network the address lies in. */
export function formatSubnet(c: Cidr): string {
  return `${formatIp(networkOf(c))}/${c.prefix}`;
}

export function netmaskText(prefix: number): string {
  return formatIp(mask(prefix));
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.address & mask(p)) >>> 0 === (b.address & mask(p)) >>> 0;
}

/** A usable host address in its subnet: not the network or broadcast address (for prefixes < 31). */
export function isHostAddress(c: Cidr, ip: number = c.address): boolean {
  if (!contains(c, ip)) return false;
  if (c.prefix >= 31) return true;
  return ip !== networkOf(c) && ip !== broadcastOf(c);
}

/** Parses "A.B.C.D" or throws a one-line error naming the field. */
export function requireIp(field: string, text: string): number {
  const ip = parseIp(text);
  if (ip === undefined) throw invalid(`${field} "${printable(text)}": not an IPv4 address (expected A.B.C.D)`);
  return ip;
}

/** Parses "A.B.C.D/N" or throws a one-line error naming the field. */
export function requireCidr(field: string, text: string, minPrefix = 8, maxPrefix = 30): Cidr {
  const c = parseCidr(text);
  if (!c) throw invalid(`${field} "${printable(text)}": not an IPv4 address with prefix (expected A.B.C.D/N)`);
  if (c.prefix < minPrefix || c.prefix > maxPrefix)
    throw invalid(`${field} "${text}": prefix /${c.prefix} not allowed (expected /${minPrefix} to /${maxPrefix})`);
  if (!isHostAddress(c))
    throw invalid(
      `${field} "${text}": is the network or broadcast address of ${formatSubnet(c)} (expected a host address)`,
    );
  return c;
}

/** Parses "START-END" (two addresses, START <= END). */
export function requireRange(field: string, text: string): { start: number; end: number } {
  const m = /^([0-9.]+)-([0-9.]+)$/.exec(text);
  const start = m ? parseIp(m[1]!) : undefined;
  const end = m ? parseIp(m[2]!) : undefined;
  if (start === undefined || end === undefined)
    throw invalid(`${field} "${printable(text)}": not an address range (expected A.B.C.D-A.B.C.D)`);
  if (start > end) throw invalid(`${field} "${printable(text)}": start is after end`);
  return { start, end };
}
