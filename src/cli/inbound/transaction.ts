// The one path every inbound change takes, under the allocation lock that `net create`
// uses (so no address is handed out twice):
//   1. read the network's persistent XML (and every other network's, for taken addresses);
//   2. change the metadata model, and validate the whole new document with buildSpec;
//   3. net-define it (it survives restarts);
//   4. when the network is active, apply the change live to its namespace, under the
//      network's lock (exec/change/inbound.ts applyInboundLocked), from what the namespace runs
//      then; if that fails, the previous definition is put back.
// libvirt is asked only before the network's lock is taken and after it is released: a
// hook of the network may be waiting for that lock inside libvirt's own lock of it. A
// start that ran after step 3 built from the new definition already, and a stop leaves
// nothing to change: both are seen under the lock, so the change is applied at most once.
import { listLiveClaims } from "../../adapters/store/claims.ts";
import { loadConfig } from "../../adapters/store/config-file.ts";
import { defineNetwork } from "../../adapters/libvirt/virsh.ts";
import { loadVnatDefinition } from "../definition.ts";
import { rememberDefinition } from "../../adapters/libvirt/prewarm.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { roots } from "../../adapters/store/roots.ts";
import { oneLine, VnatError } from "../../core/errors.ts";
import { takenAddresses } from "../../core/edit/inbound.ts";
import { knownNetworks, parseNetworkXml } from "../../core/observe/inventory.ts";
import { modelFromMetadata, renderMetadata, replaceMetadata, type MetadataModel } from "../../core/input/metadata.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { buildSpec } from "../../core/input/spec.ts";
import { applyInboundLocked, type LiveApply } from "../../exec/change/inbound.ts";
import { processRunner } from "../../exec/run.ts";
import { allocLockPath } from "../net/create.ts";

export interface EditOutcome {
  spec: NetSpec;
  /** what happened to the running network ("current": it was restarted with the change meanwhile) */
  live: "applied" | "current" | "inactive" | "deferred";
  warnings: string[];
}

export async function editInbound(name: string, edit: (m: MetadataModel) => MetadataModel): Promise<EditOutcome> {
  const r = roots();
  const config = await loadConfig(r.config);
  return withLock(
    allocLockPath(r.run),
    async () => {
      const { docs, xml, net, active } = await loadVnatDefinition(name);
      const nextXml = replaceMetadata(xml, renderMetadata(edit(modelFromMetadata(net.metadata))));
      const others = knownNetworks(
        [...docs].filter(([n]) => n !== name),
        config,
      );
      const spec = buildSpec(parseNetworkXml(nextXml), config, takenAddresses(others, await listLiveClaims(r), name));
      await defineNetwork(nextXml);
      await rememberDefinition(r, name);
      if (!active) return { spec, live: "inactive", warnings: [] };
      let live: LiveApply;
      try {
        live = await applyInboundLocked(processRunner, r, spec);
      } catch (e) {
        // the network's lock is released here: libvirt may be asked again
        const restored = await defineNetwork(xml).then(
          () => rememberDefinition(r, name).then(() => ""),
          (d: unknown) => `; putting back the previous definition failed too: ${oneLine(d)}`,
        );
        if (!restored) throw e;
        throw new VnatError(e instanceof VnatError ? e.kind : "apply-failed", `${oneLine(e)}${restored}`);
      }
      return outcome(spec, live);
    },
    { what: "inbound change (allocation lock)" },
  );
}

function outcome(spec: NetSpec, l: LiveApply): EditOutcome {
  const where = `network "${spec.name}"`;
  switch (l.live) {
    case "applied":
      return { spec, live: "applied", warnings: l.warnings };
    case "current":
      return { spec, live: "current", warnings: [] };
    case "not-running":
      return {
        spec,
        live: "deferred",
        warnings: [
          `${where}: vnat's namespace of it is not running (stopped meanwhile, or see vnat status); the change applies at its next start`,
        ],
      };
    case "other-changes":
      return {
        spec,
        live: "deferred",
        warnings: [`${where} has other changes waiting for a restart; this change applies with them at its next start`],
      };
  }
}
