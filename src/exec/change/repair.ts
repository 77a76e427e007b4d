// Carries out one repair that drift.ts planned: core/plan/repair.ts plans it, the journal
// (journal.ts) runs it. "create" clears what is left of the namespace and runs a whole
// start; "remove" is a teardown (teardown.ts), which never stops at its first error and
// so is no plan with undos.
import { describeRepair, type Repair } from "../../core/judge/drift.ts";
import { planClearLeftovers, planRepair } from "../../core/plan/repair.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { startNetwork, type ApplyContext } from "./apply.ts";
import { probeHostAddresses } from "../probe/host-addrs.ts";
import { probeHostAddresses6 } from "../probe/host-addrs6.ts";
import { transact } from "./journal.ts";
import { teardownNetwork } from "./teardown.ts";

export async function applyRepair(ctx: ApplyContext, r: Repair): Promise<void> {
  const { runner, roots } = ctx;
  switch (r.kind) {
    case "create":
      return recreate(ctx, r.spec);
    case "remove": {
      const errors = await teardownNetwork(runner, roots, r.name, r.fdb);
      if (errors.length) throw new Error(`${describeRepair(r)}: ${errors.join("; ")}`);
      return;
    }
  }
  const where = describeRepair(r);
  const hostAddrs = r.kind === "ruleset" ? await probeHostAddresses(runner) : [];
  const hostAddrs6 = r.kind === "ruleset" ? await probeHostAddresses6(runner, r.spec) : [];
  await transact(
    { runner, roots },
    { where, what: (e) => (e as Error).message, undone: (_e, what) => new Error(`${where}: ${what}`) },
    (journal) => journal.run(planRepair(r, roots, hostAddrs, hostAddrs6)),
  );
}

/** Clears whatever is left of the namespace, then starts afresh. */
async function recreate(ctx: ApplyContext, spec: NetSpec): Promise<void> {
  const { runner, roots } = ctx;
  // nothing to undo: a failure is reported as it is
  await transact(
    { runner, roots },
    { where: `network "${spec.name}"`, what: (e) => (e as Error).message, undone: (e) => e as Error },
    (journal) => journal.run(planClearLeftovers(spec, roots)),
  );
  await startNetwork(ctx, spec);
}
