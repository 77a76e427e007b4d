// The readable form of `vnat status`: one row per network with its reasons beneath, or
// every detail of one network. Cells are padded before they are coloured.
import type { Health } from "../../core/judge/health.ts";
import type { NetworkDoc, SideDoc, StatusDoc } from "../../core/observe/status-doc.ts";
import { paint, type Colour } from "../color.ts";
import { LAN_IF, UPLINK_IF } from "../../core/names.ts";

const HEALTH_COLOUR: Record<Health, Colour> = {
  healthy: "green",
  degraded: "yellow",
  down: "red",
  invalid: "red",
  orphan: "red",
  stopped: "dim",
};

function libvirtText(n: NetworkDoc): string {
  // what vnat left of a network libvirt no longer has (an orphan namespace, state)
  if (!n.libvirt) return "not defined";
  const flags = [n.libvirt.autostart ? "autostart" : "", n.libvirt.persistent ? "" : "transient"].filter(Boolean);
  return (n.libvirt.active ? "active" : "inactive") + (flags.length ? ` (${flags.join(", ")})` : "");
}

const pkts = (c: { packets: number } | null): string => (c ? String(c.packets) : "-");

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];
/** A byte count for people, in 1024-based units: 512 B, 1.5 KiB, 20 MiB. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < UNITS.length - 1);
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ${UNITS[i]}`;
}

/** Said on stderr by every list command that has nothing to list (stdout stays empty). */
export const NO_NETWORKS = "no vnat networks";

export function formatSummary(doc: StatusDoc, colour: boolean): string {
  const header = [
    "NETWORK",
    "LIBVIRT",
    "HEALTH",
    "UPLINK",
    "PROVIDER",
    "LAN",
    "BRIDGE",
    "NAT PKTS OUT/IN",
    "CONNS",
    "LEASES",
    "GUESTS",
  ];
  const rows = doc.networks.map((n) => [
    n.name,
    libvirtText(n),
    n.health,
    n.uplink?.address ?? "-",
    n.uplink?.bridge ?? "-",
    n.lan?.gateway ?? "-",
    n.lan?.bridge ?? "-",
    n.namespace.present ? `${pkts(n.nat.out)}/${pkts(n.nat.in)}` : "-",
    n.conntrack === null ? "-" : String(n.conntrack),
    String(n.leases.length),
    String(n.guests.length),
  ]);
  // IPv6 (issue 17): a column only once a network has an IPv6 side
  if (doc.networks.some((n) => n.ipv6)) {
    header.push("UPLINK6");
    doc.networks.forEach((n, i) => rows[i]!.push(n.ipv6 ? `${n.ipv6.uplink.address} ${n.ipv6.uplink.mode}` : "-"));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], health?: Health): string =>
    cells
      .map((c, i) => {
        const padded = c.padEnd(widths[i]!);
        return i === 2 && health ? paint(colour, HEALTH_COLOUR[health], padded) : padded;
      })
      .join("  ")
      .trimEnd();
  // nothing to list: no header (the caller says so on stderr, as every list command does)
  const out = doc.networks.length ? [paint(colour, "bold", line(header))] : [];
  doc.networks.forEach((n, i) => {
    out.push(line(rows[i]!, n.health));
    for (const r of n.reasons) out.push(`  ${paint(colour, HEALTH_COLOUR[n.health], "-")} ${r.message}`);
  });
  if (doc.strayLinks.length)
    out.push(paint(colour, "red", `stray vnat interfaces (no known network): ${doc.strayLinks.join(", ")}`));
  const bad = doc.networks.filter((n) => n.health !== "healthy" && n.health !== "stopped").length;
  if (doc.strayFdb.length)
    out.push(
      paint(
        colour,
        "red",
        `stray vnat fdb entries (no known network): ${doc.strayFdb.map((e) => `${e.mac} on ${e.bridge}`).join(", ")}`,
      ),
    );
  if (bad || doc.strayLinks.length || doc.strayFdb.length)
    out.push(`\n${bad} network(s) need attention: vnat reconcile --dry-run shows the repairs`);
  return out.length ? out.join("\n") + "\n" : "";
}

