// The plan of one repair that drift.ts chose, from the same renderers a start uses, so a
// repaired namespace is exactly what a fresh start would build. Each repair touches only
// what drifted: a healthy link, address, ruleset or dnsmasq is never restarted. "create"
// clears what is left (planClearLeftovers), then runs a whole start (plan-start.ts);
// "remove" is a teardown (exec/change/teardown.ts). Pure.
import type { Repair } from "../judge/drift.ts";
import type { NetSpec } from "../input/spec.ts";
import { UPLINK_IF } from "../names.ts";
import { netPaths, type Roots } from "../paths.ts";
import { inNetns, loadRuleset, type Op, type Plan } from "./plan.ts";
import { segmentsOp } from "./segments.ts";
import { defaultRoute6Line } from "./render6.ts";
import {
  addrDelLine,
  addrReplaceLine,
  defaultRouteLine,
  enslaveLine,
  linkUpLine,
  macLine,
  renderAnnounceArgs,
  renderDnsmasqArgs,
} from "./render.ts";

/** How long a repair's command may take. */
const REPAIR_TIMEOUT_MS = 15_000;

export type PlannedRepair = Exclude<Repair, { kind: "create" | "remove" }>;

/** R as a one-step plan; HOSTADDRS are the host's own addresses (for "ruleset"). */
export function planRepair(
  r: PlannedRepair,
  roots: Roots,
  hostAddrs: readonly number[],
  hostAddrs6: readonly string[] = [],
): Plan {
  const batch = (lines: string[], netns?: string): Op => ({
    action: { kind: "ip-batch", netns, lines: lines.map((line) => ({ line })) },
  });
  const ops = ((): Op[] => {
    switch (r.kind) {
      case "enslave":
        return [batch([enslaveLine(r.ifname, r.bridge)])];
      case "fdb":
        return [{ action: { kind: "fdb-add", entries: [r.entry] } }];
      case "link-up":
        return [batch([linkUpLine(r.ifname)], r.netns ?? undefined)];
      case "addresses":
        return [
          batch(
            [
              ...r.remove.map((a) => addrDelLine(a, r.ifname)),
              ...r.add.map((a) => addrReplaceLine(a, r.ifname)),
              ...(r.mac ? [macLine(r.ifname, r.mac)] : []),
            ],
            r.spec.names.netns,
          ),
          // the provider's router may have cached another MAC or none: announce the uplink
          ...(r.ifname === UPLINK_IF
            ? [
                {
                  action: { kind: "detach", argv: inNetns(r.spec.names.netns, renderAnnounceArgs(r.spec)) },
                } satisfies Op,
              ]
            : []),
        ];
      case "route":
        // both families' default routes: `route replace` is a no-op for the one that was right
        return [
          batch([defaultRouteLine(r.spec), ...(r.spec.v6 ? [defaultRoute6Line(r.spec.v6)] : [])], r.spec.names.netns),
        ];
      case "segments":
        return [segmentsOp(r.spec, r.segments)];
      case "ruleset":
        // one transaction: the namespace never runs without a ruleset, and conntrack (so every
        // established connection and its NAT mapping) is untouched
        return [{ action: loadRuleset(r.spec, hostAddrs, { flush: true, timeoutMs: REPAIR_TIMEOUT_MS, hostAddrs6 }) }];
      case "dnsmasq": {
        const paths = netPaths(roots, r.spec.name);
        return [
          ...(r.stopPid !== null
            ? [{ action: { kind: "dnsmasq-kill", pid: r.stopPid, pidFile: paths.pidFile } } satisfies Op]
            : []),
          { action: { kind: "net-dir", network: r.spec.name } },
          // keep the hosts file's content (static hosts): only make sure it exists
          { action: { kind: "hosts-file", path: paths.dhcpHosts } },
          { action: { kind: "dnsmasq-files", spec: r.spec, paths } },
          {
            action: {
              kind: "run",
              argv: inNetns(r.spec.names.netns, ["dnsmasq", ...renderDnsmasqArgs(r.spec, paths)]),
              timeoutMs: REPAIR_TIMEOUT_MS,
            },
          },
        ];
      }
    }
  })();
  return { stages: [[{ name: r.kind, ops }]] };
}

/**
 * Before a "create": whatever is left of SPEC's namespace (a deleted namespace lives on
 * while dnsmasq runs in it) and its host links, never another network's link of the same
 * name (its alias says whose it is).
 */
export function planClearLeftovers(spec: NetSpec, roots: Roots): Plan {
  const k = spec.names;
  return {
    stages: [
      [
        {
          name: "clear",
          ops: [
            { action: { kind: "netns-gone", netns: k.netns, pidFile: netPaths(roots, spec.name).pidFile } },
            { action: { kind: "links-gone", ifnames: [k.lanHost, k.uplinkHost], owner: spec.name, waitMs: 2000 } },
          ],
        },
      ],
    ],
  };
}
