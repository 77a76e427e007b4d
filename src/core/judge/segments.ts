// Drift of a running network's segments (issue 19): a segment whose device went away is
// reported (segment-missing: nothing vnat can repair; it comes back when the device does and
// reconcile runs), one that is there but no longer patched in (a veth end deleted or moved,
// a tap released) is attached again (segment-detached). Pure.
import { segmentLabel, type SegmentSpec } from "../input/segments.ts";
import type { NetSpec } from "../input/spec.ts";
import type { NetObservation } from "../observe/observed.ts";

export const SEGMENT_REASONS = ["segment-missing", "segment-detached"] as const;

type SegmentReason = { code: (typeof SEGMENT_REASONS)[number]; message: string };

export function segmentReasons(o: NetObservation): SegmentReason[] {
  return (o.segments ?? []).flatMap((s): SegmentReason[] =>
    !s.present
      ? [{ code: "segment-missing", message: `segment ${segmentLabel(s)}: "${s.device}" is gone` }]
      : !s.attached
        ? [
            {
              code: "segment-detached",
              message: `segment ${segmentLabel(s)}: "${s.device}" is no longer patched into ${o.spec?.lanBridge ?? "the network's bridge"}`,
            },
          ]
        : [],
  );
}

/** The segments a repair attaches again: present, detached. */
export function segmentsToRepair(o: NetObservation, spec: NetSpec): SegmentSpec[] {
  const detached = new Set((o.segments ?? []).filter((s) => s.present && !s.attached).map((s) => s.device));
  return (spec.segments ?? []).filter((s) => detached.has(s.device));
}
