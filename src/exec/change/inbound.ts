// Applies an inbound change to a running network's namespace without a restart: the plan
// is core/plan/inbound.ts, run by the journal (journal.ts). A failure while claiming and
// adding the new floating addresses or loading the ruleset undoes what was done and leaves
// the network as it was; an undo that fails is reported (rollback-incomplete, naming what
// was left), as a failed start is. What follows once the change took effect (conntrack,
// removed addresses, hosts, record, announce) only warns.
//
// applyInboundLocked is how the CLI applies an edit: under the network's lock
// (exec/netlock.ts), from what the namespace runs at that moment. It never calls libvirt:
// a hook of the network may be waiting for this lock inside libvirt's lock of the network.
import { VnatError } from "../../core/errors.ts";
import { diffInbound, isEmptyChange, sameBase, type InboundChange } from "../../core/edit/inbound-diff.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { planInbound, planInboundAfter } from "../../core/plan/inbound.ts";
import { probeHostAddresses } from "../probe/host-addrs.ts";
import { probeHostAddresses6 } from "../probe/host-addrs6.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { readState } from "../../adapters/store/state.ts";
import { netnsExists } from "../../adapters/sysfs.ts";
import { Journal, transact } from "./journal.ts";
import { withNetworkLock } from "../netlock.ts";
import type { Runner } from "../run.ts";

export interface InboundResult {
  change: InboundChange;
  /** problems after the change took effect (a conntrack delete, an announcement) */
  warnings: string[];
}

export async function applyInbound(runner: Runner, roots: Roots, old: NetSpec, next: NetSpec): Promise<InboundResult> {
  const change = diffInbound(old, next);
  if (isEmptyChange(change)) return { change, warnings: [] };
  const where = `network "${next.name}"`;
  const netns = next.names.netns;
  if (!netnsExists(netns)) throw new VnatError("apply-failed", `${where}: namespace "${netns}" is not running`);
  const env = { runner, roots };
  await transact(
    env,
    {
      where,
      what: (e) => (e instanceof Error ? e.message : String(e)),
      undone: (e, what) =>
        e instanceof VnatError && e.kind === "conflict"
          ? new VnatError("conflict", `${where}: ${what}`)
          : new VnatError("apply-failed", `${where}: ${what} (nothing changed)`),
    },
    async (journal) => {
      const hostAddrs = change.rules ? await probeHostAddresses(runner) : [];
      const hostAddrs6 = change.rules ? await probeHostAddresses6(runner, next) : [];
      await journal.run(planInbound(next, change, hostAddrs, hostAddrs6));
    },
  );
  const warnings = await new Journal(env).settle(planInboundAfter(next, change, netPaths(roots, next.name)));
  return { change, warnings };
}

/** What a live edit did to the running network (applyInboundLocked). */
export type LiveApply =
  | { live: "applied"; change: InboundChange; warnings: string[] }
  /** the namespace runs NEXT already: it was started from the new definition since */
  | { live: "current" }
  /** no namespace of the network runs (stopped since, or its start failed) */
  | { live: "not-running" }
  /** it runs a definition that differs beyond its inbound settings: that waits for a restart */
  | { live: "other-changes" };

/**
 * Applies NEXT to network NEXT.name's namespace holding the network's lock, from the spec
 * the namespace runs when the lock is taken (state.json), not from what libvirt said
 * before: a start, stop or repair that ran in between is seen here. The sequence moves
 * ("edit ok" or "edit failed") only when something was applied. Never calls libvirt.
 */
export async function applyInboundLocked(
  runner: Runner,
  roots: Roots,
  next: NetSpec,
  opts: { timeoutS?: number } = {},
): Promise<LiveApply> {
  return withNetworkLock(
    roots,
    next.name,
    async (lock) => {
      const state = await readState(roots, next.name);
      if (state?.phase !== "active" || state.spec === undefined || !netnsExists(next.names.netns))
        return { live: "not-running" };
      const running = state.spec;
      if (!sameBase(running, next)) return { live: "other-changes" };
      if (isEmptyChange(diffInbound(running, next))) return { live: "current" };
      let res: InboundResult;
      try {
        res = await applyInbound(runner, roots, running, next);
      } catch (e) {
        await lock.finish("edit", "failed");
        throw e;
      }
      await lock.finish("edit", "ok");
      return { live: "applied", ...res };
    },
    opts,
  );
}
