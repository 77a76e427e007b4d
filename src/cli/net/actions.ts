// `vnat net list` and `vnat net delete`: only networks carrying vnat metadata are shown
// or touched; libvirt's other networks are none of vnat's business. `net delete --force`
// needs nothing of its own to stop an active network: `virsh net-destroy` returns after
// vnat's hook has removed the namespace (`stopped` runs before libvirt answers).
import { loadConfig } from "../../adapters/store/config-file.ts";
import { probeNetworks, type NetworkRow } from "../../adapters/libvirt/host-view.ts";
import { destroyNetwork, undefineNetwork } from "../../adapters/libvirt/virsh.ts";
import { removeCacheEntries } from "../../adapters/store/hookcache.ts";
import { roots } from "../../adapters/store/roots.ts";
import { hasState } from "../../adapters/store/state.ts";
import { netnsExists } from "../../adapters/sysfs.ts";
import { conflict, invalid } from "../../core/errors.ts";
import { netnsName } from "../../core/names.ts";
import { report, type OutputFlags } from "../output.ts";
import { NO_NETWORKS } from "../status/format.ts";
import { printTable } from "../table.ts";

async function vnatNetworks(): Promise<NetworkRow[]> {
  return (await probeNetworks(await loadConfig(roots().config))).filter((n) => n.vnat);
}

export async function netList(o: { json?: boolean }): Promise<void> {
  const nets = await vnatNetworks();
  const rows = nets.map((n) => ({
    name: n.name,
    state: n.state.active ? "active" : "inactive",
    autostart: n.state.autostart,
    persistent: n.state.persistent,
    bridge: n.bridge ?? null,
    lan: n.vnat?.lan.address ?? null,
    uplink: n.vnat?.uplink.address ?? null,
    provider: n.uplinkBridge ?? null,
  }));
  if (o.json) {
    process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
    return;
  }
  await printTable(
    ["NAME", "STATE", "AUTOSTART", "BRIDGE", "LAN", "UPLINK", "PROVIDER"],
    rows.map((r) => [
      r.name,
      r.state,
      r.autostart ? "yes" : "no",
      r.bridge ?? "-",
      r.lan ?? "-",
      r.uplink ?? "-",
      r.provider ?? "-",
    ]),
    NO_NETWORKS,
  );
}

export async function netDelete(name: string, o: { force?: boolean } & OutputFlags): Promise<void> {
  const net = (await probeNetworks(await loadConfig(roots().config))).find((n) => n.name === name);
  if (!net) throw invalid(`network "${name}": not defined in libvirt (see vnat net list)`);
  if (!net.vnat) throw invalid(`network "${name}": not a vnat network (no vnat metadata); vnat leaves it alone`);
  const warnings: string[] = [];
  if (net.state.active) {
    if (!o.force)
      throw conflict(`network "${name}": is active (stop it with virsh net-destroy ${name}, or use --force)`);
    await destroyNetwork(name);
    // the hook's teardown is best effort and libvirt ignores its outcome: say what it left
    if (netnsExists(netnsName(name)) || (await hasState(roots(), name)))
      warnings.push(
        `network "${name}": stopped, but vnat's namespace or state is still there (vnat reconcile removes it; see vnat status)`,
      );
  }
  if (net.state.persistent) await undefineNetwork(name);
  await removeCacheEntries(roots(), name);
  await report(o, `deleted network "${name}"`, { network: name, deleted: true, stopped: net.state.active }, warnings);
}
