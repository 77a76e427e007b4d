// Pure health evaluation and repair planning: a healthy observation, then one drift at a
// time, with the reason it must produce and the repairs it must plan.
import { LEGACY_ATTACH } from "../../src/core/input/attach.ts";
import { lanMac } from "../../src/core/names.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { describeRepair, planNetwork } from "../../src/core/judge/drift.ts";
import { evaluate, type ReasonCode } from "../../src/core/judge/health.ts";
import { parseNetworkXml } from "../../src/core/observe/inventory.ts";
import type { NetObservation } from "../../src/core/observe/observed.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { networkXml } from "../support/fixtures.ts";

const spec = buildSpec(
  parseNetworkXml(
    networkXml({
      name: "net1",
      bridge: "virbr5",
      uplinkBridge: "br-prov",
      uplink: "198.51.100.10/24",
      gateway: "198.51.100.1",
    }),
  ),
  EMPTY_CONFIG,
);
const k = spec.names;
const RULESET = "table ip vnat {\n}";

function healthy(): NetObservation {
  return {
    name: "net1",
    libvirt: { active: true, autostart: true, persistent: true, vnat: true },
    spec,
    netns: { name: k.netns, present: true },
    inside: {
      links: [
        { name: "lo", up: true, operstate: "UNKNOWN", mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8"] },
        { name: "lan0", up: true, operstate: "UP", mac: "aa:bb:cc:00:00:01", addresses: ["10.0.0.1/24"] },
        { name: "wan0", up: true, operstate: "UP", mac: spec.uplink.mac, addresses: ["198.51.100.10/24"] },
      ],
      defaultRoute: { gateway: "198.51.100.1", dev: "wan0" },
      ruleset: RULESET,
    },
    lanHost: { name: k.lanHost, present: true, up: true, operstate: "up", master: "virbr5" },
    uplinkHost: { name: k.uplinkHost, present: true, up: true, operstate: "up", master: "br-prov" },
    attach: LEGACY_ATTACH,
    fdb: { lan: null, uplink: null },
    bridges: { lan: true, uplink: true },
    dnsmasq: { pid: 4242, inNamespace: true, argsMatch: true },
    expectedRuleset: "table ip vnat {\n}",
    counters: {},
    conntrack: 3,
    leases: [],
    ports: [],
  };
}

function link(o: NetObservation, name: string) {
  return o.inside!.links.find((l) => l.name === name)!;
}

interface Case {
  what: string;
  drift: (o: NetObservation) => void;
  health: string;
  reasons: Array<[ReasonCode, string]>;
  repairs: string[];
}

const cases: Case[] = [
  { what: "nothing", drift: () => {}, health: "healthy", reasons: [], repairs: [] },
  {
    what: "namespace deleted",
    drift: (o) => {
      o.netns.present = false;
      delete o.inside;
    },
    health: "down",
    reasons: [["namespace-missing", "network active but namespace missing"]],
    repairs: [`create namespace ${k.netns}`],
  },
  {
    what: "network stopped, namespace left",
    drift: (o) => (o.libvirt!.active = false),
    health: "orphan",
    reasons: [["namespace-orphan", `namespace left without an active network (${k.netns})`]],
    repairs: [`remove namespace, interfaces, dnsmasq and state of "net1"`],
  },
  {
    what: "network unknown to libvirt, only a veth left",
    drift: (o) => {
      delete o.libvirt;
      o.netns.present = false;
      o.uplinkHost.present = false;
      o.dnsmasq.pid = null;
    },
    health: "orphan",
    reasons: [["leftovers", `left without an active network: interface ${k.lanHost}`]],
    repairs: [`remove namespace, interfaces, dnsmasq and state of "net1"`],
  },
  {
    what: "network stopped cleanly",
    drift: (o) => {
      o.libvirt!.active = false;
      o.netns.present = false;
      o.lanHost.present = o.uplinkHost.present = false;
      o.dnsmasq.pid = null;
    },
    health: "stopped",
    reasons: [],
    repairs: [],
  },
  {
    what: "dnsmasq dead",
    drift: (o) => (o.dnsmasq = { pid: null, inNamespace: false, argsMatch: false }),
    health: "degraded",
    reasons: [["dnsmasq-down", "dnsmasq not running"]],
    repairs: ["start dnsmasq"],
  },
  {
    what: "dnsmasq with old options",
    drift: (o) => (o.dnsmasq.argsMatch = false),
    health: "degraded",
    reasons: [["dnsmasq-changed", "dnsmasq runs with outdated options (pid 4242)"]],
    repairs: ["restart dnsmasq (pid 4242)"],
  },
  {
    what: "ruleset flushed",
    drift: (o) => (o.inside!.ruleset = ""),
    health: "degraded",
    reasons: [["ruleset-changed", "ruleset missing or changed (no ruleset)"]],
    repairs: ["replace the nftables ruleset (one transaction)"],
  },
  {
    what: "ruleset changed",
    drift: (o) => (o.inside!.ruleset = "table ip vnat {\n\tchain x {\n\t}\n}"),
    health: "degraded",
    reasons: [["ruleset-changed", "ruleset missing or changed (differs from the rendered one)"]],
    repairs: ["replace the nftables ruleset (one transaction)"],
  },
  {
    what: "lan veth detached",
    drift: (o) => (o.lanHost.master = null),
    health: "degraded",
    reasons: [["veth-detached", `veth detached from its bridge: ${k.lanHost} is on no bridge, not virbr5`]],
    repairs: [`attach ${k.lanHost} to bridge virbr5`],
  },
  {
    what: "uplink veth down",
    drift: (o) => (o.uplinkHost.up = false),
    health: "degraded",
    reasons: [["link-down", `link down: ${k.uplinkHost} (host side)`]],
    repairs: [`set ${k.uplinkHost} up`],
  },
  {
    what: "wrong gateway address",
    drift: (o) => (link(o, "lan0").addresses = ["10.0.0.254/24"]),
    health: "degraded",
    reasons: [["address-wrong", "wrong address: lan0 has 10.0.0.254/24, expected 10.0.0.1/24"]],
    repairs: ["lan0: add 10.0.0.1/24, remove 10.0.0.254/24", "restart dnsmasq (pid 4242)"],
  },
  {
    what: "an extra address on wan0 (a floating IP) is left alone",
    drift: (o) => link(o, "wan0").addresses.push("198.51.100.77/32"),
    health: "healthy",
    reasons: [],
    repairs: [],
  },
  {
    what: "uplink address and route gone",
    drift: (o) => {
      link(o, "wan0").addresses = [];
      o.inside!.defaultRoute = null;
    },
    health: "degraded",
    reasons: [
      ["address-wrong", "wrong address: wan0 has none, expected 198.51.100.10/24"],
      ["route-wrong", "wrong default route: none, expected via 198.51.100.1 dev wan0"],
    ],
    repairs: ["wan0: add 198.51.100.10/24", "replace the default route"],
  },
  {
    what: "wan0 lost its MAC",
    drift: (o) => (link(o, "wan0").mac = "02:00:00:00:00:01"),
    health: "degraded",
    reasons: [["address-wrong", `wrong address: wan0 has MAC 02:00:00:00:00:01, expected ${spec.uplink.mac}`]],
    repairs: [`wan0: set MAC ${spec.uplink.mac}`],
  },
  {
    what: "lan0 deleted inside the namespace",
    drift: (o) => (o.inside!.links = o.inside!.links.filter((l) => l.name !== "lan0")),
    health: "degraded",
    reasons: [["link-missing", `link lan0 missing in namespace ${k.netns}`]],
    repairs: [`rebuild namespace ${k.netns}`],
  },
  {
    what: "provider bridge gone",
    drift: (o) => {
      o.bridges.uplink = false;
      o.uplinkHost.master = null;
    },
    health: "degraded",
    reasons: [["bridge-missing", `bridge br-prov missing (veth ${k.uplinkHost} belongs on it)`]],
    repairs: [],
  },
  {
    what: "another host answers for the uplink",
    drift: (o) => (o.duplicate = { answeredBy: "52:54:00:00:00:09" }),
    health: "degraded",
    reasons: [
      ["uplink-duplicate", "uplink address answered by another host on the provider network (MAC 52:54:00:00:00:09)"],
    ],
    repairs: [],
  },
  {
    what: "invalid metadata",
    drift: (o) => {
      delete o.spec;
      o.specError = 'network "net1": missing <vnat:lan address="A.B.C.D/N">';
    },
    health: "invalid",
    reasons: [["spec-invalid", 'invalid network: network "net1": missing <vnat:lan address="A.B.C.D/N">']],
    repairs: [],
  },
];

/** The same network attached with macvlans: no host veths, one fdb entry per bridge. */
function healthyMacvlan(): NetObservation {
  const o = healthy();
  o.attach = { lan: "macvlan", uplink: "macvlan" };
  o.lanHost = { ...o.lanHost, present: false, up: false, operstate: null, master: null };
  o.uplinkHost = { ...o.uplinkHost, present: false, up: false, operstate: null, master: null };
  o.fdb = { lan: true, uplink: true };
  return o;
}

const macvlanCases: Case[] = [
  { what: "macvlans: nothing", drift: () => {}, health: "healthy", reasons: [], repairs: [] },
  {
    what: "macvlans: the provider bridge lost wan0's fdb entry",
    drift: (o) => (o.fdb.uplink = false),
    health: "degraded",
    reasons: [
      [
        "fdb-missing",
        `fdb entry missing: ${spec.uplink.mac} on br-prov (the bridge floods wan0's frames to every port)`,
      ],
    ],
    repairs: [`add fdb entry ${spec.uplink.mac} on bridge br-prov`],
  },
  {
    what: "macvlans: the guests' bridge passes its frames to the host's iptables (br_netfilter)",
    drift: (o) => (o.callsIptables = { lan: true, uplink: false }),
    health: "degraded",
    reasons: [
      [
        "macvlan-netfilter",
        "macvlan lan0 on virbr5, whose frames pass through the host's iptables (br_netfilter): while the host's conntrack is on (a libvirt NAT network, Docker, a stateful firewall) the namespace's replies look new and guests' flows leave un-NATed; restart the network (it attaches with a veth pair then), or sysctl -w net.bridge.bridge-nf-call-iptables=0",
      ],
    ],
    repairs: [],
  },
  {
    what: "macvlans: a provider that forces macvlan on a bridge calling iptables: its own fix",
    drift: (o) => {
      o.spec = { ...spec, uplink: { ...spec.uplink, attach: "macvlan" } };
      o.callsIptables = { lan: false, uplink: true };
    },
    health: "degraded",
    reasons: [
      [
        "macvlan-netfilter",
        "macvlan wan0 on br-prov, whose frames pass through the host's iptables (br_netfilter): while the host's conntrack is on (a libvirt NAT network, Docker, a stateful firewall) the namespace's replies look new and guests' flows leave un-NATed; set provider br-prov's attach to auto or veth and restart the network, or sysctl -w net.bridge.bridge-nf-call-iptables=0",
      ],
    ],
    repairs: [],
  },
  {
    what: "macvlans: a veth on one side is attached the other way",
    drift: (o) => (o.attach.uplink = "veth"),
    health: "degraded",
    reasons: [["veth-missing", `veth ${k.uplinkHost} missing (it connects the namespace to br-prov)`]],
    repairs: [`rebuild namespace ${k.netns}`],
  },
  {
    what: "macvlans: provider bridge gone",
    drift: (o) => {
      o.bridges.uplink = false;
      o.fdb.uplink = false;
      o.inside!.links = o.inside!.links.filter((l) => l.name !== "wan0");
      o.inside!.defaultRoute = null;
    },
    health: "degraded",
    reasons: [
      ["bridge-missing", "bridge br-prov missing (macvlan wan0 belongs on it)"],
      ["link-missing", `link wan0 missing in namespace ${k.netns}`],
      ["route-wrong", "wrong default route: none, expected via 198.51.100.1 dev wan0"],
    ],
    repairs: [],
  },
  {
    what: "macvlans: network stopped, its fdb entry left on the provider bridge",
    drift: (o) => {
      o.libvirt!.active = false;
      o.netns.present = false;
      delete o.inside;
      o.fdb.lan = false;
      o.dnsmasq.pid = null;
    },
    health: "orphan",
    reasons: [["leftovers", `left without an active network: fdb entry ${spec.uplink.mac} on br-prov`]],
    repairs: [`remove namespace, interfaces, dnsmasq and state of "net1"`],
  },
];

/** Each case: drift a fresh observation, then check its health, reasons and planned repairs. */
function runCases(list: Case[], fresh: () => NetObservation): void {
  for (const c of list)
    test(c.what, () => {
      const o = fresh();
      c.drift(o);
      const v = evaluate(o);
      assert.equal(v.health, c.health);
      assert.deepEqual(
        v.reasons.map((r) => [r.code, r.message]),
        c.reasons,
      );
      const plan = planNetwork(o, v);
      assert.deepEqual(plan.repairs.map(describeRepair), c.repairs);
    });
}

describe("health and drift (macvlans)", () => {
  runCases(macvlanCases, healthyMacvlan);

  test("the remove repair carries the leftover fdb entries to teardown", () => {
    const o = healthyMacvlan();
    o.libvirt!.active = false;
    o.netns.present = false;
    delete o.inside;
    const plan = planNetwork(o, evaluate(o));
    assert.deepEqual(plan.repairs, [
      {
        kind: "remove",
        name: "net1",
        fdb: [
          { bridge: "virbr5", mac: lanMac("net1") },
          { bridge: "br-prov", mac: spec.uplink.mac },
        ],
      },
    ]);
  });
});

describe("health and drift", () => {
  runCases(cases, healthy);

  test("veth sides are not at risk on a bridge that calls iptables; reconcile reports a macvlan one, never repairs it", () => {
    const o = healthy();
    o.callsIptables = { lan: true, uplink: true };
    assert.deepEqual(evaluate(o), { health: "healthy", reasons: [] });
    const m = healthyMacvlan();
    m.callsIptables = { lan: true, uplink: true };
    const plan = planNetwork(m, evaluate(m));
    assert.deepEqual(plan.repairs, []);
    assert.deepEqual(
      plan.unfixable.map((r) => r.code),
      ["macvlan-netfilter", "macvlan-netfilter"],
    );
  });

  test("repairs that cannot help are reported as unfixable, not attempted", () => {
    const o = healthy();
    o.duplicate = { answeredBy: "52:54:00:00:00:09" };
    o.dnsmasq.pid = null;
    const plan = planNetwork(o, evaluate(o));
    assert.deepEqual(plan.repairs.map(describeRepair), ["start dnsmasq"]);
    assert.deepEqual(
      plan.unfixable.map((r) => r.code),
      ["uplink-duplicate"],
    );
  });
});
