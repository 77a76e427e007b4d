// The plan of a start (the hook at `started`): claims and files, the namespace and its
// links, then sysctls, addresses and the ruleset at once, dnsmasq, the announcement, the
// record. Pure; golden-tested (test/unit/plan.test.ts).
import { LEGACY_ATTACH, type Attachments } from "../input/attach.ts";
import { renderDhcpHosts } from "../input/hosts.ts";
import { renderFloatingAnnounceArgs } from "./inbound-render.ts";
import { formatIp } from "../ipv4.ts";
import type { NetPaths } from "../paths.ts";
import { batchLines, inNetns, loadRuleset, type Op, type Plan } from "./plan.ts";
import { attachFdb, renderAnnounceArgs, renderDnsmasqArgs, renderHostBatch, renderNetnsBatch } from "./render.ts";
import type { NetSpec } from "../input/spec.ts";
import { claimedIps6, claimOps6, hostSysctlOps6, sysctlArgs, sysctlOps6 } from "./start6.ts";
import { segmentsStage } from "./segments.ts";

export const START_STEPS = [
  "claim",
  "resolv",
  "links",
  "sysctl",
  "addresses",
  "nftables",
  "dnsmasq",
  "announce",
  "record",
] as const;
export type StartStep = (typeof START_STEPS)[number];

/** How long a start waits for a freed namespace of the same network to release its MACs. */
export const MAC_BUSY_WAIT_MS = 5000;

/** What a start needs to know of the host, asked while its claims are written. */
export interface StartFacts {
  /** how the namespace attaches to its bridges (for "auto": whether the uplink bridge has an address) */
  attach: Attachments;
  /** the host's own IPv4 addresses, which isolation keeps guests from reaching (exec/probe/host-addrs.ts) */
  hostAddrs: readonly number[];
  /** the host's own IPv6 addresses, for a network with an IPv6 side (exec/probe/host-addrs6.ts) */
  hostAddrs6?: readonly string[];
}

/**
 * Stage 1, planned before the host facts are in: the state directory and state file
 * ("starting", recorded first: a build killed at any later point leaves it, which status
 * reports and reconcile or the next start clears), the uplink and floating claims, the
 * hosts file (dnsmasq drops to an unprivileged user and re-reads it on SIGHUP) and, beside
 * them, the namespace's resolv.conf (there before any `ip netns exec` into it).
 */
export function planClaims(spec: NetSpec, paths: NetPaths): Plan {
  const { bridge } = spec.uplink;
  const owner = spec.name;
  const uplinkIp = formatIp(spec.uplink.address.address);
  const claim: Op[] = [
    {
      action: { kind: "net-dir", network: owner },
      undo: { kind: "net-dir-rm", network: owner, what: "remove state directory" },
    },
    { action: { kind: "state", spec, phase: "starting", attach: LEGACY_ATTACH } },
    {
      action: { kind: "claim", bridge, ip: uplinkIp, owner },
      undo: { kind: "release", bridge, ip: uplinkIp, owner, what: "release uplink claim" },
    },
    ...(spec.floating ?? []).map((f): Op => {
      const ip = formatIp(f.address);
      return {
        action: { kind: "claim", bridge, ip, owner },
        undo: { kind: "release", bridge, ip, owner, what: `release floating ${ip} claim` },
      };
    }),
    ...claimOps6(spec),
    { action: { kind: "hosts-file", path: paths.dhcpHosts, text: renderDhcpHosts(spec.hosts ?? []) } },
  ];
  return {
    stages: [
      [
        { name: "claim", ops: claim },
        {
          name: "resolv",
          ops: [
            {
              action: { kind: "resolv-conf", spec },
              // registered first: a half-written file goes too
              undo: { kind: "resolv-conf-rm", netns: spec.names.netns, what: "remove resolv.conf" },
              undoFirst: true,
            },
          ],
        },
      ],
    ],
  };
}

/**
 * The rest of a start, in stages. After "links" the namespace and its links exist, and the
 * sysctls, the addresses and the ruleset each need only that (the ruleset names interfaces
 * and the uplink address, not addresses present); dnsmasq binds to lan0's address, so it
 * waits for "addresses". Measured: ~30 ms of a ~85 ms build under load.
 */
