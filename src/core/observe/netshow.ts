// The document `vnat net show NET` prints: a network's configuration (its persistent
// definition, defaults filled in) beside what runs (the spec its namespace was built or
// live-edited with, and what the status probe saw). Pure.
import { segmentLabel, type SegmentSpec } from "../input/segments.ts";
import { formatPorts } from "../input/inbound.ts";
import { formatCidr, formatIp, formatSubnet } from "../ipv4.ts";
import { NET_KEYS, netKeyValue, type NetKey } from "../edit/netset.ts";
import type { NetworkDoc } from "./status-doc.ts";
import type { NetSpec } from "../input/spec.ts";
import { netnsName } from "../names.ts";
import { settings6Doc, showRows6, type Settings6Doc } from "./netshow6.ts";

export interface SettingsDoc {
  subnet: string;
  gateway: string;
  bridge: string;
  provider: string;
  uplink: { address: string; gateway: string };
  dns: string[];
  dhcp: { enabled: boolean; start: string | null; end: string | null; lease: string | null };
  isolation: { host: string; provider: string };
  forwards: Array<{ proto: string; port: string; to: string }>;
  floating: Array<{ address: string; to: string }>;
  hosts: Array<{ mac: string; ip: string; name: string | null }>;
  /** the IPv6 settings (issue 17, netshow6.ts); only for a dual-stack network */
  ipv6?: Settings6Doc;
  /** segments (issue 19): "bridge:br-x", "docker:lab (bridge br-…) take-addresses"; absent when none */
  segments?: string[];
}

export interface ShowDoc {
  name: string;
  libvirt: NetworkDoc["libvirt"];
  health: NetworkDoc["health"] | null;
  reasons: NetworkDoc["reasons"];
  /** the persistent definition with the config's defaults; null when it does not build (configError says why) */
  configured: SettingsDoc | null;
  configError: string | null;
  /** what the namespace runs (its recorded spec); null when it does not run */
  running: SettingsDoc | null;
  /** net set keys whose configured value differs from the running one (they wait for a restart) */
  pending: NetKey[];
  runtime: {
    namespace: NetworkDoc["namespace"];
    dnsmasq: NetworkDoc["dnsmasq"];
    /** addresses wan0 holds now */
    uplinkAddresses: string[];
    lan: NetworkDoc["lan"];
    uplink: NetworkDoc["uplink"];
    leases: number;
  };
}

export function settingsDoc(s: NetSpec): SettingsDoc {
  return {
    subnet: formatSubnet(s.lan),
    gateway: formatIp(s.lan.address),
    bridge: s.lanBridge,
    provider: s.uplink.bridge,
    uplink: { address: formatCidr(s.uplink.address), gateway: formatIp(s.uplink.gateway) },
    dns: s.dns.map(formatIp),
    dhcp: s.dhcp
      ? { enabled: true, start: formatIp(s.dhcp.start), end: formatIp(s.dhcp.end), lease: s.dhcp.lease }
      : { enabled: false, start: null, end: null, lease: null },
    isolation: { host: s.isolation?.host ?? "blocked", provider: s.isolation?.provider ?? "blocked" },
    forwards: (s.forwards ?? []).map((f) => ({
      proto: f.proto,
      port: formatPorts(f.port, f.portEnd),
      to: `${formatIp(f.to)}:${formatPorts(f.toPort, f.toPort + f.portEnd - f.port)}`,
    })),
    floating: (s.floating ?? []).map((f) => ({ address: formatIp(f.address), to: formatIp(f.to) })),
    hosts: (s.hosts ?? []).map((h) => ({ mac: h.mac, ip: formatIp(h.ip), name: h.name ?? null })),
    ...settings6Doc(s),
    ...(s.segments?.length ? { segments: s.segments.map(segmentText) } : {}),
  };
}

const segmentText = (g: SegmentSpec): string =>
  `${segmentLabel(g)}${g.device !== g.name ? ` (bridge ${g.device})` : ""}${g.takeAddresses ? " take-addresses" : ""}`;

