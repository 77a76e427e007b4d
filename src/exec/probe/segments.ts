// Whether a network's segments (issue 19) can be attached: each one is there and of its kind,
// and none is another vnat network's bridge or attached to another running vnat network. Asked
// at `start begin` (hook/preflight.ts: "a missing segment is a clear error", before libvirt
// builds anything) and before a live `vnat attach`.
import { conflict, invalid } from "../../core/errors.ts";
import { segmentLabel, type SegmentSpec } from "../../core/input/segments.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import type { Roots } from "../../core/paths.ts";
import { isNetworkName, segmentLinkNames } from "../../core/names.ts";
import type { SegmentState } from "../../core/observe/segments.ts";
import { linkExists } from "../../adapters/sysfs.ts";
import { listStates, readState } from "../../adapters/store/state.ts";
import { masterOf, segmentProblem } from "../change/segments.ts";

/** Throws (invalid-input, or conflict) for the first of SEGMENTS (default: SPEC's) that cannot be attached. */
export async function refuseSegmentProblems(
  spec: NetSpec,
  roots: Roots,
  segments: readonly SegmentSpec[] = spec.segments ?? [],
): Promise<void> {
  if (!segments.length) return;
  const where = `network "${spec.name}"`;
  for (const s of segments) {
    const problem = segmentProblem(where, s, spec.lanBridge);
    if (problem) throw invalid(problem);
  }
  for (const other of await listStates(roots)) {
    if (other === spec.name || !isNetworkName(other)) continue;
    const st = await readState(roots, other).catch(() => undefined);
    if (!st) continue;
    for (const s of segments) {
      if (st.lanBridge === s.device)
        throw conflict(`${where}: segment ${segmentLabel(s)}: "${s.device}" is the bridge of vnat network "${other}"`);
      const theirs = st.spec?.segments?.find((o) => o.device === s.device);
      if (theirs)
        throw conflict(
          `${where}: segment ${segmentLabel(s)}: "${s.device}" is already attached to vnat network "${other}" (as ${segmentLabel(theirs)}; vnat detach ${other} ${segmentLabel(theirs)} first)`,
        );
    }
  }
}

/** How the host has network NAME's segments (status, reconcile): each device there, and patched in. */
export function probeSegmentStates(name: string, spec: NetSpec): SegmentState[] {
  return (spec.segments ?? []).map((s) => {
    const present = linkExists(s.device);
    let attached: boolean;
    if (s.kind === "tap") attached = present && masterOf(s.device) === spec.lanBridge;
    else {
      const { lan, peer } = segmentLinkNames(name, s.device);
      attached = present && masterOf(lan) === spec.lanBridge && masterOf(peer) === s.device;
    }
    return { kind: s.kind, name: s.name, device: s.device, present, attached };
  });
}
