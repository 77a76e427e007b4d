// The one path every inbound change takes, under the allocation lock that `net create`
// uses (so no address is handed out twice):
//   1. read the network's persistent XML (and every other network's, for taken addresses);
//   2. change the metadata model, and validate the whole new document with buildSpec;
//   3. net-define it (it survives restarts);
//   4. when the network is active, apply the change live to its namespace; if that fails,
//      the previous definition is put back.
import { listLiveClaims } from "../adapters/claims.ts";
import { loadConfig } from "../adapters/config-file.ts";
import { defineNetwork, dumpNetworks, listNetworks } from "../adapters/libvirt.ts";
import { rememberDefinition } from "../adapters/prewarm.ts";
import { withLock } from "../adapters/lock.ts";
import { roots } from "../adapters/roots.ts";
import { readState } from "../adapters/state.ts";
import { netnsExists } from "../adapters/sysfs.ts";
import { invalid } from "../core/errors.ts";
import { sameBase } from "../core/inbound-diff.ts";
import { takenAddresses } from "../core/inbound-edit.ts";
import { knownNetworks, parseNetworkXml } from "../core/inventory.ts";
import { modelFromMetadata, renderMetadata, replaceMetadata, type MetadataModel } from "../core/metadata.ts";
import type { Roots } from "../core/paths.ts";
import type { NetSpec } from "../core/spec.ts";
import { buildSpec } from "../core/spec.ts";
import { applyInbound } from "../exec/inbound.ts";
import { processRunner } from "../exec/run.ts";
import { allocLockPath } from "./net-create.ts";

export interface EditOutcome {
  spec: NetSpec;
  /** what happened to the running network */
  live: "applied" | "inactive" | "deferred";
  warnings: string[];
}

export async function editInbound(name: string, edit: (m: MetadataModel) => MetadataModel): Promise<EditOutcome> {
  const r = roots();
  const config = await loadConfig(r.config);
  const where = `network "${name}"`;
  return withLock(
    allocLockPath(r.run),
    async () => {
      const list = await listNetworks();
      const entry = list.find((n) => n.name === name);
      if (!entry) throw invalid(`${where}: not defined in libvirt (see vnat net list)`);
      if (!entry.persistent)
        throw invalid(
          `${where}: is transient; vnat keeps inbound settings in a persistent definition (virsh net-define)`,
        );
      const docs = await dumpNetworks(
        list.map((n) => n.name),
        true,
      );
      const xml = docs.get(name);
      if (xml === undefined) throw invalid(`${where}: libvirt returned no XML for it`);
      const net = parseNetworkXml(xml);
      if (!net.metadata) throw invalid(`${where}: not a vnat network (no vnat metadata); vnat leaves it alone`);
      const nextXml = replaceMetadata(xml, renderMetadata(edit(modelFromMetadata(net.metadata))));
      const others = knownNetworks(
        [...docs].filter(([n]) => n !== name),
        config,
      );
      const spec = buildSpec(parseNetworkXml(nextXml), config, takenAddresses(others, await listLiveClaims(r), name));
      await defineNetwork(nextXml);
      await rememberDefinition(r, name);
      if (!entry.active) return { spec, live: "inactive", warnings: [] };
      try {
        return await applyLive(r, spec);
      } catch (e) {
        await defineNetwork(xml).catch(() => {});
        throw e;
      }
    },
    { what: "vnat inbound change (allocation lock)" },
  );
}

async function applyLive(r: Roots, spec: NetSpec): Promise<EditOutcome> {
  const where = `network "${spec.name}"`;
  const state = await readState(r, spec.name);
  const running = state?.phase === "active" && netnsExists(spec.names.netns) ? (state.spec as NetSpec) : undefined;
  if (!running)
    return {
      spec,
      live: "deferred",
      warnings: [
        `${where} is active but vnat's namespace is not running (see vnat status); the change applies at its next start`,
      ],
    };
  if (!sameBase(running, spec))
    return {
      spec,
      live: "deferred",
      warnings: [`${where} has other changes waiting for a restart; this change applies with them at its next start`],
    };
  const res = await applyInbound(processRunner, r, running, spec);
  return { spec, live: "applied", warnings: res.warnings };
}
