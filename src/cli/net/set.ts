// `vnat net set NET key=value…`: one transaction, as inbound edits (inbound-edit.ts) take:
//   1. under the allocation lock, read the network's persistent XML and every other one;
//   2. apply the assignments to the metadata model, validate the whole new document with
//      buildSpec (with the addresses other networks hold) and the host's policy, as
//      `start begin` would;
//   3. net-define it (--dry-run stops before);
//   4. when the network is active, apply DNS/DHCP/isolation live under the network's lock
//      (exec/change/netset.ts); if that fails, the previous definition is put back. The uplink
//      changes at the next start (net-destroy + net-start).
import { listLiveClaims } from "../../adapters/store/claims.ts";
import { loadConfig } from "../../adapters/store/config-file.ts";
import { defineNetwork } from "../../adapters/libvirt/virsh.ts";
import { loadVnatDefinition } from "../definition.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { rememberDefinition } from "../../adapters/libvirt/prewarm.ts";
import { roots } from "../../adapters/store/roots.ts";
import { oneLine, VnatError } from "../../core/errors.ts";
import { takenAddresses } from "../../core/edit/inbound.ts";
import { knownNetworks, parseNetworkXml } from "../../core/observe/inventory.ts";
import { modelFromMetadata, renderMetadata, replaceMetadata } from "../../core/input/metadata.ts";
import {
  applyNetSet,
  checkUplinkFree,
  NET_KEYS,
  netChanges,
  parseAssignments,
  type KeyChange,
  type NetKey,
} from "../../core/edit/netset.ts";
import { checkPolicy } from "../../core/input/policy.ts";
import { buildSpec, type NetSpec } from "../../core/input/spec.ts";
import { applyNetSetLocked, type NetSetLive } from "../../exec/change/netset.ts";
import { probePolicyFacts } from "../../exec/probe/policy-facts.ts";
import { processRunner } from "../../exec/run.ts";
import { allocLockPath } from "./create.ts";
import { report } from "../output.ts";
import { requireRoot } from "../root.ts";

export interface NetSetResult {
  network: string;
  dryRun: boolean;
  active: boolean;
  changes: KeyChange[];
  /** what happened to the running network */
  live: "applied" | "current" | "inactive" | "deferred" | "unchanged" | "dry-run";
  warnings: string[];
}

export async function netSet(name: string, words: string[], o: { dryRun?: boolean; json?: boolean }): Promise<void> {
  requireRoot("net set");
  const where = `network "${name}"`;
  const assigns = parseAssignments<NetKey>(where, words, NET_KEYS);
  const r = roots();
  const config = await loadConfig(r.config);
  const res = await withLock(
    allocLockPath(r.run),
    async (): Promise<NetSetResult> => {
      const { docs, xml, net, active } = await loadVnatDefinition(name);
      let old: NetSpec | undefined;
      try {
        old = buildSpec(net, config);
      } catch {
        old = undefined; // a broken definition may be repaired by this very change
      }
      const others = knownNetworks(
        [...docs].filter(([n]) => n !== name),
        config,
      );
      const taken = takenAddresses(others, await listLiveClaims(r), name);
      const model = modelFromMetadata(net.metadata);
      const bridgeTaken = new Set(
        taken.filter((t) => t.bridge === (model.uplink.bridge ?? old?.uplink.bridge)).map((t) => t.ip),
      );
      const nextXml = replaceMetadata(
        xml,
        renderMetadata(applyNetSet(name, model, assigns, { config, taken: bridgeTaken })),
      );
      const spec = buildSpec(parseNetworkXml(nextXml), config, taken);
      if (assigns.some((a) => a.key === "uplink")) checkUplinkFree(spec, taken);
      checkPolicy(spec, config, await probePolicyFacts(processRunner, r));
      const changes = netChanges(
        old,
        spec,
        assigns.map((a) => a.key),
        active,
      );
      const base = { network: name, active: active, changes, warnings: [] as string[] };
      if (o.dryRun) return { ...base, dryRun: true, live: "dry-run" };
      if (nextXml === xml) return { ...base, dryRun: false, live: "unchanged" };
      await defineNetwork(nextXml);
      await rememberDefinition(r, name);
      if (!active) return { ...base, dryRun: false, live: "inactive" };
      let live: NetSetLive;
      try {
        const failpoint = process.env.VNAT_FAILPOINT; // tests only
        live = await applyNetSetLocked(processRunner, r, spec, failpoint ? { failpoint } : {});
      } catch (e) {
        // the network's lock is released here: libvirt may be asked again
        const restored = await defineNetwork(xml).then(
          () => rememberDefinition(r, name).then(() => ""),
          (d: unknown) => `; putting back the previous definition failed too: ${oneLine(d)}`,
        );
        if (!restored) throw e;
        throw new VnatError(e instanceof VnatError ? e.kind : "apply-failed", `${oneLine(e)}${restored}`);
      }
      return { ...base, dryRun: false, ...outcome(name, live) };
    },
    { what: "net set (allocation lock)" },
  );
  const json = { network: res.network, active: res.active, changes: res.changes, live: res.live };
  await report(o, formatResult(res), json, res.warnings);
}

function outcome(name: string, l: NetSetLive): Pick<NetSetResult, "live" | "warnings"> {
  const where = `network "${name}"`;
  switch (l.live) {
    case "applied":
      return { live: "applied", warnings: [] };
    case "current":
      return { live: "current", warnings: [] };
    case "not-running":
      return {
        live: "deferred",
        warnings: [
          `${where}: vnat's namespace of it is not running (see vnat status); the change applies at its next start`,
        ],
      };
    case "other-changes":
      return {
        live: "deferred",
        warnings: [`${where} has other changes waiting for a restart; this change applies with them at its next start`],
      };
  }
}

const restart = (name: string) => `applies at next start: virsh net-destroy ${name} && virsh net-start ${name}`;

export function formatResult(res: NetSetResult): string {
  const lines = res.changes.map((c) => {
    const what = `  ${c.key}: ${c.from ?? "?"} -> ${c.to}`;
    if (c.applies === "none") return `${what} (unchanged)`;
    if (res.dryRun)
      return `${what} (would apply ${c.applies === "live" ? "live" : c.applies === "next-start" ? "at next start" : "at the network's start"})`;
    if (c.applies === "definition") return `${what} (network inactive: applies at its start)`;
    if (c.applies === "next-start") return `${what} (${restart(res.network)})`;
    return `${what} (${res.live === "applied" || res.live === "current" ? "applied live" : restart(res.network)})`;
  });
  const head = res.dryRun
    ? `network "${res.network}": dry run, nothing changed; valid:`
    : res.live === "unchanged"
      ? `network "${res.network}": nothing to change`
      : `network "${res.network}": definition updated`;
  return [head, ...lines, ""].join("\n");
}
