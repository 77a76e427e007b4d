// Runs `vnat status`: one virsh process for all networks, one probe process per namespace.
import { loadConfig } from "../adapters/config-file.ts";
import { readLibvirtNetworks } from "../adapters/libvirt-view.ts";
import { roots } from "../adapters/roots.ts";
import { invalid } from "../core/errors.ts";
import { statusDoc } from "../core/status-doc.ts";
import { probeAll } from "../exec/probe.ts";
import { processRunner } from "../exec/run.ts";
import { colourEnabled } from "./color.ts";
import { requireRoot } from "./root.ts";
import { formatDetail, formatSummary } from "./status-format.ts";

export async function status(network: string | undefined, o: { json?: boolean; probe?: boolean }): Promise<void> {
  requireRoot("status");
  const r = roots();
  const [config, networks] = await Promise.all([loadConfig(r.config), readLibvirtNetworks()]);
  const result = await probeAll({
    runner: processRunner,
    roots: r,
    config,
    networks,
    ...(network !== undefined ? { only: [network] } : {}),
    duplicate: o.probe === true,
  });
  if (network !== undefined && result.observations.length === 0)
    throw invalid(`network "${network}": not a vnat network and nothing of it is left (see vnat status)`);
  const doc = statusDoc(result.observations, result.strayLinks, new Date());
  if (o.json) {
    process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
    return;
  }
  const colour = colourEnabled();
  process.stdout.write(network !== undefined ? formatDetail(doc.networks[0]!, colour) : formatSummary(doc, colour));
}