export function planBuild(spec: NetSpec, paths: NetPaths, facts: StartFacts): Plan {
  const netns = spec.names.netns;
  const { attach } = facts;
  const fdb = attachFdb(spec, attach);
  const links: Op[] = [
    // the links about to be made are recorded first: teardown of a killed build looks for them
    { action: { kind: "state", spec, phase: "starting", attach } },
    { action: { kind: "ip-batch", lines: batchLines(renderHostBatch(spec, attach), paths.pidFile) } },
    ...hostSysctlOps6(spec, attach),
    ...(fdb.length ? [{ action: { kind: "fdb-add", entries: fdb } } satisfies Op] : []),
  ];
  const addresses: Op[] = [
    ...sysctlOps6(spec),
    {
      // A namespace is freed asynchronously once its name is deleted, and until then its
      // macvlans keep their MACs busy on the bridges: a network started again at once
      // cannot bring up a macvlan with the same MAC for a moment. Waiting here costs only
      // such a restart, where deleting the links at every stop would cost every stop.
      action: {
        kind: "ip-batch",
        netns,
        lines: renderNetnsBatch(spec).map((line) => ({ line })),
        busyRetryMs: MAC_BUSY_WAIT_MS,
      },
    },
    // Once the namespace holds the addresses, every claim of this build must still name it
    // (nobody breaks a claim while its owner's lock is held; this catches whoever did).
    {
      action: {
        kind: "claims-held",
        bridge: spec.uplink.bridge,
        ips: [
          formatIp(spec.uplink.address.address),
          ...(spec.floating ?? []).map((f) => formatIp(f.address)),
          ...claimedIps6(spec),
        ],
        owner: spec.name,
      },
    },
  ];
  const dnsmasq: Op[] = [
    {
      action: { kind: "dnsmasq-files", spec, paths },
      undo: { kind: "lease-status-rm", lanBridge: spec.lanBridge, what: "remove lease status" },
    },
    {
      action: { kind: "run", argv: inNetns(netns, ["dnsmasq", ...renderDnsmasqArgs(spec, paths)]), timeoutMs: 10_000 },
      // registered even on failure: a dnsmasq that wrote its pid file must not survive
      undo: { kind: "dnsmasq-stop", pidFile: paths.pidFile, what: "stop dnsmasq" },
      undoFirst: true,
    },
  ];
  // Gratuitous ARP so the provider's router learns the uplink (and its MAC) at once. The
  // kernel's arp_notify fires before a new veth can transmit, so arping sends it; it runs
  // detached (two announcements a second apart) and the hook does not wait.
  const announce: Op[] = [
    {
      action: {
        kind: "detach",
        argv: inNetns(netns, renderAnnounceArgs(spec)),
        fail: "could not start arping (install iputils-arping)",
      },
    },
    ...(spec.floating ?? []).map((f): Op => ({
      action: { kind: "detach", argv: inNetns(netns, renderFloatingAnnounceArgs(f.address)) },
    })),
  ];
  return {
    stages: [
      [{ name: "links", ops: links }],
      [
        {
          name: "sysctl",
          ops: [{ action: { kind: "run", argv: inNetns(netns, ["sysctl", "-q", "-w", ...sysctlArgs(spec)]) } }],
        },
        { name: "addresses", ops: addresses },
        { name: "nftables", ops: [{ action: loadRuleset(spec, facts.hostAddrs, { hostAddrs6: facts.hostAddrs6 }) }] },
      ],
      ...segmentsStage(spec),
      [{ name: "dnsmasq", ops: dnsmasq }],
      [{ name: "announce", ops: announce }],
      [{ name: "record", ops: [{ action: { kind: "state", spec, phase: "active", attach } }] }],
    ],
  };
}

/** The whole start as one plan (what a start runs, given the facts; golden-tested). */
export function planStart(spec: NetSpec, paths: NetPaths, facts: StartFacts): Plan {
  return { stages: [...planClaims(spec, paths).stages, ...planBuild(spec, paths, facts).stages] };
}
