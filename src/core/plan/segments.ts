// The segments step of a start (issue 19): after the namespace serves on the network's bridge
// (addresses, ruleset), before dnsmasq, so hosts on a segment find the gateway as soon as they
// can ask for a lease. Only networks with segments get it (the plans of others are unchanged).
// Pure.
import type { NetSpec } from "../input/spec.ts";
import type { SegmentSpec } from "../input/segments.ts";
import type { Op, Step } from "./plan.ts";

/** Attaching SEGMENTS to SPEC's bridge, undone (from what was recorded) by detaching them. */
export function segmentsOp(spec: NetSpec, segments: readonly SegmentSpec[]): Op {
  return {
    action: { kind: "segments-attach", network: spec.name, lanBridge: spec.lanBridge, segments: [...segments] },
    // registered first: a segment attached halfway is taken back too
    undo: {
      kind: "segments-detach",
      network: spec.name,
      devices: segments.map((s) => s.device),
      what: `detach segments ${segments.map((s) => `${s.kind}:${s.name}`).join(" ")}`,
    },
    undoFirst: true,
  };
}

/** The start's stage of segments: none for a network without any. */
export function segmentsStage(spec: NetSpec): Step[][] {
  const segs = spec.segments ?? [];
  return segs.length ? [[{ name: "segments", ops: [segmentsOp(spec, segs)] }]] : [];
}
