// One collection of vnat's metrics (core/metrics/model.ts): the observation `vnat status`
// makes (exec/probe/observe.ts: one virsh for all networks, one probe per namespace, no
// network's lock taken), plus file reads: wan0's totals from /proc/PID/net/dev of the
// namespace's dnsmasq, the host's conntrack limit, and the event counts under /run/vnat/stats.
import { readFile, stat } from "node:fs/promises";
import type { Config } from "../../core/input/config.ts";
import type { NetSpec } from "../../core/input/spec.ts";
import { evaluate } from "../../core/judge/health.ts";
import { renderExposition } from "../../core/metrics/exposition.ts";
import { buildMetrics, type NetworkMetrics } from "../../core/metrics/model.ts";
import { parseNetDevStats } from "../../core/metrics/netdev.ts";
import { UPLINK_IF } from "../../core/names.ts";
import type { Roots } from "../../core/paths.ts";
import type { LibvirtNetwork } from "../../adapters/libvirt/view.ts";
import { readHookStats, readReconcileStats, type HookStatsCache } from "../../adapters/store/event-stats.ts";
import type { Runner } from "../run.ts";
import { probeAll } from "./observe.ts";
import { referenceRulesets } from "./reference-rulesets.ts";
import { probeHostAddresses } from "./host-addrs.ts";
import { renderNft } from "../../core/plan/render.ts";

export interface CollectOptions {
  runner: Runner;
  roots: Roots;
  config: Config;
  networks: LibvirtNetwork[] | Promise<LibvirtNetwork[]>;
  references?: (runner: Runner, specs: NetSpec[]) => Promise<Map<string, string>>;
  /** parsed hook stats files kept between collections (a resident exporter) */
  hookStatsCache?: HookStatsCache;
  /** probe processes at once (exec/probe/observe.ts) */
  parallel?: number;
}

const readOr = (path: string): Promise<string | undefined> => readFile(path, "utf8").catch(() => undefined);

/** The host's nf_conntrack_max (one limit for every namespace on this kernel); null when unreadable. */
async function conntrackMax(): Promise<number | null> {
  const n = Number((await readOr("/proc/sys/net/netfilter/nf_conntrack_max"))?.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The exposition text of one collection. */
export async function collectMetrics(opts: CollectOptions): Promise<string> {
  const t0 = performance.now();
  const [probe, hook, reconcile, ctMax] = await Promise.all([
    probeAll({
      runner: opts.runner,
      roots: opts.roots,
      config: opts.config,
      networks: opts.networks,
      references: opts.references ?? referenceRulesets,
      ...(opts.parallel !== undefined ? { parallel: opts.parallel } : {}),
    }),
    readHookStats(opts.roots, opts.hookStatsCache),
    readReconcileStats(opts.roots),
    conntrackMax(),
  ]);
  const networks: NetworkMetrics[] = await Promise.all(
    probe.observations.map(async (o) => {
      const pid = o.dnsmasq.inNamespace ? o.dnsmasq.pid : null;
      const dev = pid === null ? undefined : await readOr(`/proc/${pid}/net/dev`);
      const uplink = dev === undefined ? undefined : parseNetDevStats(dev, UPLINK_IF);
      return { obs: o, verdict: evaluate(o), ...(uplink ? { uplink } : {}), conntrackMax: ctMax };
    }),
  );
  return renderExposition(
    buildMetrics({
      networks,
      config: opts.config,
      hook: hook.stats,
      hookCached: hook.cached,
      reconcile,
      collectSeconds: (performance.now() - t0) / 1000,
    }),
  );
}

/**
 * Reference rulesets cached by spec: a resident exporter renders and lists a network's
 * reference once per rendered ruleset, not once per scrape (the one nft process is most of a
 * collection's cost). Entries of specs no longer seen are dropped at each call.
 */
export function cachedReferences(): (runner: Runner, specs: NetSpec[]) => Promise<Map<string, string>> {
  let cache = new Map<string, string>();
  return async (runner, specs) => {
    // the rendered text is the key: it holds everything the reference depends on (spec and host addresses)
    const host = await probeHostAddresses(runner);
    const keyOf = (s: NetSpec): string => renderNft(s, host);
    const missing = specs.filter((s) => !cache.has(keyOf(s)));
    const fresh = missing.length ? await referenceRulesets(runner, missing) : new Map<string, string>();
    const next = new Map<string, string>();
    const out = new Map<string, string>();
    for (const s of specs) {
      const k = keyOf(s);
      const listing = cache.get(k) ?? fresh.get(s.name);
      if (listing === undefined) continue;
      next.set(k, listing);
      out.set(s.name, listing);
    }
    cache = next;
    return out;
  };
}

/**
 * libvirt's view for a resident exporter: asked again when any vnat network had an event since
 * (every hook event, live edit and repair renames a NAME.seq into ROOTS/locks/net, which moves
 * that directory's mtime) and at least every TTL_MS (what reaches libvirt without an event:
 * a network defined or undefined while inactive, a daemon restart). Asking libvirt for every
 * network's XML at each scrape made libvirtd, which runs the hooks, dump 200 documents a second.
 * A failed read is not kept.
 */
export function cachedLibvirtView(
  read: () => Promise<LibvirtNetwork[]>,
  stamp: () => Promise<string>,
  ttlMs: number,
  now: () => number = Date.now,
): () => Promise<LibvirtNetwork[]> {
  let last: { at: number; stamp: string; value: Promise<LibvirtNetwork[]> } | undefined;
  return async () => {
    const s = await stamp();
    if (last && last.stamp === s && now() - last.at < ttlMs) return last.value;
    const value = read();
    const entry = { at: now(), stamp: s, value };
    last = entry;
    value.catch(() => {
      if (last === entry) last = undefined;
    });
    return value;
  };
}

/** The mtime of ROOTS/locks/net, where every finished vnat event renames its NAME.seq. */
export async function eventStamp(roots: Roots): Promise<string> {
  const st = await stat(`${roots.run}/locks/net`).catch(() => undefined);
  return st ? `${st.mtimeMs}` : "none";
}
