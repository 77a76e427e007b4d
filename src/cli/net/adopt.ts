// `vnat net adopt` and `vnat net release` (issue 16.2; docs/adopt.md): a libvirt NAT network
// becomes a vnat network and back, under the allocation lock `net create` takes (so no
// uplink is handed out twice). An inactive network is only redefined. An active one is
// switched only with --restart:
//   1. note the running guests' interfaces on it (tap, MAC, port id);
//   2. net-define the new definition;
//   3. net-destroy, net-start: libvirt's NAT (or vnat's namespace) goes, the other comes;
//   4. put each guest's tap back on the bridge and re-create its port in libvirt (libvirt
//      9.0 does neither at net-start), then announce the gateway so guests find its new MAC.
// When step 3 fails, the previous definition is defined and started again and the guests
// are put back on it: the network is left as it was, and the error says so.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { createPort, probeGuestPorts } from "../../adapters/libvirt/guest-ports.ts";
import { removeCacheEntries } from "../../adapters/store/hookcache.ts";
import { probeHostView } from "../../adapters/libvirt/host-view.ts";
import {
  defineNetwork,
  destroyNetwork,
  dumpAllNetworks,
  startNetwork,
  type NetworkDump,
} from "../../adapters/libvirt/virsh.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { rememberDefinition } from "../../adapters/libvirt/prewarm.ts";
import { roots } from "../../adapters/store/roots.ts";
import { planAdopt, planRelease, type NatNetwork } from "../../core/edit/adopt.ts";
import { conflict, invalid, oneLine, VnatError } from "../../core/errors.ts";
import type { GuestPort } from "../../core/observe/guest-ports.ts";
import { formatCidr, formatIp, formatSubnet } from "../../core/ipv4.ts";
import { netnsName } from "../../core/names.ts";
import { announceGateway, attachTap } from "../../exec/change/reattach.ts";
import { processRunner } from "../../exec/run.ts";
import { allocLockPath } from "./create.ts";
import { report } from "../output.ts";
import { requireRoot } from "../root.ts";

