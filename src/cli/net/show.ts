// `vnat net show NET [--json]`: the definition (as `start begin` would build it) beside what
// the namespace runs, with the status probe's view of the runtime (exec/probe/observe.ts).
import { loadConfig } from "../../adapters/store/config-file.ts";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { roots } from "../../adapters/store/roots.ts";
import { readState } from "../../adapters/store/state.ts";
import { invalid, oneLine } from "../../core/errors.ts";
import { parseNetworkXml } from "../../core/observe/inventory.ts";
import { UPLINK_IF } from "../../core/names.ts";
import { formatShow, showDoc } from "../../core/observe/netshow.ts";
import { buildSpec, type NetSpec } from "../../core/input/spec.ts";
import { networkDoc } from "../../core/observe/status-doc.ts";
import { probeAll } from "../../exec/probe/observe.ts";
import { processRunner } from "../../exec/run.ts";
import { writeOut } from "../output.ts";
import { requireRoot } from "../root.ts";

export async function netShow(name: string, o: { json?: boolean }): Promise<void> {
  requireRoot("net show");
  const r = roots();
  const [config, networks] = await Promise.all([loadConfig(r.config), readLibvirtNetworks()]);
  const entry = networks.find((n) => n.name === name);
  if (!entry) throw invalid(`network "${name}": not defined in libvirt (see vnat net list)`);
  const definition = parseNetworkXml(entry.persistentXml ?? entry.xml);
  if (!definition.metadata) throw invalid(`network "${name}": not a vnat network (no vnat metadata)`);
  let configured: { spec?: NetSpec; error?: string };
  try {
    configured = { spec: buildSpec(definition, config) };
  } catch (e) {
    configured = { error: oneLine(e) };
  }
  const [probe, state] = await Promise.all([
    probeAll({ runner: processRunner, roots: r, config, networks, only: [name] }),
    readState(r, name).catch(() => undefined),
  ]);
  const obs = probe.observations.find((x) => x.name === name);
  const running = state?.phase === "active" && obs?.netns.present ? state.spec : undefined;
  const wan = obs?.inside?.links.find((l) => l.name === UPLINK_IF)?.addresses ?? [];
  const doc = showDoc(name, configured, running, obs ? networkDoc(obs) : undefined, wan);
  await writeOut(o.json ? JSON.stringify(doc, null, 2) + "\n" : formatShow(doc));
}
