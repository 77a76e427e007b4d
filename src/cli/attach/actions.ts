// `vnat attach|detach NET SEGMENT`: the definition is changed under the allocation lock (as
// the inbound edits, cli/inbound/transaction.ts): validated by the hook's own rules
// (buildSpec), net-defined, then applied live under the network's lock when it is active; a
// live failure puts the previous definition back.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { defineNetwork } from "../../adapters/libvirt/virsh.ts";
import { rememberDefinition } from "../../adapters/libvirt/prewarm.ts";
import { withLock } from "../../adapters/store/lock.ts";
import { roots } from "../../adapters/store/roots.ts";
import { invalid, oneLine, VnatError } from "../../core/errors.ts";
import { linkExists } from "../../adapters/sysfs.ts";
import { refuseTakenSegment } from "../../core/edit/segments.ts";
import {
  addSegment,
  parseSegmentArg,
  removeSegment,
  segmentLabel,
  segmentModel,
  type SegmentSpec,
} from "../../core/input/segments.ts";
import { modelFromMetadata, renderMetadata, replaceMetadata } from "../../core/input/metadata.ts";
import { buildSpec } from "../../core/input/spec.ts";
import { knownNetworks, parseNetworkXml } from "../../core/observe/inventory.ts";
import { applySegmentsLocked } from "../../exec/change/segments-live.ts";
import { segmentProblem } from "../../exec/change/segments.ts";
import { resolveDockerBridge } from "../../exec/probe/docker.ts";
import { processRunner } from "../../exec/run.ts";
import { loadVnatDefinition } from "../definition.ts";
import { allocLockPath } from "../net/create.ts";
import { report, type OutputFlags } from "../output.ts";
import { requireRoot } from "../root.ts";

type Live = "applied" | "current" | "inactive" | "deferred";
const HOW: Record<Live, string> = {
  applied: "applied live",
  current: "in effect already",
  inactive: "network inactive: applies at its next start",
  deferred: "vnat's namespace of it is not running: applies at its next start",
};

async function change(
  net: string,
  edit: (m: ReturnType<typeof modelFromMetadata>) => ReturnType<typeof modelFromMetadata>,
  check: (spec: ReturnType<typeof buildSpec>, others: ReturnType<typeof knownNetworks>) => string[],
): Promise<{ live: Live; warnings: string[]; spec: ReturnType<typeof buildSpec> }> {
  const r = roots();
  const config = await loadConfig(r.config);
  return withLock(
    allocLockPath(r.run),
    async () => {
      const { docs, xml, net: parsed, active } = await loadVnatDefinition(net);
      const nextXml = replaceMetadata(xml, renderMetadata(edit(modelFromMetadata(parsed.metadata))));
      const spec = buildSpec(parseNetworkXml(nextXml), config);
      const others = knownNetworks(
        [...docs].filter(([n]) => n !== net),
        config,
      );
      const warnings = check(spec, others);
      await defineNetwork(nextXml);
      await rememberDefinition(r, net);
      if (!active) return { live: "inactive", warnings, spec };
      try {
        const l = await applySegmentsLocked(processRunner, r, spec);
        return { live: l.live === "not-running" ? "deferred" : l.live, warnings, spec };
      } catch (e) {
        const restored = await defineNetwork(xml).then(
          () => rememberDefinition(r, net).then(() => ""),
          (d: unknown) => `; putting back the previous definition failed too: ${oneLine(d)}`,
        );
        if (!restored) throw e;
        throw new VnatError(e instanceof VnatError ? e.kind : "apply-failed", `${oneLine(e)}${restored}`);
      }
    },
    { what: "segment change (allocation lock)" },
  );
}

export async function attachSegment(
  net: string,
  text: string,
  f: OutputFlags & { takeAddresses?: boolean } = {},
): Promise<void> {
  const { kind, name } = parseSegmentArg(text);
  requireRoot("attach");
  const bridge = kind === "docker" ? await resolveDockerBridge(processRunner, name) : undefined;
  const where = `network "${net}"`;
  const o = await change(
    net,
    (m) => ({ ...m, segments: addSegment(m.segments, segmentModel(kind, name, bridge, !!f.takeAddresses)) }),
    (spec, others) => {
      const s = spec.segments!.find((x) => x.kind === kind && x.name === name)!;
      refuseTakenSegment(where, s, others);
      // an inactive network: a segment that is not there yet is fine now, and an error at its
      // start; one that is there and cannot be (not a bridge, a host uplink, …) is refused now
      const problem = segmentProblem(where, s, spec.lanBridge);
      if (problem && linkExists(s.device)) throw invalid(problem);
      return problem ? [`${problem}; the network will not start until it is there`] : [];
    },
  );
  const s = o.spec.segments!.find((x) => x.kind === kind && x.name === name)!;
  if (o.live === "applied" || o.live === "current") o.warnings.length = 0; // attached: it was there
  await report(
    f,
    `${where}: segment ${text} attached${s.kind === "docker" ? ` (bridge ${s.device})` : ""} (${HOW[o.live]})`,
    { network: net, change: "attach", segment: segmentJson(s), live: o.live },
    o.warnings,
  );
}

export async function detachSegment(net: string, text: string, f: OutputFlags = {}): Promise<void> {
  const { kind, name } = parseSegmentArg(text);
  requireRoot("detach");
  const where = `network "${net}"`;
  const o = await change(
    net,
    (m) => ({ ...m, segments: removeSegment(where, m.segments, kind, name) }),
    () => [],
  );
  await report(
    f,
    `${where}: segment ${segmentLabel({ kind, name })} detached (${HOW[o.live]})`,
    { network: net, change: "detach", segment: { kind, name }, live: o.live },
    o.warnings,
  );
}

const segmentJson = (s: SegmentSpec) => ({
  kind: s.kind,
  name: s.name,
  device: s.device,
  takeAddresses: s.takeAddresses ?? false,
});
