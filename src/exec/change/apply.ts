// Builds a network's namespace (the hook at `started`): the plan is core/plan/start.ts, the
// journal that runs it and undoes on failure is journal.ts. Here only the host facts the
// plan needs are asked, while its first stage (claims and files) is written.
import { VnatError } from "../../core/errors.ts";
import { resolveAttachments } from "../../core/input/attach.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { planBuild, planClaims } from "../../core/plan/start.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { attachFacts } from "../probe/attach-facts.ts";
import { probeHostAddresses } from "../probe/host-addrs.ts";
import { probeHostAddresses6 } from "../probe/host-addrs6.ts";
import { StepFailed, transact } from "./journal.ts";
import type { Runner } from "../run.ts";

export { START_STEPS, type StartStep } from "../../core/plan/start.ts";
export { stateOf } from "./journal.ts";

export interface ApplyContext {
  runner: Runner;
  roots: Roots;
  /** test-only fault injection: fail ("STEP") or hang until killed ("hang:STEP") right after this step has succeeded */
  failpoint?: string;
}

/** Builds network SPEC's namespace in one go; on a failure everything is undone. */
export async function startNetwork(ctx: ApplyContext, spec: NetSpec): Promise<void> {
  const { runner } = ctx;
  const paths = netPaths(ctx.roots, spec.name);
  const forced = spec.uplink.attach;
  // host facts, asked now and answered while the claims and files are written (the bridge's
  // address is a process, br_netfilter's switches file reads; the host's addresses a read of
  // /proc/net/fib_trie): no wait of their own
  const bridges = attachFacts(runner, spec);
  const hostAddrs = probeHostAddresses(runner);
  const hostAddrs6 = probeHostAddresses6(runner, spec);
  bridges.catch(() => {});
  hostAddrs.catch(() => {});
  hostAddrs6.catch(() => {});
  const where = `start network "${spec.name}"`;
  await transact(
    ctx,
    {
      where,
      what: (e) => (e instanceof StepFailed ? `step "${e.step}" failed: ${e.message}` : (e as Error).message),
      // a VnatError of its own (a claim taken by another network) is reported as it is
      undone: (e, what) =>
        e instanceof VnatError && !(e instanceof StepFailed)
          ? e
          : new VnatError("apply-failed", `${where}: ${what} (everything undone)`),
    },
    async (journal) => {
      await journal.run(planClaims(spec, paths));
      const attach = resolveAttachments(forced, await journal.fact("claim", bridges));
      await journal.run(
        planBuild(spec, paths, {
          attach,
          hostAddrs: await journal.fact("nftables", hostAddrs),
          hostAddrs6: await journal.fact("nftables", hostAddrs6),
        }),
      );
    },
  );
}
