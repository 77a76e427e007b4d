// The plan of a live inbound edit (exec/change/inbound.ts): what may fail and is undone, then
// what follows once the change took effect, where a failure is only a warning.
//   1. claim the new floating addresses (O_EXCL claims: no two running networks share one)
//      and add them to wan0;
//   2. replace the ruleset in ONE `nft -f` transaction: established connections keep
//      their conntrack NAT bindings, so other flows are not disturbed;
// then (planInboundAfter):
//   3. delete the conntrack entries of removed or changed forwards / floating IPs;
//   4. remove the floating addresses that went away and release their claims;
//   5. rewrite the dhcp-hosts file and SIGHUP dnsmasq (it keeps its leases);
//   6. record the new spec, then announce new floating addresses (gratuitous ARP). Pure.
import type { InboundChange } from "../edit/inbound-diff.ts";
import { renderFloatingAnnounceArgs } from "./inbound-render.ts";
import { formatIp } from "../ipv4.ts";
import { UPLINK_IF } from "../names.ts";
import type { NetPaths } from "../paths.ts";
import { renderDhcpHosts } from "../input/hosts.ts";
import { inNetns, loadRuleset, type Op, type Plan, type Step } from "./plan.ts";
import type { NetSpec } from "../input/spec.ts";

const ALREADY_THERE = "File exists";
const ALREADY_GONE = "Cannot assign requested address";

const floatingArgv = (spec: NetSpec, op: "add" | "del", ip: number): string[] => [
  "ip",
  "-n",
  spec.names.netns,
  "addr",
  op,
  `${formatIp(ip)}/${spec.uplink.address.prefix}`,
  "dev",
  UPLINK_IF,
];

/** Steps 1-2 for NEXT; HOSTADDRS (the host's own addresses) only when the rules change. */
export function planInbound(
  next: NetSpec,
  change: InboundChange,
  hostAddrs: readonly number[],
  hostAddrs6: readonly string[] = [],
): Plan {
  const bridge = next.uplink.bridge;
  const owner = next.name;
  const floating: Op[] = change.addAddresses.flatMap((ip): Op[] => {
    const text = formatIp(ip);
    return [
      {
        action: { kind: "claim", bridge, ip: text, owner },
        undo: { kind: "release", bridge, ip: text, owner, what: `release floating ${text} claim` },
      },
      {
        action: {
          kind: "run",
          argv: floatingArgv(next, "add", ip),
          tolerate: ALREADY_THERE,
          fail: `add floating ${text} to ${UPLINK_IF}`,
        },
        undo: {
          kind: "run",
          argv: floatingArgv(next, "del", ip),
          tolerate: ALREADY_GONE,
          what: `remove floating ${text} from ${UPLINK_IF}`,
        },
      },
    ];
  });
  const stages: Step[][] = [];
  if (floating.length) stages.push([{ name: "floating", ops: floating }]);
  if (change.rules)
    stages.push([
      { name: "ruleset", ops: [{ action: loadRuleset(next, hostAddrs, { fail: "nft ruleset", hostAddrs6 }) }] },
    ]);
  return { stages };
}

/** Steps 3-6, run once the change took effect: each failure is a warning, nothing is undone. */
export function planInboundAfter(next: NetSpec, change: InboundChange, paths: NetPaths): Plan {
  const netns = next.names.netns;
  const bridge = next.uplink.bridge;
  const stages: Step[][] = [];
  if (change.flush.length)
    stages.push([
      {
        name: "conntrack",
        ops: change.flush.map((flush): Op => ({ action: { kind: "conntrack-flush", netns, flush } })),
      },
    ]);
  if (change.removeAddresses.length)
    stages.push([
      {
        name: "floating-removed",
        ops: change.removeAddresses.flatMap((ip): Op[] => [
          {
            action: {
              kind: "run",
              argv: floatingArgv(next, "del", ip),
              tolerate: ALREADY_GONE,
              fail: `remove floating ${formatIp(ip)} from ${UPLINK_IF}`,
            },
          },
          { action: { kind: "release", bridge, ip: formatIp(ip), owner: next.name } },
        ]),
      },
    ]);
  if (change.hosts)
    stages.push([
      {
        name: "hosts",
        ops: [
          { action: { kind: "hosts-file", path: paths.dhcpHosts, text: renderDhcpHosts(next.hosts ?? []) } },
          { action: { kind: "dnsmasq-reload", network: next.name, pidFile: paths.pidFile } },
        ],
      },
    ]);
  stages.push([{ name: "record", ops: [{ action: { kind: "state-spec", spec: next } }] }]);
  if (change.addAddresses.length)
    stages.push(
      change.addAddresses.map((ip) => ({
        name: `announce ${formatIp(ip)}`,
        ops: [
          {
            action: {
              kind: "run",
              argv: inNetns(netns, renderFloatingAnnounceArgs(ip)),
              timeoutMs: 5000,
              fail: `announce ${formatIp(ip)}`,
            },
          },
        ],
      })),
    );
  return { stages };
}
