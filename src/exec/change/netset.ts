// Applies `vnat net set` to a running network's namespace, under the network's lock, from
// the spec the namespace runs when the lock is taken (state.json), as inbound edits do
// (exec/change/inbound.ts applyInboundLocked). With the same renderers and repairs reconcile uses:
//   1. isolation changed: the ruleset is replaced in ONE `nft -f` transaction (conntrack,
//      so every established connection and its NAT binding, is untouched);
//   2. DNS upstreams or DHCP changed: dnsmasq is stopped and started again in the namespace
//      with the new arguments; its lease file is kept, so guests keep their addresses;
//   3. the new spec is recorded (state.json).
// A failure in 1-2 puts back what was done (the old ruleset, dnsmasq with its old
// arguments); an undo that fails is reported as rollback-incomplete. The uplink is not
// moved live: it changes at the network's next start. Never calls libvirt.
import { dnsmasqPid } from "../../adapters/dnsmasq.ts";
import { readState, writeState } from "../../adapters/store/state.ts";
import { netnsExists } from "../../adapters/sysfs.ts";
import { oneLine, VnatError } from "../../core/errors.ts";
import { DEFAULT_ISOLATION } from "../../core/input/isolation.ts";
import { liveMerge, NET_SET_LIVE_FIELDS } from "../../core/edit/netset.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { withNetworkLock } from "../netlock.ts";
import { applyRepair } from "./repair.ts";
import type { Runner } from "../run.ts";

export type NetSetLive =
  /** applied: what was redone in the namespace ("ruleset", "dnsmasq") */
  | { live: "applied"; redone: string[] }
  /** the namespace runs the new settings already (nothing live-settable changed, or a start since) */
  | { live: "current" }
  | { live: "not-running" }
  /** it runs a definition that differs beyond what net set changes live: that waits for a restart */
  | { live: "other-changes" };

const key = (x: unknown): string => JSON.stringify(x);

/** Everything a live `net set` leaves as it is (the uplink waits for the next start). */
function fixedPart(spec: NetSpec): string {
  const rest: Record<string, unknown> = { ...spec };
  for (const k of [...NET_SET_LIVE_FIELDS, "uplink", "forwards", "floating", "hosts"]) delete rest[k];
  return key(rest);
}

/** `failpoint`: test-only fault injection ("net-set"): fail once everything was redone, so the undo runs. */
export async function applyNetSetLocked(
  runner: Runner,
  roots: Roots,
  next: NetSpec,
  opts: { failpoint?: string } = {},
): Promise<NetSetLive> {
  return withNetworkLock(roots, next.name, async (lock) => {
    const state = await readState(roots, next.name);
    if (state?.phase !== "active" || state.spec === undefined || !netnsExists(next.names.netns))
      return { live: "not-running" };
    const running = state.spec;
    if (fixedPart(running) !== fixedPart(next)) return { live: "other-changes" };
    const merged = liveMerge(running, next);
    const rules = key(running.isolation ?? DEFAULT_ISOLATION) !== key(merged.isolation ?? DEFAULT_ISOLATION);
    const dnsmasq = key([running.dns, running.dhcp]) !== key([merged.dns, merged.dhcp]);
    if (!rules && !dnsmasq) return { live: "current" };
    const ctx = { runner, roots };
    const pidFile = netPaths(roots, next.name).pidFile;
    const restartDnsmasq = async (spec: NetSpec) =>
      applyRepair(ctx, { kind: "dnsmasq", spec, stopPid: (await dnsmasqPid(pidFile)) ?? null });
    const undos: Array<{ what: string; fn: () => Promise<void> }> = [];
    const redone: string[] = [];
    try {
      if (rules) {
        await applyRepair(ctx, { kind: "ruleset", spec: merged });
        undos.push({ what: "put back the ruleset", fn: () => applyRepair(ctx, { kind: "ruleset", spec: running }) });
        redone.push("ruleset");
      }
      if (dnsmasq) {
        // registered first: a dnsmasq that failed to start is started again with the old arguments
        undos.push({ what: "restart dnsmasq with the old settings", fn: () => restartDnsmasq(running) });
        await restartDnsmasq(merged);
        redone.push("dnsmasq");
      }
      if (opts.failpoint === "net-set") throw new Error("injected failure (VNAT_FAILPOINT)");
    } catch (e) {
      const left: string[] = [];
      for (const u of undos.reverse()) await u.fn().catch((err: unknown) => left.push(`${u.what}: ${oneLine(err)}`));
      await lock.finish("edit", "failed");
      const where = `network "${next.name}"`;
      if (left.length)
        throw new VnatError("rollback-incomplete", `${where}: ${oneLine(e)}; rollback incomplete: ${left.join("; ")}`);
      throw new VnatError("apply-failed", `${where}: ${oneLine(e)} (the running network was put back as it was)`);
    }
    await writeState(roots, { ...state, spec: merged });
    await lock.finish("edit", "ok");
    return { live: "applied", redone };
  });
}
