// The IPv6 side of status and drift (issue 17), pure: global IPv6 addresses per link from
// /proc/net/if_inet6 and from `ip -j addr` (core/observe/inet6.ts), what lan0/wan0 must hold
// and lack (core/judge/health6.ts), the reasons and repairs that follow (health.ts, drift.ts),
// and the status document's ipv6 object (core/observe/status-doc6.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { LEGACY_ATTACH } from "../../src/core/input/attach.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { describeRepair, planNetwork } from "../../src/core/judge/drift.ts";
import { evaluate } from "../../src/core/judge/health.ts";
import { addressReasons6, missing6, routeReasons6, wanted6 } from "../../src/core/judge/health6.ts";
import { globalAddresses6, parseIfInet6ByDev, parseIpv6DefaultRoute } from "../../src/core/observe/inet6.ts";
import { planRepair } from "../../src/core/plan/repair.ts";
import { formatPlan } from "../../src/core/plan/plan.ts";
import { parseNetworkXml } from "../../src/core/observe/inventory.ts";
import type { NetObservation } from "../../src/core/observe/observed.ts";
import { ipv6Doc } from "../../src/core/observe/status-doc6.ts";
import { networkXml } from "../support/fixtures.ts";

const config = parseConfig(
  "t",
  JSON.stringify({ providers: [{ bridge: "br-prov", gateway: "198.51.100.1/24", gateway6: "2001:db8:100::1/64" }] }),
);
const specOf = (v6: string) =>
  buildSpec(
    parseNetworkXml(
      networkXml({
        name: "net6",
        bridge: "virbr6",
        uplinkBridge: "br-prov",
        uplink: "198.51.100.10/24",
        gateway: "198.51.100.1",
        extraMetadata: v6,
      }),
    ),
    config,
  );
const spec = specOf(
  `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="2001:db8:301::/64"/><vnat:floating6 address="2001:db8:100::20" to="fd00:a::5"/>`,
);

function obs(lan6: string[] | undefined, wan6: string[] | undefined): NetObservation {
  const k = spec.names;
  return {
    name: "net6",
    libvirt: { active: true, autostart: false, persistent: true, vnat: true },
    spec,
    netns: { name: k.netns, present: true },
    inside: {
      links: [
        { name: "lan0", up: true, operstate: "UP", mac: null, addresses: ["10.0.0.1/24"], addresses6: lan6 },
        {
          name: "wan0",
          up: true,
          operstate: "UP",
          mac: spec.uplink.mac,
          addresses: ["198.51.100.10/24"],
          addresses6: wan6,
        },
      ],
      defaultRoute: { gateway: "198.51.100.1", dev: "wan0" },
      ruleset: "",
    },
    lanHost: { name: k.lanHost, present: true, up: true, operstate: "up", master: "virbr6" },
    uplinkHost: { name: k.uplinkHost, present: true, up: true, operstate: "up", master: "br-prov" },
    attach: LEGACY_ATTACH,
    fdb: { lan: null, uplink: null },
    bridges: { lan: true, uplink: true },
    dnsmasq: { pid: 4242, inNamespace: true, argsMatch: true },
    counters: {},
    conntrack: 0,
    leases: [],
    ports: [],
  };
}

