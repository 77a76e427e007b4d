// A provider's IPv6 keys as the CLI writes them to the config (issue 17): canonical text
// (RFC 5952, core/ipv6.ts) wherever the value parses; anything else is kept as given, so the
// config's own parser (core/input/config6.ts) refuses it with its one line. Pure.
import { formatCidr6, formatIp6, parseCidr6, parseIp6 } from "../ipv6.ts";

export const canonicalCidr6 = (text: string): string => {
  const c = parseCidr6(text.trim());
  return c ? formatCidr6(c) : text;
};

export const canonicalIp6 = (text: string): string => {
  const ip = parseIp6(text.trim());
  return ip === undefined ? text : formatIp6(ip);
};

/** "START-END": each end canonical */
export function canonicalRange6(text: string): string {
  const parts = text.split("-");
  return parts.length === 2 ? parts.map(canonicalIp6).join("-") : text;
}

export function canonicalProvider6<T extends { gateway6?: string; pool6?: string; dns6?: string[] }>(p: T): T {
  return {
    ...p,
    ...(typeof p.gateway6 === "string" ? { gateway6: canonicalCidr6(p.gateway6) } : {}),
    ...(typeof p.pool6 === "string" ? { pool6: canonicalRange6(p.pool6) } : {}),
    ...(Array.isArray(p.dns6) ? { dns6: p.dns6.map((d) => (typeof d === "string" ? canonicalIp6(d) : d)) } : {}),
  };
}
