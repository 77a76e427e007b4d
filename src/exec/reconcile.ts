// `vnat reconcile`: observe everything, plan per network, repair what drifted, then look
// again at what was touched. Networks are repaired a few at a time; a network a hook is
// starting right now is left to the hook.
import type { FdbEntry } from "../core/attach.ts";
import { deleteFdb } from "./fdb.ts";
import { describeRepair, planNetwork, type NetPlan } from "../core/drift.ts";
import { evaluate, type Reason } from "../core/health.ts";
import { oneLine } from "../core/errors.ts";
import type { ApplyContext } from "./apply.ts";
import { probeAll, type ProbeOptions } from "./probe.ts";
import { mapLimit } from "./probe-netns.ts";
import { applyRepair } from "./repair.ts";
import { buildInFlight, clearBuildFailure, pruneCacheEntries, stopInFlight } from "../adapters/background.ts";
import { deleteLinks } from "./teardown.ts";

/** A hook's start takes well under a second; a "starting" state older than this is a crash. */
const STARTING_GRACE_MS = 60_000;
/**
 * A hook's `started` finishes (state "active") a moment before libvirt lists the network
 * as active: a namespace that recent is not taken for an orphan.
 */
const ORPHAN_GRACE_MS = 10_000;
/** with more networks to repair than this, progress starts with a count */
const PROGRESS_HEADER_FROM = 10;

export interface ReconcileOptions extends ProbeOptions {
  dryRun: boolean;
  /** remove leftovers even when libvirt lists no network at all */
  force?: boolean;
  /** one line per event, for the user */
  progress: (line: string) => void;
  failpoint?: string;
  now?: () => number;
}

export interface NetOutcome {
  name: string;
  planned: string[];
  failed: string[];
  /** problems left after the repairs (from a fresh probe) */
  remaining: Reason[];
  skipped?: string;
}

export interface ReconcileReport {
  checked: number;
  outcomes: NetOutcome[];
  strayLinks: string[];
  strayFdb: FdbEntry[];
  strayFailed: string[];
}

export async function reconcile(opts: ReconcileOptions): Promise<ReconcileReport> {
  const now = opts.now ?? Date.now;
  const { observations, strayLinks, strayFdb } = await probeAll(opts);
  // a libvirt that lists no network at all is more likely the wrong one (VNAT_LIBVIRT_URI,
  // a daemon still starting) than a host whose every vnat network was stopped behind the hook
  const blind = !opts.force && (await opts.networks).length === 0;
  const plans: NetPlan[] = [];
  const outcomes: NetOutcome[] = [];
  for (const o of observations) {
    const v = evaluate(o);
    const plan = planNetwork(o, v);
    if (plan.repairs.length === 0 && plan.unfixable.length === 0) continue;
    const age = o.state ? now() - Date.parse(o.state.startedAt) : Infinity;
    const skipped =
      (o.state?.phase === "starting" && age < STARTING_GRACE_MS) || (await buildInFlight(opts.roots, o.name))
        ? "a hook is starting it"
        : (await stopInFlight(opts.roots, o.name))
          ? "a hook is stopping it"
          : v.health === "orphan" && age < ORPHAN_GRACE_MS
            ? "started moments ago: libvirt may not list it as active yet"
            : v.health === "orphan" && blind
              ? "libvirt lists no network at all, so nothing is removed (check VNAT_LIBVIRT_URI; --force removes it)"
              : undefined;
    if (skipped) {
      outcomes.push({ name: o.name, planned: [], failed: [], remaining: [], skipped });
      continue;
    }
    plans.push(plan);
  }
  const total = plans.filter((p) => p.repairs.length).length;
  if (total > PROGRESS_HEADER_FROM)
    opts.progress(
      `${observations.length} network(s) checked, ${total} to ${opts.dryRun ? "repair (dry run)" : "repair"}`,
    );
  let done = 0;
  const ctx: ApplyContext = {
    runner: opts.runner,
    roots: opts.roots,
    ...(opts.failpoint ? { failpoint: opts.failpoint } : {}),
  };
  await mapLimit(plans, 4, async (plan) => {
    const outcome: NetOutcome = {
      name: plan.name,
      planned: plan.repairs.map(describeRepair),
      failed: [],
      remaining: plan.unfixable,
    };
    outcomes.push(outcome);
    if (plan.repairs.length === 0) return;
    const n = ++done;
    if (opts.dryRun) {
      for (const line of outcome.planned) opts.progress(`[${n}/${total}] ${plan.name}: would ${line}`);
      return;
    }
    const t0 = performance.now();
    for (const r of plan.repairs) {
      try {
        await applyRepair(ctx, r);
      } catch (e) {
        outcome.failed.push(oneLine(e));
        break; // later repairs assume the earlier ones worked
      }
    }
    // a namespace the hook failed to build in the background is up now: guests may attach again
    if (outcome.failed.length === 0) await clearBuildFailure(opts.roots, plan.name);
    const ms = Math.round(performance.now() - t0);
    const what = outcome.planned.join("; ");
    opts.progress(
      `[${n}/${total}] ${plan.name}: ${what}: ${outcome.failed.length ? `FAILED: ${outcome.failed[0]}` : "done"} (${ms} ms)`,
    );
  });

  const strayFailed: string[] = [];
  if (strayLinks.length && !blind) {
    if (opts.dryRun) opts.progress(`would remove stray interfaces: ${strayLinks.join(", ")}`);
    else
      await deleteLinks(opts.runner, strayLinks, 0).then(
        () => opts.progress(`removed stray interfaces: ${strayLinks.join(", ")}`),
        (e: unknown) => strayFailed.push(oneLine(e)),
      );
  }
  if (strayFdb.length && !blind) {
    const list = strayFdb.map((e) => `${e.mac} on ${e.bridge}`).join(", ");
    if (opts.dryRun) opts.progress(`would remove stray fdb entries: ${list}`);
    else
      await deleteFdb(opts.runner, strayFdb).then(
        () => opts.progress(`removed stray fdb entries: ${list}`),
        (e: unknown) => strayFailed.push(oneLine(e)),
      );
  }
  // the shell hook's memo of networks libvirt no longer defines (undefined without `vnat net delete`)
  if (!blind && !opts.dryRun && !opts.only)
    await pruneCacheEntries(
      opts.roots,
      (await opts.networks).map((n) => n.name),
    );
  if (!opts.dryRun) await verify(opts, outcomes);
  outcomes.sort((a, b) => a.name.localeCompare(b.name));
  return { checked: observations.length, outcomes, strayLinks, strayFdb, strayFailed };
}

/** Probes the repaired networks again: what is still wrong is reported, not assumed fixed. */
async function verify(opts: ReconcileOptions, outcomes: NetOutcome[]): Promise<void> {
  const touched = outcomes.filter((o) => o.planned.length > 0);
  if (touched.length === 0) return;
  const { observations } = await probeAll({ ...opts, only: touched.map((o) => o.name), duplicate: false });
  for (const t of touched) {
    const o = observations.find((x) => x.name === t.name);
    const left = o ? evaluate(o).reasons : [];
    const known = new Set(t.remaining.map((r) => r.message));
    t.remaining.push(...left.filter((r) => !known.has(r.message)));
  }
}
