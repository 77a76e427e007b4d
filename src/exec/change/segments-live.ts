// `vnat attach/detach` on an active network (issue 19): under the network's lock, from the
// spec its namespace runs (state.json), like the inbound edits (exec/change/inbound.ts):
// removed segments are detached, added ones attached through the journal (a failure takes
// back what it did and leaves the network as it was), and the running spec records the new
// list. Never calls libvirt (a hook of the network may be waiting for this lock inside it).
import { VnatError } from "../../core/errors.ts";
import { diffSegments, segmentLabel } from "../../core/input/segments.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import type { Roots } from "../../core/paths.ts";
import { segmentsOp } from "../../core/plan/segments.ts";
import { readState, writeState } from "../../adapters/store/state.ts";
import { netnsExists } from "../../adapters/sysfs.ts";
import { withNetworkLock } from "../netlock.ts";
import type { Runner } from "../run.ts";
import { transact } from "./journal.ts";
import { detachSegments, readSegmentRecords } from "./segments.ts";

export type LiveSegments = { live: "applied" | "current" } | { live: "not-running" };

export async function applySegmentsLocked(runner: Runner, roots: Roots, next: NetSpec): Promise<LiveSegments> {
  const where = `network "${next.name}"`;
  return withNetworkLock(roots, next.name, async (lock) => {
    const state = await readState(roots, next.name);
    if (state?.phase !== "active" || state.spec === undefined || !netnsExists(next.names.netns))
      return { live: "not-running" };
    const running = state.spec;
    const { add, remove } = diffSegments(running.segments, next.segments);
    // what vnat did that the running spec does not say (an attach killed before the spec was
    // written, whose record was): taken back unless NEXT keeps it
    const stale = (await readSegmentRecords(roots, next.name))
      .filter((r) => !(running.segments ?? []).some((s) => s.device === r.device))
      .filter((r) => !(next.segments ?? []).some((s) => s.device === r.device && s.kind === r.kind))
      .map((r) => r.device);
    if (!add.length && !remove.length && !stale.length) return { live: "current" };
    const record = (segments: NetSpec["segments"]) =>
      writeState(roots, {
        ...state,
        spec: { ...running, ...(segments?.length ? { segments } : { segments: undefined }) },
      });
    try {
      if (remove.length || stale.length) {
        const errors = await detachSegments(
          runner,
          roots,
          next.name,
          [...remove.map((s) => s.device), ...stale],
          remove,
        );
        // what is gone is recorded as gone even when something of it could not be put back
        const kept = (running.segments ?? []).filter((s) => !remove.includes(s));
        await record(kept);
        if (errors.length)
          throw new VnatError(
            "apply-failed",
            `${where}: detach ${[...remove.map(segmentLabel), ...stale].join(" ")}: ${errors.join("; ")}`,
          );
      }
      if (add.length) {
        await transact(
          { runner, roots },
          {
            where,
            what: (e) => (e as Error).message.replace(`${where}: `, ""),
            undone: (_e, what) => new VnatError("apply-failed", `${where}: ${what} (nothing attached)`),
          },
          async (journal) => journal.run({ stages: [[{ name: "segments", ops: [segmentsOp(next, add)] }]] }),
        );
      }
      await record(next.segments);
    } catch (e) {
      await lock.finish("segments", "failed");
      throw e;
    }
    await lock.finish("segments", "ok");
    return { live: "applied" };
  });
}
