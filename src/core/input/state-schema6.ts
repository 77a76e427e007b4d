// The IPv6 side of a spec as state.json records it (issue 17): checked field by field like
// the rest of the file (core/input/state-schema.ts calls readSpec6); every address must be
// canonical text, so what status, reconcile and live edits read back is what was built. Pure.
import { formatCidr6, formatIp6, parseCidr6, parseIp6 } from "../ipv6.ts";
import { printable } from "../names.ts";
import { MODES6, type Floating6Spec, type Forward6Spec, type Mode6, type Spec6 } from "./spec6.ts";

type Obj = Record<string, unknown>;

function bad(path: string, expected: string, v: unknown): Error {
  const text = v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v));
  return new Error(
    `${path}: expected ${expected}, got ${printable(text.length > 40 ? `${text.slice(0, 40)}…` : text, 48)}`,
  );
}
const obj = (p: string, v: unknown): Obj => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad(p, "an object", v);
  return v as Obj;
};
const list = <T>(p: string, v: unknown, item: (q: string, x: unknown) => T): T[] => {
  if (!Array.isArray(v)) throw bad(p, "a list", v);
  return v.map((x, i) => item(`${p}[${i}]`, x));
};
const ip6 = (p: string, v: unknown): string => {
  const n = typeof v === "string" ? parseIp6(v) : undefined;
  if (n === undefined || formatIp6(n) !== v) throw bad(p, "an IPv6 address in canonical form", v);
  return v;
};
const cidr6 = (p: string, v: unknown): string => {
  const c = typeof v === "string" ? parseCidr6(v) : undefined;
  if (!c || formatCidr6(c) !== v) throw bad(p, "an IPv6 prefix in canonical form", v);
  return v;
};
const port = (p: string, v: unknown): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) throw bad(p, "an integer 1-65535", v);
  return v;
};

function forward6(p: string, v: unknown): Forward6Spec {
  const o = obj(p, v);
  if (o.proto !== "tcp" && o.proto !== "udp") throw bad(`${p}.proto`, `"tcp" or "udp"`, o.proto);
  const first = port(`${p}.port`, o.port);
  const last = port(`${p}.portEnd`, o.portEnd);
  if (last < first) throw bad(`${p}.portEnd`, `a port from ${first}`, o.portEnd);
  return {
    proto: o.proto,
    port: first,
    portEnd: last,
    to: ip6(`${p}.to`, o.to),
    toPort: port(`${p}.toPort`, o.toPort),
  };
}

function floating6(p: string, v: unknown): Floating6Spec {
  const o = obj(p, v);
  return { address: ip6(`${p}.address`, o.address), to: ip6(`${p}.to`, o.to) };
}

export function readSpec6(p: string, v: unknown): Spec6 {
  const o = obj(p, v);
  if (typeof o.dhcp6 !== "boolean") throw bad(`${p}.dhcp6`, "true or false", o.dhcp6);
  const u = obj(`${p}.uplink`, o.uplink);
  if (!(MODES6 as readonly unknown[]).includes(u.mode)) throw bad(`${p}.uplink.mode`, MODES6.join(" or "), u.mode);
  return {
    lan: cidr6(`${p}.lan`, o.lan),
    dhcp6: o.dhcp6,
    uplink: {
      address: cidr6(`${p}.uplink.address`, u.address),
      gateway: ip6(`${p}.uplink.gateway`, u.gateway),
      mode: u.mode as Mode6,
      ...(u.prefix !== undefined ? { prefix: cidr6(`${p}.uplink.prefix`, u.prefix) } : {}),
    },
    dns: list(`${p}.dns`, o.dns, ip6),
    ...(o.forwards !== undefined ? { forwards: list(`${p}.forwards`, o.forwards, forward6) } : {}),
    ...(o.floating !== undefined ? { floating: list(`${p}.floating`, o.floating, floating6) } : {}),
  };
}
