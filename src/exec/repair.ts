// Carries out one repair that drift.ts planned: core/plan-repair.ts plans it, the journal
// (journal.ts) runs it. "create" clears what is left of the namespace and runs a whole
// start; "remove" is a teardown (teardown.ts), which never stops at its first error.
import { describeRepair, type Repair } from "../core/drift.ts";
import { netPaths } from "../core/paths.ts";
import { planRepair } from "../core/plan-repair.ts";
import type { NetSpec } from "../core/spec.ts";
import { startNetwork, type ApplyContext } from "./apply.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import { transact } from "./journal.ts";
import { deleteLinks, deleteNetns, stopNetnsProcesses, teardownNetwork } from "./teardown.ts";

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
  await transact(
    { runner, roots },
    { where, what: (e) => (e as Error).message, undone: (_e, what) => new Error(`${where}: ${what}`) },
    (journal) => journal.run(planRepair(r, roots, hostAddrs)),
  );
}

/** Clears whatever is left of the namespace (a deleted namespace lives on while dnsmasq runs in it), then starts afresh. */
async function recreate(ctx: ApplyContext, spec: NetSpec): Promise<void> {
  const k = spec.names;
  await stopNetnsProcesses(ctx.runner, k.netns, netPaths(ctx.roots, spec.name).pidFile);
  await deleteNetns(ctx.runner, k.netns);
  // never another network's link of the same name (its alias says whose it is)
  await deleteLinks(ctx.runner, [k.lanHost, k.uplinkHost], 2000, spec.name);
  await startNetwork(ctx, spec);
}
