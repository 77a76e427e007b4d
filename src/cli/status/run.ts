// Runs `vnat status`: one virsh process for all networks, one probe process per namespace.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { roots } from "../../adapters/store/roots.ts";
import { invalid } from "../../core/errors.ts";
import { statusDoc } from "../../core/observe/status-doc.ts";
import { probeAll } from "../../exec/probe/observe.ts";
import { processRunner } from "../../exec/run.ts";
import { colourEnabled } from "../color.ts";
import { requireRoot } from "../root.ts";
import { formatDetail, formatSummary, NO_NETWORKS } from "./format.ts";
import { sayEmpty } from "../table.ts";
import { writeOut } from "../output.ts";

export async function status(names: string[], o: { json?: boolean; probe?: boolean }): Promise<void> {
  requireRoot("status");
  const r = roots();
  // virsh runs while the namespaces are probed (probeAll awaits it when it needs it)
  const networks = readLibvirtNetworks();
  networks.catch(() => {});
  const config = await loadConfig(r.config);
  const result = await probeAll({
    runner: processRunner,
    roots: r,
    config,
    networks,
    ...(names.length ? { only: names } : {}),
    duplicate: o.probe === true,
  });
  const unknown = names.filter((n) => !result.observations.some((x) => x.name === n));
  if (unknown.length)
    throw invalid(`network "${unknown[0]}": not a vnat network and nothing of it is left (see vnat status)`);
  const doc = statusDoc(result.observations, result.strayLinks, result.strayFdb, new Date());
  if (o.json) return writeOut(JSON.stringify(doc, null, 2) + "\n");
  const colour = colourEnabled();
  if (names.length === 1) return writeOut(formatDetail(doc.networks[0]!, colour));
  if (doc.networks.length === 0) sayEmpty(NO_NETWORKS);
  return writeOut(formatSummary(doc, colour));
}
