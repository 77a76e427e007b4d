// The one engine that changes the host: it runs plans (core/plan/plan.ts) for starts, live
// inbound edits and repairs, with one undo policy (netavark's single setup/teardown loop,
// CNI's undo-on-error):
//   1. the stages of a plan run in order, the steps of a stage at once, a step's actions
//      in order;
//   2. each action's undo is registered as soon as it has succeeded (or before it runs,
//      when a failed action may leave something behind);
//   3. on a failure every step of the stage settles, then every registered undo runs, in
//      reverse; an undo that fails is reported (rollback-incomplete), never swallowed.
import { VnatError } from "../../core/errors.ts";
import { formatIp } from "../../core/ipv4.ts";
import type { Roots } from "../../core/paths.ts";
import { type Action, type Op, type Plan, type Step, type Undo } from "../../core/plan/plan.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import type { Attachments } from "../../core/input/attach.ts";
import {
  claimOwner,
  claimUplink,
  readState,
  releaseUplink,
  removeNetDir,
  writeState,
  type NetState,
} from "../../adapters/store/state.ts";
import { flushConntrack } from "./conntrack.ts";
import { dnsmasqPid, isOurDnsmasq, terminate } from "../../adapters/dnsmasq.ts";
import { ensureNetDir, prepareDnsmasqFiles, touchHostsFile, writeHostsFile } from "../../adapters/store/netdir.ts";
import { prepareLeaseStatus, removeLeaseStatus } from "../../adapters/store/lease-status.ts";
import { removeNetnsResolvConf, writeNetnsResolvConf } from "../../adapters/store/netns-etc.ts";
import { addFdb, deleteFdb } from "./fdb.ts";
import { ipBatch } from "./ip.ts";
import { firstLine, signal, spawnDetached, type Runner } from "../run.ts";
import { deleteLinks, deleteNetns, stopNetnsProcesses } from "./teardown.ts";
import { sleep } from "../../adapters/async.ts";
import { attachSegments, detachSegments } from "./segments.ts";

export interface JournalEnv {
  runner: Runner;
  roots: Roots;
  /** test-only fault injection: fail ("STEP") or hang until killed ("hang:STEP") right after this step's stage */
  failpoint?: string;
}

/** A step that failed; its message is the cause. */
export class StepFailed extends VnatError {
  readonly step: string;
  constructor(step: string, cause: string) {
    super("apply-failed", cause);
    this.step = step;
  }
}

/** An action's own failure, named by its step once it reaches it. */
class ActionFailed extends Error {}

export function stateOf(spec: NetSpec, phase: NetState["phase"], attach: Attachments): NetState {
  return {
    name: spec.name,
    phase,
    lanBridge: spec.lanBridge,
    uplinkBridge: spec.uplink.bridge,
    uplink: formatIp(spec.uplink.address.address),
    netns: spec.names.netns,
    startedAt: new Date().toISOString(),
    attach,
    spec,
  };
}

type Registered = { what: string; fn: () => Promise<void> };

/** What one transaction did, and so what undoes it. */
export class Journal {
  private readonly undos: Registered[] = [];
  constructor(private readonly env: JournalEnv) {}

