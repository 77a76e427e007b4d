// Starts the probe of every namespace at once (before libvirt has answered): the ones with
// vnat's dnsmasq inside are read from files and have their rulesets listed by a few
// `ip -batch` processes; the others get one `ip` process each.
import type { NetnsView } from "../../core/observe/netns-view.ts";
import { netPaths, type Roots } from "../../core/paths.ts";
import { inNetns, ourDnsmasqPid } from "./host.ts";
import { probeNetns, readNetnsFiles } from "./netns.ts";
import type { Limiter } from "../../adapters/async.ts";
import { listRulesets } from "./live-rulesets.ts";
import type { Runner } from "../run.ts";

export type Inside = { view: NetnsView } | { error: string };

export function probeInside(
  runner: Runner,
  roots: Roots,
  targets: Array<{ name: string; netns: string }>,
  limit: Limiter,
  processes: number,
): Map<string, Promise<Inside>> {
  const out = new Map<string, Promise<Inside>>();
  const fast: Array<{ name: string; netns: string; files: Omit<NetnsView, "ruleset"> }> = [];
  for (const t of targets) {
    const pid = ourDnsmasqPid(netPaths(roots, t.name).pidFile);
    const files = pid !== null && inNetns(pid, t.netns) ? readNetnsFiles(pid) : undefined;
    if (files) fast.push({ ...t, files });
    else
      out.set(
        t.name,
        limit(() => probeNetns(runner, t.netns)).then(
          (view) => ({ view }),
          (e: unknown) => ({ error: (e as Error).message }),
        ),
      );
  }
  const listed = listRulesets(
    runner,
    fast.map((f) => f.netns),
    processes,
  );
  for (const f of fast)
    out.set(
      f.name,
      listed.then(
        (m): Inside => {
          const l = m.get(f.netns);
          if (!l || "error" in l) return { error: `probe namespace ${f.netns}: ${l?.error ?? "not listed"}` };
          return { view: { ...f.files, ruleset: l.ruleset } };
        },
        (e: unknown) => ({ error: (e as Error).message }),
      ),
    );
  return out;
}