interface Flags {
  restart?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

export interface AdoptFlags extends Flags {
  provider: string;
  uplink?: string;
}

async function findNetwork(name: string): Promise<{ target: NetworkDump; all: NetworkDump[] }> {
  const all = await dumpAllNetworks({ inactive: true });
  const target = all.find((n) => n.name === name);
  if (!target) throw invalid(`network "${name}": not defined in libvirt (see virsh net-list --all)`);
  if (!target.persistent)
    throw invalid(`network "${name}": is transient; only a persistent network (virsh net-define) can be converted`);
  return { target, all };
}

function refuseActive(name: string, active: boolean, o: Flags): void {
  if (active && !o.restart && !o.dryRun)
    throw conflict(
      `network "${name}": is active; add --restart to switch it now (its running guests move with it), or stop it first (virsh net-destroy ${name})`,
    );
}

export async function netAdopt(name: string, o: AdoptFlags): Promise<void> {
  requireRoot("net adopt");
  const r = roots();
  const config = await loadConfig(r.config);
  const out = await switchNetwork(name, o, "adopt", "vnat", async ({ target }) =>
    planAdopt(target.xml, o, config, await probeHostView(config, r, o.provider)),
  );
  if (!o.dryRun) await rememberDefinition(r, name);
  const s = out.plan.spec;
  const nat = out.plan.nat;
  const uplink = `${formatCidr(s.uplink.address)} on ${s.uplink.bridge}${out.plan.uplinkWasAuto ? " (auto)" : ""}, via ${formatIp(s.uplink.gateway)}`;
  const human = o.dryRun
    ? [out.plan.xml.trimEnd()]
    : [
        `adopted network "${name}" (was libvirt NAT)`,
        ...summary(nat),
        `  uplink   ${uplink}`,
        `  dns      ${s.dns.map(formatIp).join(", ") || "-"}`,
        afterSwitch(name, out),
      ];
  await report(
    { json: o.json, dryRun: o.dryRun === true },
    human,
    {
      network: name,
      adopted: !o.dryRun,
      restarted: out.restarted,
      bridge: nat.bridge,
      lan: formatCidr(nat.lan),
      uplink: formatCidr(s.uplink.address),
      provider: s.uplink.bridge,
      uplinkWasAuto: out.plan.uplinkWasAuto,
      hosts: nat.hosts.length,
      guests: out.guests.map(({ domain, mac, tap }) => ({ domain, mac, tap })),
      xml: out.plan.xml,
    },
    out.warnings,
  );
}

export async function netRelease(name: string, o: Flags & { force?: boolean }): Promise<void> {
  requireRoot("net release");
  const r = roots();
  const out = await switchNetwork(name, o, "release", "libvirt", ({ target, all }) => planRelease(target.xml, o, all));
  if (!o.dryRun) await removeCacheEntries(r, name);
  const nat = out.plan.nat;
  const human = o.dryRun
    ? [out.plan.xml.trimEnd()]
    : [
        `released network "${name}" (now libvirt NAT; its guests reach out through the host, which resolves DNS for them)`,
        ...summary(nat),
        ...out.plan.dropped.map((d) => `  dropped  ${d}`),
        afterSwitch(name, out),
      ];
  await report(
    { json: o.json, dryRun: o.dryRun === true },
    human,
    {
      network: name,
      released: !o.dryRun,
      restarted: out.restarted,
      bridge: nat.bridge,
      lan: formatCidr(nat.lan),
      hosts: nat.hosts.length,
      dropped: out.plan.dropped,
      guests: out.guests.map(({ domain, mac, tap }) => ({ domain, mac, tap })),
      xml: out.plan.xml,
    },
    out.warnings,
  );
}

interface Switched<P> {
  plan: P;
  guests: GuestPort[];
  warnings: string[];
  restarted: boolean;
}

/**
 * Adopt's and release's one transaction, under the allocation lock: find the network, PLAN
 * its new definition, refuse an active one without --restart, then (no dry run) define it and,
 * when active, restart it with its running guests moved over (convert).
 */
async function switchNetwork<P extends { xml: string; nat: NatNetwork }>(
  name: string,
  o: Flags,
  verb: "adopt" | "release",
  to: "vnat" | "libvirt",
  plan: (found: Awaited<ReturnType<typeof findNetwork>>) => P | Promise<P>,
): Promise<Switched<P>> {
  return withLock(
    allocLockPath(roots().run),
    async () => {
      const found = await findNetwork(name);
      const p = await plan(found);
      refuseActive(name, found.target.active, o);
      if (o.dryRun) return { plan: p, guests: [], warnings: [], restarted: false };
      const guests = found.target.active ? await probeGuestPorts(name) : [];
      const warnings = await convert(found.target, p.xml, guests, p.nat, to);
      return { plan: p, guests, warnings, restarted: found.target.active };
    },
    { what: `net ${verb} (allocation lock)` },
  );
}

/** The last line after a switch: the guests moved, or how to start the network. */
const afterSwitch = (name: string, out: Switched<unknown>): string =>
  out.restarted
    ? `restarted: ${out.guests.length} running guest(s) moved over${guestList(out.guests)}`
    : `start it with: virsh net-start ${name}`;

function summary(nat: NatNetwork): string[] {
  return [
    `  bridge   ${nat.bridge}`,
    `  subnet   ${formatSubnet(nat.lan)}, gateway ${formatIp(nat.lan.address)}` +
      (nat.dhcp ? `, DHCP ${formatIp(nat.dhcp.start)}-${formatIp(nat.dhcp.end)}` : ", no DHCP"),
    `  hosts    ${nat.hosts.length} reservation(s) kept`,
  ];
}

const guestList = (g: GuestPort[]): string =>
  g.length ? `: ${g.map((p) => `${p.domain} (${p.tap})`).join(", ")}` : "";

/**
 * Defines XML for TARGET and, when it is active, restarts it and moves GUESTS over (steps
 * 2-4 above). On a failed restart the previous definition runs again; returns warnings.
 */
async function convert(
  target: NetworkDump,
  xml: string,
  guests: GuestPort[],
  nat: NatNetwork,
  to: "vnat" | "libvirt",
): Promise<string[]> {
  const where = `network "${target.name}"`;
  await defineNetwork(xml);
  if (!target.active) return [];
  try {
    await destroyNetwork(target.name);
    await startNetwork(target.name);
  } catch (e) {
    const back = await restore(target, nat.bridge, guests);
    const cause = withoutHookBoilerplate(oneLine(e));
    if (back)
      throw new VnatError(
        "rollback-incomplete",
        `${where}: the restart failed, and putting the previous definition back failed too (${back}): ${cause}`,
      );
    throw new VnatError(
      e instanceof VnatError ? e.kind : "apply-failed",
      `${where}: the restart failed, so it runs as before (its previous definition, guests back on it): ${cause}`,
    );
  }
  const warnings = await moveGuests(target.uuid, nat.bridge, guests);
  const gw = formatIp(nat.lan.address);
  const announced = await announceGateway(
    gw,
    to === "vnat" ? { netns: netnsName(target.name) } : { bridge: nat.bridge },
  );
  if (!announced && guests.length)
    warnings.push(`${where}: could not announce gateway ${gw} (arping): guests reach it once their ARP entry expires`);
  return warnings;
}

/** libvirt's wrapping of a hook's refusal ("Hook script execution failed: … Child process (ENV… ARGV) unexpected exit status 2: MSG") cut to MSG. */
function withoutHookBoilerplate(msg: string): string {
  return msg.replace(/Hook script execution failed: .*?Child process \(.*?\) unexpected exit status \d+: /, "hook: ");
}

/** Each guest's tap back on the bridge, then its port in libvirt; what failed, one warning each. */
async function moveGuests(networkUuid: string, bridge: string, guests: GuestPort[]): Promise<string[]> {
  const warnings: string[] = [];
  for (const g of guests) {
    const err = await attachTap(processRunner, g.tap, bridge);
    if (err) warnings.push(`guest "${g.domain}" (${g.mac}): tap ${g.tap} not put on bridge ${bridge}: ${err}`);
    await createPort(networkUuid, g).catch((e: unknown) =>
      warnings.push(`guest "${g.domain}" (${g.mac}): libvirt's port record not restored: ${oneLine(e)}`),
    );
  }
  return warnings;
}

/** The previous definition defined and running again, guests on it; "" or what failed. */
async function restore(target: NetworkDump, bridge: string, guests: GuestPort[]): Promise<string> {
  try {
    await defineNetwork(target.xml);
    await destroyNetwork(target.name).catch(() => "");
    await startNetwork(target.name);
    const left = await moveGuests(target.uuid, bridge, guests);
    return left.join("; ");
  } catch (e) {
    return oneLine(e);
  }
}
