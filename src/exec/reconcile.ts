// `vnat reconcile`: observe everything, plan per network, repair what drifted, then look
// again at what was touched. Networks are repaired a few at a time, each under its lock
// (exec/netlock.ts), and only when no event of it finished since reconcile looked: the
// sequence read before libvirt was asked must still be the one under the lock. libvirt
// is never asked while a network's lock is held (a hook of that network may be waiting
// for the lock inside libvirt's own lock of the network).
import type { FdbEntry } from "../core/input/attach.ts";
import { deleteFdb } from "./change/fdb.ts";
import { describeRepair, planNetwork, type NetPlan } from "../core/judge/drift.ts";
import { evaluate, type Reason } from "../core/judge/health.ts";
import { oneLine } from "../core/errors.ts";
import type { ApplyContext } from "./change/apply.ts";
import { probeAll, type ProbeOptions } from "./probe/observe.ts";
import { mapLimit } from "../adapters/async.ts";
import { applyRepair } from "./change/repair.ts";
import { pruneCacheEntries } from "../adapters/store/hookcache.ts";
import { heldFlocks, lockNetwork, networkBusy, readAllSeqs } from "./netlock.ts";
import { deleteLinks } from "./change/teardown.ts";
import { recordReconcileRun } from "../adapters/store/event-stats.ts";

/** with more networks to repair than this, progress starts with a count */
const PROGRESS_HEADER_FROM = 10;

export interface ReconcileOptions extends ProbeOptions {
  dryRun: boolean;
  /** remove leftovers even when libvirt lists no network at all */
  force?: boolean;
  /** one line per event, for the user */
  progress: (line: string) => void;
  failpoint?: string;
  /**
   * every network's event sequence, read before libvirt was asked (exec/netlock.ts); read
   * when reconcile starts if absent
   */
  seqBefore?: Map<string, number>;
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
  const seqBefore = opts.seqBefore ?? (await readAllSeqs(opts.roots));
  // the sequences as reconcile leaves them: its own repairs move them too
  const expected = new Map(seqBefore);
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
    const skipped =
      v.health === "orphan" && blind
        ? "libvirt lists no network at all, so nothing is removed (is this the libvirt that runs them? -c/--connect, LIBVIRT_DEFAULT_URI; --force removes it)"
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
  /** every repair tried, for vnat's metrics */
  const applied: Array<{ kind: string; result: string }> = [];
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
    const lock = await lockNetwork(opts.roots, plan.name);
    try {
      if (lock!.seq !== (seqBefore.get(plan.name) ?? 0)) {
        outcome.planned = [];
        outcome.remaining = [];
        outcome.skipped = "an event of it finished while reconcile looked (checked again at the next run)";
        opts.progress(`[${n}/${total}] ${plan.name}: skipped: ${outcome.skipped}`);
        return;
      }
      for (const r of plan.repairs) {
        try {
          await applyRepair(ctx, r);
          applied.push({ kind: r.kind, result: "ok" });
        } catch (e) {
          outcome.failed.push(oneLine(e));
          applied.push({ kind: r.kind, result: "failed" });
          break; // later repairs assume the earlier ones worked
        }
      }
      await lock!.finish("reconcile", outcome.failed.length ? "failed" : "ok");
      expected.set(plan.name, lock!.seq);
    } finally {
      await lock!.release();
    }
    const ms = Math.round(performance.now() - t0);
    const what = outcome.planned.join("; ");
    opts.progress(
      `[${n}/${total}] ${plan.name}: ${what}: ${outcome.failed.length ? `FAILED: ${outcome.failed[0]}` : "done"} (${ms} ms)`,
    );
  });

  const strayFailed: string[] = [];
  // Strays carry no network's name: a network defined and started after libvirt was asked
  // would look like one. Swept only when no network's lock is held and no sequence moved.
  const quiet = !blind && (await sweepIsSafe(opts, expected));
  if (strayLinks.length && quiet) {
    if (opts.dryRun) opts.progress(`would remove stray interfaces: ${strayLinks.join(", ")}`);
    else
      await deleteLinks(opts.runner, strayLinks, 0).then(
        () => opts.progress(`removed stray interfaces: ${strayLinks.join(", ")}`),
        (e: unknown) => strayFailed.push(oneLine(e)),
      );
  }
  if (strayFdb.length && quiet) {
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
  if (!opts.dryRun) await recordReconcileRun(opts.roots, Math.floor(Date.now() / 1000), applied);
  outcomes.sort((a, b) => a.name.localeCompare(b.name));
  return { checked: observations.length, outcomes, strayLinks, strayFdb, strayFailed };
}

/** True when no event of any network runs, or ran besides reconcile's own, since reconcile looked. */
async function sweepIsSafe(opts: ReconcileOptions, expected: Map<string, number>): Promise<boolean> {
  const now = await readAllSeqs(opts.roots);
  for (const [name, seq] of now) if (seq !== (expected.get(name) ?? 0)) return false;
  const held = heldFlocks();
  return ![...now.keys()].some((name) => networkBusy(opts.roots, name, held));
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