export function showDoc(
  name: string,
  configured: { spec?: NetSpec; error?: string },
  running: NetSpec | undefined,
  status: NetworkDoc | undefined,
  uplinkAddresses: string[],
): ShowDoc {
  const keys = Object.keys(NET_KEYS) as NetKey[];
  const c = configured.spec;
  return {
    name,
    libvirt: status?.libvirt ?? null,
    health: status?.health ?? null,
    reasons: status?.reasons ?? [],
    configured: c ? settingsDoc(c) : null,
    configError: configured.error ?? null,
    running: running ? settingsDoc(running) : null,
    pending: c && running ? keys.filter((k) => netKeyValue(c, k) !== netKeyValue(running, k)) : [],
    runtime: {
      namespace: status?.namespace ?? { name: netnsName(name), present: false },
      dnsmasq: status?.dnsmasq ?? { running: false, pid: null },
      uplinkAddresses,
      lan: status?.lan ?? null,
      uplink: status?.uplink ?? null,
      leases: status?.leases.length ?? 0,
    },
  };
}

/** The human view: one line per setting, the running value beside it when it differs. */
export function formatShow(d: ShowDoc): string {
  const out: string[] = [`network "${d.name}"`];
  const lv = d.libvirt;
  out.push(
    `  libvirt    ${lv ? `${lv.active ? "active" : "inactive"}, autostart ${lv.autostart ? "yes" : "no"}${lv.persistent ? "" : ", transient"}` : "not defined"}` +
      (d.health ? `; health ${d.health}` : ""),
  );
  for (const r of d.reasons) out.push(`             ${r.message}`);
  const c = d.configured;
  const r = d.running;
  if (!c) out.push(`  config     does not build: ${d.configError ?? "?"}`);
  const row = (label: string, pick: (s: SettingsDoc) => string): void => {
    const cv = c ? pick(c) : "-";
    const rv = r ? pick(r) : undefined;
    out.push(`  ${label.padEnd(10)} ${cv}${rv !== undefined && rv !== cv ? `   (running: ${rv})` : ""}`);
  };
  row("subnet", (s) => `${s.subnet}, gateway ${s.gateway}, bridge ${s.bridge}`);
  row("provider", (s) => s.provider);
  row("uplink", (s) => `${s.uplink.address} via ${s.uplink.gateway}`);
  row("dns", (s) => s.dns.join(", ") || "-");
  row("dhcp", (s) => (s.dhcp.enabled ? `${s.dhcp.start}-${s.dhcp.end}, lease ${s.dhcp.lease}` : "off"));
  row("isolation", (s) => `host ${s.isolation.host}, provider ${s.isolation.provider}`);
  row("forwards", (s) => s.forwards.map((f) => `${f.proto} ${f.port} -> ${f.to}`).join(", ") || "-");
  row("floating", (s) => s.floating.map((f) => `${f.address} -> ${f.to}`).join(", ") || "-");
  row("hosts", (s) => s.hosts.map((h) => `${h.mac} ${h.ip}${h.name ? ` ${h.name}` : ""}`).join(", ") || "-");
  showRows6(Boolean(c?.ipv6 ?? r?.ipv6), row);
  if (c?.segments ?? r?.segments) row("segments", (s) => s.segments?.join(", ") || "-");
  if (d.pending.length)
    out.push(
      `  pending    ${d.pending.join(", ")}: virsh net-destroy ${d.name} && virsh net-start ${d.name} applies them`,
    );
  const rt = d.runtime;
  out.push(`  namespace  ${rt.namespace.name} (${rt.namespace.present ? "present" : "absent"})`);
  out.push(
    `  dnsmasq    ${rt.dnsmasq.running ? `running, pid ${rt.dnsmasq.pid}` : "not running"}; leases ${rt.leases}`,
  );
  if (rt.namespace.present) out.push(`  wan0       ${rt.uplinkAddresses.join(", ") || "-"}`);
  for (const [label, side] of [
    ["lan link", rt.lan],
    ["uplink link", rt.uplink],
  ] as const)
    if (side && rt.namespace.present)
      out.push(
        `  ${label.padEnd(10)} ${side.attach} on ${side.bridge}${side.attach === "veth" ? ` (${side.veth.name} ${side.veth.present ? "present" : "absent"})` : ""}, ${side.up ? "up" : "down"}`,
      );
  return out.join("\n") + "\n";
}
