// The IPv6 side rendered (core/plan/render6.ts, start6.ts): goldens of a dual-stack start in
// each mode, and the IPv4 network's output unchanged by it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { netPaths } from "../../src/core/paths.ts";
import { formatPlan, loadRuleset } from "../../src/core/plan/plan.ts";
import { renderDnsmasqArgs, renderNetnsBatch, renderNft, renderSysctls } from "../../src/core/plan/render.ts";
import {
  renderDnsmasqArgs6,
  renderHostSysctls6,
  renderNetnsBatch6,
  renderNft6,
  renderSysctls6,
  withoutIpv6Off,
} from "../../src/core/plan/render6.ts";
import { claimedIps6, claimOps6, hostSysctlOps6, sysctlArgs, sysctlOps6 } from "../../src/core/plan/start6.ts";
import { planStart } from "../../src/core/plan/start.ts";
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
};
const config = parseConfig(
  "t.json",
  JSON.stringify({
    providers: [
      { bridge: "br-prov", gateway: "198.51.100.1/24", gateway6: "2001:db8:100::1/64", dns6: ["2001:db8:200::10"] },
    ],
  }),
);
const spec = (extra: string) => buildSpec(parseHookData(hookData({ ...base, extraMetadata: extra })).network, config);
const LAN = `<vnat:lan6 address="fd00:a::1/64"/>`;
const NAT66 =
  LAN +
  `<vnat:uplink6 address="2001:db8:100::10/64"/><vnat:forward6 proto="tcp" port="8080" to="fd00:a::10" to-port="80"/>` +
  `<vnat:forward6 proto="udp" port="5000-5010" to="fd00:a::11"/>`;
const NPTV6 =
  `<vnat:lan6 address="fd00:a::1/64" dhcp6="yes"/><vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:100:1::/64"/>` +
  `<vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>`;
const ROUTED = `<vnat:lan6 address="2001:db8:100:2::1/64"/><vnat:uplink6 address="2001:db8:100::12/64" mode="routed"/><vnat:isolation host="open"/>`;
const paths = netPaths({ run: "/run/vnat", config: "/etc/vnat/config.json", log: "/var/log/vnat" }, "golden");
const HOST = [parseIp("198.51.100.5")!];
const VETHS = { lan: "veth", uplink: "veth" } as const;

describe("render6", () => {
  test("an IPv4 network renders nothing of IPv6 and keeps IPv6 off", () => {
    const s = spec("");
    assert.equal(renderNft6(s, ["2001:db8::5"]), "");
    assert.deepEqual(renderDnsmasqArgs6(s), []);
    assert.deepEqual(claimOps6(s), []);
    assert.deepEqual(claimedIps6(s), []);
    assert.deepEqual(sysctlOps6(s), []);
    assert.deepEqual(hostSysctlOps6(s, VETHS), []);
    assert.deepEqual(sysctlArgs(s), renderSysctls());
    assert.ok(renderSysctls().includes("net.ipv6.conf.all.disable_ipv6=1"));
    assert.equal((loadRuleset(s, HOST) as { input: string }).input, renderNft(s, HOST));
  });
  test("a dual-stack network keeps IPv6 on, forwards, takes no RA and no DAD", () => {
    const s = spec(NAT66);
    assert.ok(!sysctlArgs(s).some((l) => l.includes("disable_ipv6")));
    assert.deepEqual(withoutIpv6Off(renderSysctls()).length, renderSysctls().length - 2);
    const v6 = renderSysctls6();
    for (const l of [
      "net.ipv6.conf.all.forwarding=1",
      "net.ipv6.conf.wan0.accept_ra=0",
      "net.ipv6.conf.wan0.autoconf=0",
      "net.ipv6.conf.lan0.accept_dad=0",
      "net.ipv6.conf.default.accept_dad=0",
    ])
      assert.ok(v6.includes(l), l);
    assert.deepEqual(renderHostSysctls6(s, ["vnl-x", "vnu-y"]), [
      "net/ipv6/conf/virbr5/disable_ipv6=1",
      "net/ipv6/conf/vnl-x/disable_ipv6=1",
      "net/ipv6/conf/vnu-y/disable_ipv6=1",
    ]);
    assert.deepEqual(renderNetnsBatch6(s.v6!), [
      "addr replace fd00:a::1/64 dev lan0 nodad",
      "addr replace 2001:db8:100::10/64 dev wan0 nodad",
      "route replace ::/0 via 2001:db8:100::1 dev wan0",
    ]);
    assert.deepEqual(renderNetnsBatch(s).slice(-3), renderNetnsBatch6(s.v6!));
    assert.deepEqual(renderDnsmasqArgs(s, paths).slice(-5), [
      "--listen-address=fd00:a::1",
      "--enable-ra",
      "--dhcp-range=fd00:a::,ra-stateless,ra-names,64,1h",
      "--dhcp-option=option6:dns-server,[fd00:a::1]",
      "--server=2001:db8:200::10",
    ]);
  });
  test("stateful DHCPv6 gives a range besides SLAAC", () =>
    assert.ok(renderDnsmasqArgs6(spec(NPTV6)).includes("--dhcp-range=fd00:a::1000,fd00:a::1fff,slaac,ra-names,64,1h")));
  for (const [name, extra] of [
    ["nat66", NAT66],
    ["nptv6", NPTV6],
    ["routed", ROUTED],
  ] as const) {
    test(`ruleset golden: ${name}`, () => {
      const s = spec(extra);
      const text = (loadRuleset(s, HOST, { hostAddrs6: ["2001:db8:300::5"] }) as { input: string }).input;
      assert.ok(text.startsWith(renderNft(s, HOST)), "the IPv4 table comes first, unchanged");
      assertGolden(`ruleset6-${name}.nft`, text.slice(renderNft(s, HOST).length));
    });
  }
  test("plan golden: a dual-stack start (nptv6, veth pairs)", () => {
    assertGolden("plan6-start.txt", formatPlan(planStart(spec(NPTV6), paths, { attach: VETHS, hostAddrs: HOST })));
  });
});
