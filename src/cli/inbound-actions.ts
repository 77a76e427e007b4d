// `vnat forward|floating|host add|remove|list`: each change goes through editInbound
// (validated by the hook's own rules, defined in libvirt, applied live when active, under
// the network's lock).
import { loadConfig } from "../adapters/config-file.ts";
import { probeNetworks } from "../adapters/host-view.ts";
import { roots } from "../adapters/roots.ts";
import { invalid } from "../core/errors.ts";
import { formatPorts, parsePortRange } from "../core/inbound.ts";
import * as edits from "../core/inbound-edit.ts";
import type { ForwardModel, MetadataModel } from "../core/metadata.ts";
import { editInbound, type EditOutcome } from "./inbound-edit.ts";
import { printTable } from "./table.ts";

function report(what: string, o: EditOutcome): void {
  for (const w of o.warnings) process.stderr.write(`vnat: warning: ${w}\n`);
  const how = {
    applied: "applied live",
    current: "in effect: the network was restarted with it meanwhile",
    inactive: "network inactive: applies at its next start",
    deferred: "applies at the next start",
  };
  process.stdout.write(`network "${o.spec.name}": ${what} (${how[o.live]})\n`);
}

/** The guest side of a forward as `IP:PORT[-PORT]`. */
export function forwardTarget(f: ForwardModel): string {
  const [a, b] = parsePortRange(f.port) ?? [0, 0];
  const to = f.toPort === undefined ? undefined : parsePortRange(f.toPort);
  const start = to?.[0] ?? a;
  return `${f.to}:${formatPorts(start, start + b - a)}`;
}

export async function forwardAdd(net: string, proto: string, port: string, target: string): Promise<void> {
  const o = await editInbound(net, (m) => edits.addForward(m, net, proto, port, target));
  const f = o.spec.forwards?.at(-1);
  report(`forward ${proto} ${f ? formatPorts(f.port, f.portEnd) : port} -> ${target} added`, o);
}

export async function forwardRemove(net: string, proto: string, port: string): Promise<void> {
  report(`forward ${proto} ${port} removed`, await editInbound(net, (m) => edits.removeForward(m, net, proto, port)));
}

export async function floatingAdd(net: string, address: string, guest: string): Promise<void> {
  report(
    `floating ${address} -> ${guest} added`,
    await editInbound(net, (m) => edits.addFloating(m, net, address, guest)),
  );
}

export async function floatingRemove(net: string, address: string): Promise<void> {
  report(`floating ${address} removed`, await editInbound(net, (m) => edits.removeFloating(m, net, address)));
}

export async function hostAdd(net: string, mac: string, ip: string, name?: string): Promise<void> {
  const o = await editInbound(net, (m) => edits.addHost(m, net, mac, ip, name));
  report(`host ${mac.toLowerCase()} -> ${ip}${name ? ` (${name})` : ""} added`, o);
}

export async function hostRemove(net: string, mac: string): Promise<void> {
  report(`host ${mac.toLowerCase()} removed`, await editInbound(net, (m) => edits.removeHost(m, net, mac)));
}

type Kind = "forward" | "floating" | "host";
const COLUMNS: Record<Kind, { header: string[]; rows: (m: MetadataModel) => Record<string, string>[] }> = {
  forward: {
    header: ["PROTO", "PORT", "TO"],
    rows: (m) => (m.forwards ?? []).map((f) => ({ proto: f.proto, port: f.port, to: forwardTarget(f) })),
  },
  floating: {
    header: ["ADDRESS", "TO"],
    rows: (m) => (m.floating ?? []).map((f) => ({ address: f.address, to: f.to })),
  },
  host: {
    header: ["MAC", "IP", "NAME"],
    rows: (m) => (m.hosts ?? []).map((h) => ({ mac: h.mac, ip: h.ip, name: h.name ?? "" })),
  },
};

/** Lists one kind of inbound entry from the persistent definitions (what applies at start). */
export async function inboundList(kind: Kind, net: string | undefined, o: { json?: boolean }): Promise<void> {
  const nets = (await probeNetworks(await loadConfig(roots().config))).filter((n) => n.vnat);
  const chosen = net === undefined ? nets : nets.filter((n) => n.name === net);
  if (net !== undefined && chosen.length === 0)
    throw invalid(`network "${net}": not a vnat network defined in libvirt (see vnat net list)`);
  const rows = chosen.flatMap((n) => COLUMNS[kind].rows(n.vnat!).map((r) => ({ network: n.name, ...r })));
  if (o.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    return;
  }
  printTable(
    ["NETWORK", ...COLUMNS[kind].header],
    rows.map((r) => Object.values(r).map((v) => v || "-")),
  );
}