test("if_inet6: global addresses per device, canonical, link-local and loopback left out", () => {
  const text = [
    "fd00000a000000000000000000000001 04 40 00 80     lan0",
    "fe80000000000000b0b1b2fffeb3b4b5 04 40 20 80     lan0",
    "20010db8010000000000000000000010 05 40 00 80     wan0",
    "20010db8010000000000000000000020 05 80 00 80     wan0",
    "00000000000000000000000000000001 01 80 10 80       lo",
    "garbage",
  ].join("\n");
  assert.deepEqual(
    [...parseIfInet6ByDev(text)],
    [
      ["lan0", ["fd00:a::1/64"]],
      ["wan0", ["2001:db8:100::10/64", "2001:db8:100::20/128"]],
    ],
  );
  assert.deepEqual(
    globalAddresses6([
      { family: "inet", local: "10.0.0.1", prefixlen: 24, scope: "global" },
      { family: "inet6", local: "FD00:A:0::1", prefixlen: 64, scope: "global" },
      { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
    ]),
    ["fd00:a::1/64"],
  );
});

test("wanted and missing: lan0 the lan6 gateway, wan0 the uplink6 and each floating6; nothing for IPv4-only", () => {
  assert.deepEqual(wanted6(spec, "lan0"), ["fd00:a::1/64"]);
  assert.deepEqual(wanted6(spec, "wan0"), ["2001:db8:100::10/64", "2001:db8:100::20/128"]);
  assert.deepEqual(wanted6(spec, "lo"), []);
  assert.deepEqual(wanted6({ ...spec, v6: undefined }, "lan0"), []);
  const o = obs(["fd00:a::1/64"], ["2001:db8:100::10/64"]);
  assert.deepEqual(missing6(o, spec, "lan0"), []);
  assert.deepEqual(missing6(o, spec, "wan0"), ["2001:db8:100::20/128"]);
  assert.deepEqual(missing6(obs(undefined, undefined), spec, "wan0"), [], "not read: nothing judged");
});

test("all present: healthy; lost addresses: address-wrong, repaired by adding them back (the IPv4 side untouched)", () => {
  const good = obs(["fd00:a::1/64"], ["2001:db8:100::10/64", "2001:db8:100::20/128", "2001:db8:100::99/64"]);
  assert.deepEqual(addressReasons6(good, spec), []);
  assert.equal(evaluate(good).health, "healthy");
  const lost = obs([], ["2001:db8:100::20/128"]);
  const v = evaluate(lost);
  assert.equal(v.health, "degraded");
  assert.deepEqual(
    v.reasons.map((r) => [r.code, r.message]),
    [
      ["address-wrong", "wrong address: lan0 lacks fd00:a::1/64"],
      ["address-wrong", "wrong address: wan0 lacks 2001:db8:100::10/64"],
    ],
  );
  assert.deepEqual(planNetwork(lost, v).repairs.map(describeRepair), [
    "lan0: add fd00:a::1/64",
    "wan0: add 2001:db8:100::10/64",
    "restart dnsmasq (pid 4242)",
  ]);
});

test("status: the ipv6 object (present from the probe, null when not read); null for IPv4-only", () => {
  assert.deepEqual(ipv6Doc(obs(["fd00:a::1/64"], [])), {
    lan: { gateway: "fd00:a::1/64", dhcp6: false, present: true },
    uplink: {
      address: "2001:db8:100::10/64",
      gateway: "2001:db8:100::1",
      mode: "nptv6",
      prefix: "2001:db8:301::/64",
      present: false,
    },
    upstreamRoute: "2001:db8:301::/64 via 2001:db8:100::10",
    nat: { out: null, in: null },
  });
  const counted = obs([], []);
  counted.inside!.ruleset = [
    "table ip vnat {",
    "\tcounter nat_out {\n\t\tpackets 1 bytes 2\n\t}",
    "}",
    "table ip6 vnat {",
    "\tcounter nat_out {\n\t\tpackets 7 bytes 700\n\t}",
    "\tcounter nat_in {\n\t\tpackets 5 bytes 500\n\t}",
    "}",
  ].join("\n");
  assert.deepEqual(ipv6Doc(counted)?.nat, { out: { packets: 7, bytes: 700 }, in: { packets: 5, bytes: 500 } });
  assert.equal(ipv6Doc(obs(undefined, undefined))?.lan.present, null);
  assert.equal(ipv6Doc({ ...obs([], []), spec: { ...spec, v6: undefined } }), null);
});

test("ipv6_route: the default route via its next hop; the kernel's lo route and other routes left out", () => {
  const text = [
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     lan0",
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8010000000000000000000001 00000400 00000001 00000000 00000003     wan0",
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo",
  ].join("\n");
  assert.deepEqual(parseIpv6DefaultRoute(text), { gateway: "2001:db8:100::1", dev: "wan0" });
  assert.equal(parseIpv6DefaultRoute(text.split("\n").slice(2).join("\n")), null);
});

test("the IPv6 default route: right, missing, wrong, not read; a route repair replaces both families'", () => {
  const o = obs(["fd00:a::1/64"], ["2001:db8:100::10/64", "2001:db8:100::20/128"]);
  o.inside!.defaultRoute6 = { gateway: "2001:db8:100::1", dev: "wan0" };
  assert.deepEqual(routeReasons6(o, spec), []);
  o.inside!.defaultRoute6 = undefined;
  assert.deepEqual(routeReasons6(o, spec), [], "not read: not judged");
  o.inside!.defaultRoute6 = null;
  assert.deepEqual(
    evaluate(o).reasons.map((r) => [r.code, r.message]),
    [["route-wrong", "wrong IPv6 default route: none, expected via 2001:db8:100::1 dev wan0"]],
  );
  o.inside!.defaultRoute6 = { gateway: "2001:db8:100::9", dev: "wan0" };
  const v = evaluate(o);
  assert.match(v.reasons[0]!.message, /via 2001:db8:100::9 dev wan0, expected/);
  const repairs = planNetwork(o, v).repairs;
  assert.deepEqual(repairs.map(describeRepair), ["replace the default route"]);
  const text = formatPlan(
    planRepair(repairs[0] as Parameters<typeof planRepair>[0], { run: "/run/vnat", config: "/c", log: "/l" }, []),
  );
  assert.match(text, /route replace default via 198\.51\.100\.1 dev wan0/);
  assert.match(text, /route replace ::\/0 via 2001:db8:100::1 dev wan0/);
});
