// `vnat forward|floating|host add|remove|list`: each change goes through editInbound
// (validated by the hook's own rules, defined in libvirt, applied live when active, under
// the network's lock).
import { loadConfig } from "../../adapters/store/config-file.ts";
import { probeNetworks } from "../../adapters/libvirt/host-view.ts";
import { roots } from "../../adapters/store/roots.ts";
import { invalid } from "../../core/errors.ts";
import { formatPorts, parsePortRange } from "../../core/input/inbound.ts";
import * as edits from "../../core/edit/inbound.ts";
import type { ForwardModel, MetadataModel } from "../../core/input/metadata.ts";
import { editInbound, type EditOutcome } from "./transaction.ts";
import { report, type OutputFlags } from "../output.ts";
import { printTable } from "../table.ts";

const HOW: Record<EditOutcome["live"], string> = {
  applied: "applied live",
  current: "in effect: the network was restarted with it meanwhile",
  inactive: "network inactive: applies at its next start",
  deferred: "applies at the next start",
};

/**
 * One inbound change's outcome: a line, or with --json
 * `{network, change: "forward add", forward: {...}, live}` (live: applied | current |
 * inactive | deferred).
 */
function done(f: OutputFlags, what: string, change: string, entry: Record<string, unknown>, o: EditOutcome) {
  const [kind] = change.split(" ");
  return report(
    f,
    `network "${o.spec.name}": ${what} (${HOW[o.live]})`,
    { network: o.spec.name, change, [kind!]: entry, live: o.live },
    o.warnings,
  );
}

/** The guest side of a forward as `IP:PORT[-PORT]`. */
export function forwardTarget(f: ForwardModel): string {
  const [a, b] = parsePortRange(f.port) ?? [0, 0];
  const to = f.toPort === undefined ? undefined : parsePortRange(f.toPort);
  const start = to?.[0] ?? a;
  return `${f.to}:${formatPorts(start, start + b - a)}`;
}

export async function forwardAdd(
  net: string,
  proto: string,
  port: string,
  target: string,
  f: OutputFlags = {},
): Promise<void> {
  const o = await editInbound(net, (m) => edits.addForward(m, net, proto, port, target));
  const added = o.spec.forwards?.at(-1);
  const ports = added ? formatPorts(added.port, added.portEnd) : port;
  await done(f, `forward ${proto} ${ports} -> ${target} added`, "forward add", { proto, port: ports, to: target }, o);
}

export async function forwardRemove(net: string, proto: string, port: string, f: OutputFlags = {}): Promise<void> {
  const o = await editInbound(net, (m) => edits.removeForward(m, net, proto, port));
  await done(f, `forward ${proto} ${port} removed`, "forward remove", { proto, port }, o);
}

export async function floatingAdd(net: string, address: string, guest: string, f: OutputFlags = {}): Promise<void> {
  const o = await editInbound(net, (m) => edits.addFloating(m, net, address, guest));
  await done(f, `floating ${address} -> ${guest} added`, "floating add", { address, to: guest }, o);
}

export async function floatingRemove(net: string, address: string, f: OutputFlags = {}): Promise<void> {
  const o = await editInbound(net, (m) => edits.removeFloating(m, net, address));
  await done(f, `floating ${address} removed`, "floating remove", { address }, o);
}

export async function hostAdd(net: string, mac: string, ip: string, name?: string, f: OutputFlags = {}): Promise<void> {
  const o = await editInbound(net, (m) => edits.addHost(m, net, mac, ip, name));
  const m = mac.toLowerCase();
  await done(
    f,
    `host ${m} -> ${ip}${name ? ` (${name})` : ""} added`,
    "host add",
    { mac: m, ip, name: name ?? null },
    o,
  );
}

export async function hostRemove(net: string, mac: string, f: OutputFlags = {}): Promise<void> {
  const o = await editInbound(net, (m) => edits.removeHost(m, net, mac));
  await done(f, `host ${mac.toLowerCase()} removed`, "host remove", { mac: mac.toLowerCase() }, o);
}

type Kind = "forward" | "floating" | "host";
const COLUMNS: Record<
  Kind,
  { header: string[]; plural: string; rows: (m: MetadataModel) => Record<string, string>[] }
> = {
  forward: {
    plural: "port forwards",
    header: ["PROTO", "PORT", "TO"],
    rows: (m) => (m.forwards ?? []).map((f) => ({ proto: f.proto, port: f.port, to: forwardTarget(f) })),
  },
  floating: {
    plural: "floating IPs",
    header: ["ADDRESS", "TO"],
    rows: (m) => (m.floating ?? []).map((f) => ({ address: f.address, to: f.to })),
  },
  host: {
    plural: "static hosts",
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
  await printTable(
    ["NETWORK", ...COLUMNS[kind].header],
    rows.map((r) => Object.values(r).map((v) => v || "-")),
    `no ${COLUMNS[kind].plural}${net === undefined ? "" : ` on network "${net}"`}`,
  );
}
