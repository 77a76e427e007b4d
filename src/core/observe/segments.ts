// What `vnat status` sees of a network's segments (issue 19) and how it shows them in its
// JSON document (docs/status-json.md "segments"). Pure.
import type { SegmentKind } from "../input/segments.ts";

export interface SegmentState {
  kind: SegmentKind;
  name: string;
  /** the Linux device (a docker segment's bridge) */
  device: string;
  /** the device exists */
  present: boolean;
  /** bridge, docker: vnat's veth pair is there with each end in its bridge; tap: its master is the network's bridge */
  attached: boolean;
}

export interface SegmentDoc {
  kind: SegmentKind;
  name: string;
  device: string;
  present: boolean;
  attached: boolean;
}

export const segmentDoc = (s: SegmentState): SegmentDoc => ({
  kind: s.kind,
  name: s.name,
  device: s.device,
  present: s.present,
  attached: s.attached,
});
