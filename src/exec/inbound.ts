// Applies an inbound change to a running network's namespace without a restart:
//   1. claim the new floating addresses (O_EXCL claims: no two running networks share one);
//   2. add them to wan0;
//   3. replace the ruleset in ONE `nft -f` transaction: established connections keep
//      their conntrack NAT bindings, so other flows are not disturbed;
//   4. delete the conntrack entries of removed or changed forwards / floating IPs;
//   5. remove the floating addresses that went away and release their claims;
//   6. rewrite the dhcp-hosts file and SIGHUP dnsmasq (it keeps its leases);
//   7. record the new spec, then announce new floating addresses (gratuitous ARP).
// A failure in 1-3 undoes what was done and leaves the network as it was; an undo that
// fails is reported (rollback-incomplete, naming what was left), as a failed start is.
//
// applyInboundLocked is how the CLI applies an edit: under the network's lock
// (exec/netlock.ts), from what the namespace runs at that moment. It never calls libvirt:
// a hook of the network may be waiting for this lock inside libvirt's lock of the network.
import { VnatError } from "../core/errors.ts";
import { renderDhcpHosts } from "../core/hosts.ts";
import { diffInbound, isEmptyChange, sameBase, type InboundChange } from "../core/inbound-diff.ts";
import { renderFloatingAnnounceArgs } from "../core/inbound-render.ts";
import { formatIp } from "../core/ipv4.ts";
import { UPLINK_IF } from "../core/names.ts";
import { netPaths, type Roots } from "../core/paths.ts";
import { renderNft } from "../core/render.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import type { NetSpec } from "../core/spec.ts";
import { dnsmasqPid } from "../adapters/dnsmasq.ts";
import { writeHostsFile } from "../adapters/netdir.ts";
import { claimUplink, readState, releaseUplink, writeState } from "../adapters/state.ts";
import { netnsExists } from "../adapters/sysfs.ts";
import { flushConntrack } from "./conntrack.ts";
import { withNetworkLock } from "./netlock.ts";
import { firstLine, type Runner } from "./run.ts";

export interface InboundResult {
  change: InboundChange;
  /** problems after the change took effect (a conntrack delete, an announcement) */
  warnings: string[];
}

export async function applyInbound(runner: Runner, roots: Roots, old: NetSpec, next: NetSpec): Promise<InboundResult> {
  const change = diffInbound(old, next);
  const warnings: string[] = [];
  if (isEmptyChange(change)) return { change, warnings };
  const where = `network "${next.name}"`;
  const netns = next.names.netns;
  if (!netnsExists(netns)) throw new VnatError("apply-failed", `${where}: namespace "${netns}" is not running`);
  const bridge = next.uplink.bridge;
  const prefix = next.uplink.address.prefix;
  const addr = (op: "add" | "del", ip: number) =>
    runner.run("ip", ["-n", netns, "addr", op, `${formatIp(ip)}/${prefix}`, "dev", UPLINK_IF]);

  const undos: Array<{ what: string; fn: () => Promise<void> }> = [];
  try {
    for (const ip of change.addAddresses) {
      const text = formatIp(ip);
      await claimUplink(roots, bridge, text, next.name);
      undos.push({ what: `release floating ${text} claim`, fn: () => releaseUplink(roots, bridge, text, next.name) });
      const r = await addr("add", ip);
      if (r.exitCode !== 0 && !/File exists/.test(r.stderr))
        throw new VnatError("apply-failed", `add floating ${text} to ${UPLINK_IF}: ${firstLine(r.stderr)}`);
      undos.push({
        what: `remove floating ${text} from ${UPLINK_IF}`,
        fn: async () => {
          const d = await addr("del", ip);
          if (d.exitCode !== 0 && !/Cannot assign requested address/.test(d.stderr))
            throw new Error(firstLine(d.stderr));
        },
      });
    }
    if (change.rules) {
      const r = await runner.run("ip", ["netns", "exec", netns, "nft", "-f", "-"], {
        input: renderNft(next, await probeHostAddresses(runner)),
      });
      if (r.exitCode !== 0) throw new VnatError("apply-failed", `nft ruleset: ${firstLine(r.stderr)}`);
    }
  } catch (e) {
    const left: string[] = [];
    for (const u of undos.reverse())
      await u.fn().catch((err: unknown) => left.push(`${u.what}: ${err instanceof Error ? err.message : String(err)}`));
    const cause = e instanceof Error ? e.message : String(e);
    if (left.length)
      throw new VnatError("rollback-incomplete", `${where}: ${cause}; rollback incomplete: ${left.join("; ")}`);
    if (e instanceof VnatError && e.kind === "conflict") throw new VnatError("conflict", `${where}: ${cause}`);
    throw new VnatError("apply-failed", `${where}: ${cause} (nothing changed)`);
  }

  for (const f of change.flush) warnings.push(...(await flushConntrack(runner, netns, f)));
  for (const ip of change.removeAddresses) {
    const r = await addr("del", ip);
    if (r.exitCode !== 0 && !/Cannot assign requested address/.test(r.stderr))
      warnings.push(`remove floating ${formatIp(ip)} from ${UPLINK_IF}: ${firstLine(r.stderr)}`);
    await releaseUplink(roots, bridge, formatIp(ip), next.name);
  }
  if (change.hosts) warnings.push(...(await reloadHosts(roots, next)));
  const state = await readState(roots, next.name);
  if (state) await writeState(roots, { ...state, spec: next });
  await Promise.all(
    change.addAddresses.map(async (ip) => {
      const r = await runner.run("ip", ["netns", "exec", netns, ...renderFloatingAnnounceArgs(ip)], {
        timeoutMs: 5000,
      });
      if (r.exitCode !== 0) warnings.push(`announce ${formatIp(ip)}: ${firstLine(r.stderr)}`);
    }),
  );
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
      const running = state.spec as NetSpec;
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

/** Rewrites the hosts file and makes dnsmasq re-read it (SIGHUP keeps existing leases). */
export async function reloadHosts(roots: Roots, spec: NetSpec): Promise<string[]> {
  const paths = netPaths(roots, spec.name);
  await writeHostsFile(paths.dhcpHosts, renderDhcpHosts(spec.hosts ?? []));
  const pid = await dnsmasqPid(paths.pidFile);
  if (pid === undefined)
    return [`dnsmasq of network "${spec.name}" is not running: static hosts apply at its next start`];
  try {
    process.kill(pid, "SIGHUP");
  } catch (e) {
    return [`reload dnsmasq (pid ${pid}): ${(e as Error).message}`];
  }
  return [];
}
