// Plans as values (core/plan*.ts): golden text of a start, a live inbound edit and every
// repair, and the invariants the journal relies on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import type { Repair } from "../../src/core/judge/drift.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { diffInbound } from "../../src/core/edit/inbound-diff.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { netPaths } from "../../src/core/paths.ts";
import { formatPlan, type Plan } from "../../src/core/plan/plan.ts";
import { planInbound, planInboundAfter } from "../../src/core/plan/inbound.ts";
import { planClearLeftovers, planRepair, type PlannedRepair } from "../../src/core/plan/repair.ts";
import { planBuild, planClaims, planStart, START_STEPS } from "../../src/core/plan/start.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { assertGolden } from "../support/golden.ts";

const base: NetOpts = {
  name: "golden",
  bridge: "virbr5",
  uplinkBridge: "br-prov",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
  dns: ["198.18.0.10"],
  dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="2h"/>`,
};
const INBOUND =
  `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
  `<vnat:floating address="198.51.100.20" to="10.0.0.7"/>` +
  `<vnat:host mac="52:54:00:aa:bb:01" ip="10.0.0.50" name="web"/>`;
const spec = (extra = INBOUND) =>
  buildSpec(parseHookData(hookData({ ...base, extraMetadata: extra })).network, EMPTY_CONFIG);
const roots = { run: "/run/vnat", config: "/etc/vnat/config.json", log: "/var/log/vnat" };
const paths = netPaths(roots, "golden");
const HOST_ADDRS = [parseIp("198.51.100.5")!];
const MACVLANS = { lan: "macvlan", uplink: "macvlan" } as const;

const stepNames = (p: Plan): string[][] => p.stages.map((s) => s.map((step) => step.name));

describe("start plan", () => {
  test("golden: macvlans, a floating address, a static host", () =>
    assertGolden("plan-start.txt", formatPlan(planStart(spec(), paths, { attach: MACVLANS, hostAddrs: HOST_ADDRS }))));
  test("golden: veth uplink, no inbound", () =>
    assertGolden(
      "plan-start-veth.txt",
      formatPlan(planBuild(spec(""), paths, { attach: { lan: "macvlan", uplink: "veth" }, hostAddrs: HOST_ADDRS })),
    ));
  test("the stages keep the build order; sysctl, addresses and nftables run at once", () => {
    const p = planStart(spec(), paths, { attach: MACVLANS, hostAddrs: HOST_ADDRS });
    assert.deepEqual(stepNames(p), [
      ["claim", "resolv"],
      ["links"],
      ["sysctl", "addresses", "nftables"],
      ["dnsmasq"],
      ["announce"],
      ["record"],
    ]);
    assert.deepEqual(stepNames(p).flat(), [...START_STEPS]);
  });
  test("the claims' stage needs no host fact; every claim has its release as undo", () => {
    const claim = planClaims(spec(), paths).stages[0]![0]!;
    const claims = claim.ops.filter((o) => o.action.kind === "claim");
    assert.equal(claims.length, 2);
    for (const o of claims) assert.equal(o.undo?.kind, "release");
  });
});

describe("inbound plan", () => {
  const old = spec();
  const next = spec(INBOUND.replace("198.51.100.20", "198.51.100.21").replace("10.0.0.50", "10.0.0.51"));
  const change = diffInbound(old, next);
  test("golden: a floating address moved, a host changed", () =>
    assertGolden(
      "plan-inbound.txt",
      formatPlan(planInbound(next, change, HOST_ADDRS)) +
        "--- after\n" +
        formatPlan(planInboundAfter(next, change, paths)),
    ));
  test("only hosts changed: nothing to undo, no ruleset", () => {
    const hostsOnly = spec(INBOUND.replace("10.0.0.50", "10.0.0.52"));
    const c = diffInbound(old, hostsOnly);
    assert.deepEqual(planInbound(hostsOnly, c, []).stages, []);
    assert.deepEqual(stepNames(planInboundAfter(hostsOnly, c, paths)), [["hosts"], ["record"]]);
  });
});

describe("repair plans", () => {
  const s = spec();
  const repairs: PlannedRepair[] = [
    { kind: "enslave", ifname: "vn-golden-l", bridge: "virbr5" },
    { kind: "fdb", entry: { bridge: "br-prov", mac: "02:76:c6:33:64:0b" } },
    { kind: "link-up", ifname: "lan0", netns: "vnat-golden" },
    {
      kind: "addresses",
      spec: s,
      ifname: "wan0",
      add: ["198.51.100.11/24"],
      remove: ["198.51.100.99/24"],
      mac: "02:76:c6:33:64:0b",
    },
    { kind: "route", spec: s },
    { kind: "ruleset", spec: s },
    { kind: "dnsmasq", spec: s, stopPid: 4242 },
  ] satisfies Repair[];
  test("golden: every kind, and what a create clears first", () =>
    assertGolden(
      "plan-repair.txt",
      [...repairs.map((r) => planRepair(r, roots, HOST_ADDRS)), planClearLeftovers(s, roots)]
        .map(formatPlan)
        .join("---\n"),
    ));
  test("a repair sets back only what drifted: none of its actions carries an undo of its own", () => {
    for (const r of repairs)
      for (const o of planRepair(r, roots, HOST_ADDRS)
        .stages.flat()
        .flatMap((st) => st.ops))
        assert.equal(o.undo, undefined);
  });
});
