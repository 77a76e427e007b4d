// Carries out one repair that drift.ts planned, with the same renderers the hook uses, so
// a repaired namespace is exactly what a fresh start would build. Each repair touches
// only what drifted: a healthy link, address, ruleset or dnsmasq is never restarted.
import { describeRepair, type Repair } from "../core/drift.ts";
import { formatIp } from "../core/ipv4.ts";
import { UPLINK_IF } from "../core/names.ts";
import { netPaths } from "../core/paths.ts";
import { renderAnnounceArgs, renderDnsmasqArgs, renderNft } from "../core/render.ts";
import type { NetSpec } from "../core/spec.ts";
import { isOurDnsmasq, terminate } from "../adapters/dnsmasq.ts";
import { ensureNetDir, prepareDnsmasqFiles, touchHostsFile } from "../adapters/netdir.ts";
import { prepareLeaseStatus } from "../adapters/lease-status.ts";
import { startNetwork, type ApplyContext } from "./apply.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import { ipBatch } from "./ip.ts";
import { addFdb } from "./fdb.ts";
import { firstLine, spawnDetached } from "./run.ts";
import { deleteLinks, deleteNetns, stopNetnsProcesses, teardownNetwork } from "./teardown.ts";

export async function applyRepair(ctx: ApplyContext, r: Repair): Promise<void> {
  const { runner } = ctx;
  const must = async (cmd: string, args: string[], input?: string): Promise<void> => {
    const res = await runner.run(cmd, args, { input, timeoutMs: 15_000 });
    if (res.exitCode !== 0) throw new Error(`${describeRepair(r)}: ${firstLine(res.stderr)}`);
  };
  const batch = async (lines: string[], netns?: string): Promise<void> => {
    const res = await ipBatch(runner, lines, netns);
    if (!res.ok) throw new Error(`${describeRepair(r)}: ${res.error}`);
  };
  switch (r.kind) {
    case "create":
      return recreate(ctx, r.spec);
    case "remove": {
      const errors = await teardownNetwork(runner, ctx.roots, r.name, r.fdb);
      if (errors.length) throw new Error(`${describeRepair(r)}: ${errors.join("; ")}`);
      return;
    }
    case "enslave":
      return batch([`link set ${r.ifname} master ${r.bridge}`, `link set ${r.ifname} up`]);
    case "fdb": {
      const f = await addFdb(runner, [r.entry]);
      if (f.error !== undefined) throw new Error(`${describeRepair(r)}: ${f.error}`);
      return;
    }
    case "link-up":
      return batch([`link set ${r.ifname} up`], r.netns ?? undefined);
    case "addresses": {
      const lines = [
        ...r.remove.map((a) => `addr del ${a} dev ${r.ifname}`),
        ...r.add.map((a) => `addr replace ${a} dev ${r.ifname}`),
        ...(r.mac ? [`link set ${r.ifname} address ${r.mac}`] : []),
      ];
      await batch(lines, r.spec.names.netns);
      // the provider's router may have cached another MAC or none: announce the uplink
      if (r.ifname === UPLINK_IF)
        await spawnDetached("ip", ["netns", "exec", r.spec.names.netns, ...renderAnnounceArgs(r.spec)]);
      return;
    }
    case "route":
      return batch(
        [`route replace default via ${formatIp(r.spec.uplink.gateway)} dev ${UPLINK_IF}`],
        r.spec.names.netns,
      );
    case "ruleset":
      // one transaction: the namespace never runs without a ruleset, and conntrack (so every
      // established connection and its NAT mapping) is untouched
      return must(
        "ip",
        ["netns", "exec", r.spec.names.netns, "nft", "-f", "-"],
        "flush ruleset\n" + renderNft(r.spec, await probeHostAddresses(runner)),
      );
    case "dnsmasq":
      return restartDnsmasq(ctx, r.spec, r.stopPid, must);
  }
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

async function restartDnsmasq(
  ctx: ApplyContext,
  spec: NetSpec,
  stopPid: number | null,
  must: (cmd: string, args: string[]) => Promise<void>,
): Promise<void> {
  const paths = netPaths(ctx.roots, spec.name);
  if (stopPid !== null && (await isOurDnsmasq(stopPid, paths.pidFile))) await terminate(stopPid);
  await ensureNetDir(ctx.roots, spec.name);
  // keep the hosts file's content (static hosts): only make sure it exists
  await touchHostsFile(paths.dhcpHosts);
  await prepareDnsmasqFiles(paths);
  await prepareLeaseStatus(spec, paths);
  await must("ip", ["netns", "exec", spec.names.netns, "dnsmasq", ...renderDnsmasqArgs(spec, paths)]);
}
