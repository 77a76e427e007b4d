// A provider network's IPv6 side in vnat's config file (issue 17): its gateway with the
// provider's IPv6 prefix, the pool uplinks6 come from (`--uplink6 auto`), and IPv6 DNS
// upstreams. Every address is kept as canonical text (core/ipv6.ts), never as a bigint,
// so a Provider stays plain JSON. Pure.
import { invalid } from "../errors.ts";
import {
  contains6,
  formatCidr6,
  formatIp6,
  formatSubnet6,
  parseCidr6,
  parseIp6,
  requireCidr6,
  requireHost6,
  requireIp6,
  requireRange6,
  type Cidr6,
} from "../ipv6.ts";

/** What the config file says (and `vnat provider add --gateway6/--pool6` writes). */
export interface Provider6Input {
  /** "2001:db8:100::1/64": the upstream router and the provider's IPv6 subnet */
  gateway6?: string;
  /** "2001:db8:100::100-2001:db8:100::1ff": where `auto` uplinks6 come from */
  pool6?: string;
  /** IPv6 DNS upstreams for the networks' dnsmasq */
  dns6?: string[];
}

/** The parsed IPv6 side of a provider: canonical text only. */
export interface Provider6 {
  gateway6?: string;
  pool6?: { start: string; end: string };
  dns6?: string[];
}

export const PROVIDER6_KEYS = ["gateway6", "pool6", "dns6"] as const;

/** The provider's IPv6 subnet prefix lengths vnat accepts (SLAAC-sized or larger: an uplink is one address of it). */
export const PROVIDER6_PREFIX = { min: 48, max: 64 } as const;

export function parseProvider6(bridge: string, p: Provider6Input): Provider6 {
  const where = `provider ${bridge}`;
  if (p.gateway6 === undefined) {
    if (p.pool6 !== undefined) throw invalid(`${where} pool6 "${String(p.pool6)}": needs a gateway6`);
    if (p.dns6 === undefined) return {};
  }
  let gw: Cidr6 | undefined;
  if (p.gateway6 !== undefined) {
    if (typeof p.gateway6 !== "string") throw invalid(`${where}: "gateway6" must be a string like 2001:db8:100::1/64`);
    gw = requireCidr6(`${where} gateway6`, p.gateway6, PROVIDER6_PREFIX.min, PROVIDER6_PREFIX.max);
    requireHost6(`${where} gateway6`, gw);
  }
  let pool6: Provider6["pool6"];
  if (p.pool6 !== undefined && gw) {
    const r = requireRange6(`${where} pool6`, String(p.pool6));
    if (!contains6(gw, r.start) || !contains6(gw, r.end))
      throw invalid(`${where} pool6 "${p.pool6}": outside the provider IPv6 subnet ${formatSubnet6(gw)}`);
    if (gw.address >= r.start && gw.address <= r.end)
      throw invalid(`${where} pool6 "${p.pool6}": includes the gateway6`);
    if ((r.start & ((1n << 64n) - 1n)) === 0n)
      throw invalid(`${where} pool6 "${p.pool6}": starts at the subnet-router anycast address`);
    pool6 = { start: formatIp6(r.start), end: formatIp6(r.end) };
  }
  if (p.dns6 !== undefined && !Array.isArray(p.dns6)) throw invalid(`${where}: "dns6" must be an array`);
  const dns6 = (p.dns6 ?? []).map((d) => formatIp6(requireIp6(`${where} dns6`, String(d))));
  return {
    ...(gw ? { gateway6: formatCidr6(gw) } : {}),
    ...(pool6 ? { pool6 } : {}),
    ...(dns6.length ? { dns6 } : {}),
  };
}

/** The provider's gateway6 as a prefix (it was validated when the config was read). */
export function gateway6Of(p: Provider6): Cidr6 | undefined {
  return p.gateway6 === undefined ? undefined : parseCidr6(p.gateway6);
}

/**
 * The first address of the provider's pool6 that no one holds (`vnat net create --uplink6 auto`):
 * TAKEN are canonical texts (other networks' uplinks6 and floating6, live claims); undefined when
 * the pool is full. At most LIMIT addresses are looked at (a /64 pool is never walked).
 */
export function allocateUplink6(p: Provider6, taken: readonly string[], limit = 65536): string | undefined {
  const gw = gateway6Of(p);
  if (!gw || !p.pool6) return undefined;
  const start = parseIp6(p.pool6.start)!;
  const end = parseIp6(p.pool6.end)!;
  const held = new Set(taken.map((t) => parseIp6(t)).filter((x): x is bigint => x !== undefined));
  for (let ip = start, n = 0; ip <= end && n < limit; ip++, n++)
    if (ip !== gw.address && !held.has(ip)) return formatCidr6({ address: ip, prefix: gw.prefix });
  return undefined;
}
