// What `vnat attach` refuses beyond one network's own rules (core/input/segments.ts): a
// segment that is another vnat network's bridge, or that another vnat network has attached
// already (two namespaces would serve DHCP on one LAN). Pure: the other networks come in.
import { conflict } from "../errors.ts";
import { segmentLabel, type SegmentSpec } from "../input/segments.ts";
import type { KnownNetwork } from "../observe/inventory.ts";

export function refuseTakenSegment(where: string, s: SegmentSpec, others: readonly KnownNetwork[]): void {
  for (const o of others) {
    if (!o.vnat) continue;
    if (o.bridge === s.device)
      throw conflict(`${where}: segment ${segmentLabel(s)}: "${s.device}" is the bridge of vnat network "${o.name}"`);
    const theirs = (o.vnat.segments ?? []).find(
      (m) => (m.kind === "docker" ? m.bridge : m.name) === s.device || (m.kind === s.kind && m.name === s.name),
    );
    if (theirs)
      throw conflict(
        `${where}: segment ${segmentLabel(s)} is already attached to vnat network "${o.name}" (as ${segmentLabel(theirs)}; vnat detach ${o.name} ${segmentLabel(theirs)} first)`,
      );
  }
}
