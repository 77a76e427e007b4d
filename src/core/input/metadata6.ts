// The IPv6 elements of vnat's metadata (issue 17) as a plain model, kept as written: read
// from and rendered back into <vnat:network> by core/input/metadata.ts, so every edit that
// rewrites the element (net set, forward/floating/host edits, attach) keeps them, and `vnat
// net create --subnet6/--uplink6/--mode6` writes them. Validation is spec6.ts's. Pure.
import { attr, child, children, type XmlNode } from "./xml.ts";

export interface Metadata6Model {
  /** <vnat:lan6 address="fd00:a::1/64" dhcp6="yes|no"/> */
  lan6?: { address: string; dhcp6?: string };
  /** <vnat:uplink6 address="…/64" gateway="…" mode="nat66|nptv6|routed" prefix="…/64"/> */
  uplink6?: { address: string; gateway?: string; mode?: string; prefix?: string };
  dns6?: string[];
  forwards6?: { proto?: string; port: string; to: string; toPort?: string }[];
  floating6?: { address: string; to: string }[];
}

type Attrs = (pairs: Record<string, string | undefined>) => string;

/** The IPv6 elements' lines (INDENT: the children's), in the order spec6.ts documents. */
export function renderMetadata6(m: Metadata6Model, indent: string, attrs: Attrs): string[] {
  const lines: string[] = [];
  if (m.lan6) lines.push(`${indent}<vnat:lan6${attrs({ address: m.lan6.address, dhcp6: m.lan6.dhcp6 })}/>`);
  if (m.uplink6) {
    const u = m.uplink6;
    lines.push(
      `${indent}<vnat:uplink6${attrs({ address: u.address, gateway: u.gateway, mode: u.mode, prefix: u.prefix })}/>`,
    );
  }
  for (const d of m.dns6 ?? []) lines.push(`${indent}<vnat:dns6${attrs({ upstream: d })}/>`);
  for (const f of m.forwards6 ?? [])
    lines.push(`${indent}<vnat:forward6${attrs({ proto: f.proto, port: f.port, to: f.to, "to-port": f.toPort })}/>`);
  for (const f of m.floating6 ?? []) lines.push(`${indent}<vnat:floating6${attrs({ address: f.address, to: f.to })}/>`);
  return lines;
}

/** Reads the IPv6 elements back (keys present only when the metadata has them). */
export function model6FromMetadata(md: XmlNode): Metadata6Model {
  const opt = (el: XmlNode | undefined, name: string): Record<string, string> => {
    const v = attr(el, name);
    return v === undefined ? {} : { [name]: v };
  };
  const lan = child(md, "lan6");
  const up = child(md, "uplink6");
  const dns6 = children(md, "dns6").map((d) => attr(d, "upstream") ?? "");
  const forwards6 = children(md, "forward6").map((f) => ({
    ...opt(f, "proto"),
    port: attr(f, "port") ?? "",
    to: attr(f, "to") ?? "",
    ...(attr(f, "to-port") !== undefined ? { toPort: attr(f, "to-port") } : {}),
  }));
  const floating6 = children(md, "floating6").map((f) => ({
    address: attr(f, "address") ?? "",
    to: attr(f, "to") ?? "",
  }));
  return {
    ...(lan ? { lan6: { address: attr(lan, "address") ?? "", ...opt(lan, "dhcp6") } } : {}),
    ...(up
      ? {
          uplink6: {
            address: attr(up, "address") ?? "",
            ...opt(up, "gateway"),
            ...opt(up, "mode"),
            ...opt(up, "prefix"),
          },
        }
      : {}),
    ...(dns6.length ? { dns6 } : {}),
    ...(forwards6.length ? { forwards6 } : {}),
    ...(floating6.length ? { floating6 } : {}),
  };
}