  /** Runs PLAN's stages; throws StepFailed (or a VnatError an action raised) with the undos kept for rollback. */
  async run(plan: Plan): Promise<void> {
    for (const stage of plan.stages) {
      // every step of a stage settles (and registers its undo) before a failure is reported
      const results = await Promise.allSettled(stage.map((s) => this.step(s)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      for (const { name } of stage) {
        if (this.env.failpoint === name) throw new StepFailed(name, "injected failure (VNAT_FAILPOINT)");
        // tests of crashes: the build stops here until the test kills it
        if (this.env.failpoint === `hang:${name}`) await new Promise(() => setInterval(() => {}, 1 << 30));
      }
    }
  }

  /** A host fact asked while earlier steps ran: its failure is STEP's. */
  async fact<T>(step: string, fact: Promise<T>): Promise<T> {
    try {
      return await fact;
    } catch (e) {
      throw e instanceof VnatError ? e : new StepFailed(step, (e as Error).message);
    }
  }

  /** Runs the registered undos in reverse, each once; returns what could not be undone. */
  async rollback(): Promise<string[]> {
    const errors: string[] = [];
    for (const u of this.undos.splice(0).reverse()) {
      try {
        await u.fn();
      } catch (e) {
        errors.push(`${u.what}: ${(e as Error).message}`);
      }
    }
    return errors;
  }

  private async step(step: Step): Promise<void> {
    try {
      for (const op of step.ops) await this.op(op);
    } catch (e) {
      if (e instanceof VnatError) throw e;
      throw new StepFailed(step.name, (e as Error).message);
    }
  }

  private async op({ action, undo, undoFirst }: Op): Promise<void> {
    if (undo && undoFirst) this.register(undo);
    await this.act(action);
    if (undo && !undoFirst) this.register(undo);
  }

  private register(u: Undo): void {
    this.undos.push({ what: u.what, fn: () => this.undo(u) });
  }

  /**
   * Runs PLAN after a change took effect: every action runs, and each failure is a
   * warning (returned), never undone.
   */
  async settle(plan: Plan): Promise<string[]> {
    const warnings: string[] = [];
    for (const stage of plan.stages)
      await Promise.all(
        stage.map(async (step) => {
          for (const { action } of step.ops) {
            try {
              warnings.push(...((await this.act(action)) ?? []));
            } catch (e) {
              warnings.push((e as Error).message);
            }
          }
        }),
      );
    return warnings;
  }

  /** Does A; returns warnings where an action has some (settle). */
  private async act(a: Action): Promise<string[] | void> {
    const { runner, roots } = this.env;
    switch (a.kind) {
      case "run": {
        const r = await runner.run(a.argv[0]!, a.argv.slice(1), { input: a.input, timeoutMs: a.timeoutMs });
        if (r.exitCode !== 0 && !(a.tolerate !== undefined && new RegExp(a.tolerate).test(r.stderr)))
          throw new ActionFailed(a.fail !== undefined ? `${a.fail}: ${firstLine(r.stderr)}` : firstLine(r.stderr));
        return;
      }
      case "ip-batch": {
        const deadline = Date.now() + (a.busyRetryMs ?? 0);
        for (;;) {
          const r = await ipBatch(
            runner,
            a.lines.map((l) => l.line),
            a.netns,
          );
          for (const l of a.lines.slice(0, r.done)) if (l.undo) this.register(l.undo);
          if (r.ok) return;
          if (!a.busyRetryMs || !/Address already in use/.test(r.error) || Date.now() > deadline)
            throw new ActionFailed(r.error);
          await sleep(20);
        }
      }
      case "fdb-add": {
        const f = await addFdb(runner, a.entries);
        const added = a.entries.slice(0, f.done);
        if (added.length) this.register({ kind: "fdb-del", entries: added, what: "delete fdb entries" });
        if (f.error !== undefined) throw new ActionFailed(f.error);
        return;
      }
      case "detach":
        if (!(await spawnDetached(a.argv[0]!, a.argv.slice(1))) && a.fail !== undefined) throw new ActionFailed(a.fail);
        return;
      case "net-dir":
        return ensureNetDir(roots, a.network);
      case "state":
        return writeState(roots, stateOf(a.spec, a.phase, a.attach));
      case "claim":
        return claimUplink(roots, a.bridge, a.ip, a.owner);
      case "claims-held":
        for (const [i, ip] of a.ips.entries()) {
          const owner = await claimOwner(roots, a.bridge, ip);
          if (owner !== a.owner)
            throw new ActionFailed(
              `${i ? "floating" : "uplink"} ${ip} on bridge "${a.bridge}": ${owner ? `claimed by network "${owner}"` : "claim removed"} meanwhile`,
            );
        }
        return;
      case "hosts-file":
        return a.text === undefined ? touchHostsFile(a.path) : writeHostsFile(a.path, a.text);
      case "resolv-conf":
        return writeNetnsResolvConf(roots, a.spec);
      case "dnsmasq-files":
        await prepareDnsmasqFiles(a.paths);
        return prepareLeaseStatus(a.spec, a.paths);
      case "dnsmasq-kill":
        if (await isOurDnsmasq(a.pid, a.pidFile)) await terminate(a.pid);
        return;
      case "dnsmasq-reload": {
        const pid = await dnsmasqPid(a.pidFile);
        if (pid === undefined)
          return [`dnsmasq of network "${a.network}" is not running: static hosts apply at its next start`];
        if (!signal(pid, "SIGHUP")) return [`reload dnsmasq (pid ${pid}): it exited meanwhile`];
        return;
      }
      case "release":
        return releaseUplink(roots, a.bridge, a.ip, a.owner);
      case "conntrack-flush":
        return flushConntrack(runner, a.netns, a.flush);
      case "state-spec": {
        const state = await readState(roots, a.spec.name);
        if (state) await writeState(roots, { ...state, spec: a.spec });
        return;
      }
      case "netns-gone":
        await stopNetnsProcesses(runner, a.netns, a.pidFile);
        return deleteNetns(runner, a.netns);
      case "links-gone":
        return deleteLinks(runner, a.ifnames, a.waitMs, a.owner);
      case "segments-attach":
        return attachSegments(runner, roots, a.network, a.lanBridge, a.segments);
    }
  }

  private async undo(u: Undo): Promise<void> {
    const { runner, roots } = this.env;
    switch (u.kind) {
      case "run": {
        const r = await runner.run(u.argv[0]!, u.argv.slice(1));
        if (r.exitCode !== 0 && !(u.tolerate !== undefined && new RegExp(u.tolerate).test(r.stderr)))
          throw new Error(firstLine(r.stderr));
        return;
      }
      case "netns-del":
        await stopNetnsProcesses(runner, u.netns, u.pidFile);
        return deleteNetns(runner, u.netns);
      case "link-del":
        return deleteLinks(runner, [u.ifname]);
      case "fdb-del":
        return deleteFdb(runner, u.entries);
      case "release":
        return releaseUplink(roots, u.bridge, u.ip, u.owner);
      case "net-dir-rm":
        return removeNetDir(roots, u.network);
      case "resolv-conf-rm":
        return removeNetnsResolvConf(roots, u.netns);
      case "lease-status-rm":
        return removeLeaseStatus(u.lanBridge);
      case "dnsmasq-stop": {
        const pid = await dnsmasqPid(u.pidFile);
        if (pid !== undefined) await terminate(pid);
        return;
      }
      case "segments-detach": {
        const errors = await detachSegments(runner, roots, u.network, u.devices);
        if (errors.length) throw new Error(errors.join("; "));
        return;
      }
    }
  }
}

/** How a caller words a failure that was undone. */
export interface FailureWording {
  /** WHERE: the object, e.g. `start network "web"` */
  where: string;
  /** the failure, e.g. `step "links" failed: ...` */
  what: (e: unknown) => string;
  /** the error once everything was undone */
  undone: (e: unknown, what: string) => Error;
}

/**
 * Runs BODY on a fresh journal. On a failure every completed step is undone in reverse;
 * when an undo fails, the error is rollback-incomplete, "WHERE: WHAT; rollback incomplete:
 * UNDO: CAUSE; ...", naming what was left behind. Otherwise WORDING.undone words it.
 */
export async function transact<T>(
  env: JournalEnv,
  wording: FailureWording,
  body: (journal: Journal) => Promise<T>,
): Promise<T> {
  const journal = new Journal(env);
  try {
    return await body(journal);
  } catch (e) {
    const left = await journal.rollback();
    const what = wording.what(e);
    if (left.length)
      throw new VnatError("rollback-incomplete", `${wording.where}: ${what}; rollback incomplete: ${left.join("; ")}`);
    throw wording.undone(e, what);
  }
}