/** How one side is attached: the veth's host end, or the macvlan's fdb entry on the bridge. */
function attachment(s: SideDoc, ifname: string): string {
  if (s.attach === "macvlan")
    return `macvlan ${ifname} on ${s.bridge}, fdb entry ${s.mac} ${s.fdb === null ? "unknown" : s.fdb ? "present" : "missing"}`;
  const v = s.veth;
  if (!v.present) return `veth ${v.name} missing`;
  return `veth ${v.name} ${v.up ? "up" : "down"}, on ${v.master ?? "no bridge"}`;
}

export function formatDetail(n: NetworkDoc, colour: boolean): string {
  const up = (x: boolean | null): string => (x === null ? "missing" : x ? "up" : "down");
  const nat = (c: { packets: number; bytes: number } | null): string =>
    c ? `${c.packets} packets, ${humanBytes(c.bytes)}` : "-";
  const kv: Array<[string, string]> = [
    ["network", n.name],
    ["health", paint(colour, HEALTH_COLOUR[n.health], n.health)],
    ["libvirt", libvirtText(n)],
    ["namespace", `${n.namespace.name}${n.namespace.present ? "" : " (missing)"}`],
  ];
  if (n.lan)
    kv.push([
      "lan",
      `gateway ${n.lan.gateway} (${LAN_IF} ${up(n.lan.up)}) on bridge ${n.lan.bridge}; ${attachment(n.lan, LAN_IF)}`,
    ]);
  if (n.uplink)
    kv.push(
      [
        "uplink",
        `${n.uplink.address} via ${n.uplink.gateway} (wan0 ${up(n.uplink.up)}, MAC ${n.uplink.mac}) on ${n.uplink.bridge}`,
      ],
      ["uplink link", attachment(n.uplink, UPLINK_IF)],
    );
  if (n.ipv6) {
    const at = (p: boolean | null, ifname: string): string =>
      p === null ? "" : p ? ` (on ${ifname})` : ` (missing on ${ifname})`;
    const u = n.ipv6.uplink;
    kv.push(
      [
        "lan6",
        `gateway ${n.ipv6.lan.gateway}${at(n.ipv6.lan.present, LAN_IF)}, RA${n.ipv6.lan.dhcp6 ? " + DHCPv6" : ""}`,
      ],
      [
        "uplink6",
        `${u.address} via ${u.gateway}, ${u.mode}${u.prefix ? ` ${u.prefix}` : ""}${at(u.present, UPLINK_IF)}`,
      ],
    );
    if (n.ipv6.upstreamRoute) kv.push(["upstream route", `${n.ipv6.upstreamRoute} (on the provider's router)`]);
    kv.push(["nat6 out", nat(n.ipv6.nat.out)], ["nat6 in", nat(n.ipv6.nat.in)]);
  }
  kv.push(
    ["nat out", nat(n.nat.out)],
    ["nat in", nat(n.nat.in)],
    ["connections", n.conntrack === null ? "-" : String(n.conntrack)],
    ["dnsmasq", n.dnsmasq.running ? `running (pid ${n.dnsmasq.pid})` : "not running"],
  );
  for (const s of n.segments ?? [])
    kv.push([
      "segment",
      `${s.kind}:${s.name}${s.device !== s.name ? ` (bridge ${s.device})` : ""}: ${!s.present ? "missing" : s.attached ? "attached" : "detached"}`,
    ]);
  if (n.duplicateProbe.probed)
    kv.push([
      "uplink probe",
      n.duplicateProbe.answeredBy ? `answered by ${n.duplicateProbe.answeredBy}` : "no other host answers",
    ]);
  const w = Math.max(...kv.map(([k]) => k.length));
  const out = kv.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  for (const r of n.reasons) out.push(`  ${paint(colour, HEALTH_COLOUR[n.health], "-")} ${r.message}`);
  out.push("", `leases (${n.leases.length}):`);
  for (const l of n.leases)
    out.push(`  ${l.ip.padEnd(15)}  ${l.mac}  ${(l.hostname ?? "-").padEnd(16)}  ${l.expires ?? "never expires"}`);
  out.push(`guests (${n.guests.length}):`);
  for (const g of n.guests) out.push(`  ${(g.name ?? "-").padEnd(20)}  ${g.mac ?? "-"}  ${g.uuid ?? ""}`.trimEnd());
  return out.join("\n") + "\n";
}
