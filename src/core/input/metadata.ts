// The user-facing vnat metadata element: a plain model, its XML rendering, and the
// replacement of the element inside a whole libvirt network document. Pure.
import type { XmlNode } from "./xml.ts";
import { attr, child, children } from "./xml.ts";
import { VNAT_XMLNS } from "./hookdata.ts";
import { segmentModelOf, type SegmentModel } from "./segments.ts";
import { model6FromMetadata, renderMetadata6, type Metadata6Model } from "./metadata6.ts";

/** Metadata6Model: the IPv6 elements (issue 17, core/input/metadata6.ts) */
export interface MetadataModel extends Metadata6Model {
  lan: { address: string; dhcp?: { start?: string; end?: string; lease?: string; enabled?: "yes" | "no" } };
  uplink: { bridge?: string; address: string; gateway?: string };
  dns: string[];
  /** inbound (issue 5); absent or empty when there are none */
  forwards?: ForwardModel[];
  floating?: { address: string; to: string }[];
  hosts?: { mac: string; ip: string; name?: string }[];
  /** <vnat:isolation>: kept as written (absent: both blocked) */
  isolation?: { host?: string; provider?: string };
  /** <vnat:segment> (issue 19, core/input/segments.ts); absent when there are none */
  segments?: SegmentModel[];
}

export interface ForwardModel {
  proto: string;
  /** "8080" or "8000-8010" */
  port: string;
  to: string;
  /** "80", or the first port / the range a port range is mapped to; absent: the same ports */
  toPort?: string;
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");

function attrs(pairs: Record<string, string | undefined>): string {
  return Object.entries(pairs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${esc(v!)}"`)
    .join("");
}

/** Renders <vnat:network>…</vnat:network> (indented for a network document's <metadata>). */
export function renderMetadata(m: MetadataModel, indent = "    "): string {
  const i1 = indent + "  ";
  const i2 = i1 + "  ";
  const lines = [`${indent}<vnat:network xmlns:vnat="${VNAT_XMLNS}">`];
  if (m.lan.dhcp) {
    lines.push(`${i1}<vnat:lan${attrs({ address: m.lan.address })}>`);
    lines.push(`${i2}<vnat:dhcp${attrs(m.lan.dhcp)}/>`);
    lines.push(`${i1}</vnat:lan>`);
  } else lines.push(`${i1}<vnat:lan${attrs({ address: m.lan.address })}/>`);
  lines.push(`${i1}<vnat:uplink${attrs(m.uplink)}/>`);
  for (const d of m.dns) lines.push(`${i1}<vnat:dns${attrs({ upstream: d })}/>`);
  for (const f of m.forwards ?? [])
    lines.push(`${i1}<vnat:forward${attrs({ proto: f.proto, port: f.port, to: f.to, "to-port": f.toPort })}/>`);
  for (const f of m.floating ?? []) lines.push(`${i1}<vnat:floating${attrs({ address: f.address, to: f.to })}/>`);
  for (const h of m.hosts ?? []) lines.push(`${i1}<vnat:host${attrs({ mac: h.mac, ip: h.ip, name: h.name })}/>`);
  if (m.isolation) lines.push(`${i1}<vnat:isolation${attrs(m.isolation)}/>`);
  for (const s of m.segments ?? [])
    lines.push(
      `${i1}<vnat:segment${attrs({ kind: s.kind, name: s.name, bridge: s.bridge, "take-addresses": s.takeAddresses })}/>`,
    );
  lines.push(...renderMetadata6(m, i1, attrs));
  lines.push(`${indent}</vnat:network>`);
  return lines.join("\n");
}

/** Reads the model back from the (prefix-stripped) metadata element. */
export function modelFromMetadata(md: XmlNode): MetadataModel {
  const lan = child(md, "lan");
  const dhcp = child(lan, "dhcp");
  const up = child(md, "uplink");
  return {
    lan: {
      address: attr(lan, "address") ?? "",
      dhcp: dhcp
        ? {
            start: attr(dhcp, "start"),
            end: attr(dhcp, "end"),
            lease: attr(dhcp, "lease"),
            enabled: attr(dhcp, "enabled") as "yes" | "no" | undefined,
          }
        : undefined,
    },
    uplink: { bridge: attr(up, "bridge"), address: attr(up, "address") ?? "", gateway: attr(up, "gateway") },
    dns: children(md, "dns").map((d) => attr(d, "upstream") ?? ""),
    ...inboundModel(md),
    ...isolationModel(md),
    ...model6FromMetadata(md),
    ...(children(md, "segment").length ? { segments: children(md, "segment").map(segmentModelOf) } : {}),
  };
}

function isolationModel(md: XmlNode): Pick<MetadataModel, "isolation"> {
  const iso = child(md, "isolation");
  if (!iso) return {};
  const host = attr(iso, "host");
  const provider = attr(iso, "provider");
  return { isolation: { ...(host !== undefined ? { host } : {}), ...(provider !== undefined ? { provider } : {}) } };
}

/** The inbound elements, present in the model only when the metadata has any. */
function inboundModel(md: XmlNode): Pick<MetadataModel, "forwards" | "floating" | "hosts"> {
  const forwards = children(md, "forward").map((f) => ({
    proto: attr(f, "proto") ?? "",
    port: attr(f, "port") ?? "",
    to: attr(f, "to") ?? "",
    ...(attr(f, "to-port") !== undefined ? { toPort: attr(f, "to-port") } : {}),
  }));
  const floating = children(md, "floating").map((f) => ({
    address: attr(f, "address") ?? "",
    to: attr(f, "to") ?? "",
  }));
  const hosts = children(md, "host").map((h) => ({
    mac: attr(h, "mac") ?? "",
    ip: attr(h, "ip") ?? "",
    ...(attr(h, "name") !== undefined ? { name: attr(h, "name") } : {}),
  }));
  return {
    ...(forwards.length ? { forwards } : {}),
    ...(floating.length ? { floating } : {}),
    ...(hosts.length ? { hosts } : {}),
  };
}

/**
 * Puts a rendered vnat element into a network document: replaces the existing element
 * bound to vnat's namespace, or adds it to <metadata> (creating that when absent).
 */
export function replaceMetadata(networkXml: string, rendered: string): string {
  const existing = new RegExp(
    `<([A-Za-z_][\\w.-]*):network\\b[^>]*xmlns:\\1=["']${VNAT_XMLNS.replace(/[.:]/g, "\\$&")}["'][^>]*>[\\s\\S]*?</\\1:network>`,
  );
  if (existing.test(networkXml)) return networkXml.replace(existing, () => rendered.trimStart());
  if (/<metadata\s*\/>/.test(networkXml))
    return networkXml.replace(/<metadata\s*\/>/, () => `<metadata>\n${rendered}\n  </metadata>`);
  if (/<metadata>/.test(networkXml)) return networkXml.replace(/<metadata>/, () => `<metadata>\n${rendered}`);
  return networkXml.replace(/<\/network>\s*$/, () => `  <metadata>\n${rendered}\n  </metadata>\n</network>\n`);
}
