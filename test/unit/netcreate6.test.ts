// `vnat net create --subnet6 …` planning (issue 17, core/edit/netcreate6.ts): the lan6 gateway
// is the prefix's first host, the uplink6 comes from the provider's pool6 unless given, the
// mode and its prefix are written as asked, and the whole document passes the hook's own
// validation; every bad option is refused in one line naming the network.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { planCreate, type CreateOptions, type HostView } from "../../src/core/edit/netcreate.ts";
import { planCreate6, takenUplinks6 } from "../../src/core/edit/netcreate6.ts";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { knownNetworks } from "../../src/core/observe/inventory.ts";

const template = readFileSync(new URL("../../xml-templates/vnat-network.xml", import.meta.url), "utf8");
const config: Config = parseConfig(
  "test",
  JSON.stringify({
    providers: [
      {
        bridge: "br-prov",
        gateway: "198.51.100.1/24",
        pool: "198.51.100.10-198.51.100.19",
        gateway6: "2001:db8:100::1/64",
        pool6: "2001:db8:100::100-2001:db8:100::101",
      },
      { bridge: "br-v4", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.19" },
    ],
  }),
);
const empty: HostView = { networks: [], links: new Set(["lo"]), claimed: new Set() };
const base: CreateOptions = { name: "net-a", subnet: "10.0.0.0/24", provider: "br-prov" };

test("--subnet6 alone: lan6 ::1/64, uplink6 auto from the pool6, nat66; the spec has the IPv6 side", () => {
  const plan = planCreate({ ...base, subnet6: "fd00:a::/64" }, config, empty, template);
  assert.match(plan.xml, /<vnat:lan6 address="fd00:a::1\/64"\/>/);
  assert.match(plan.xml, /<vnat:uplink6 address="2001:db8:100::100\/64"\/>/);
  assert.equal(plan.uplink6WasAuto, true);
  assert.deepEqual(plan.spec.v6?.uplink, {
    address: "2001:db8:100::100/64",
    gateway: "2001:db8:100::1",
    mode: "nat66",
  });
  assert.equal(plan.spec.v6?.lan, "fd00:a::1/64");
  assert.equal(plan.spec.v6?.dhcp6, false);
});

test("no IPv6 option: an IPv4-only network, as before", () => {
  const plan = planCreate(base, config, empty, template);
  assert.doesNotMatch(plan.xml, /lan6|uplink6/);
  assert.equal(plan.spec.v6, undefined);
  assert.equal(plan.uplink6WasAuto, false);
});

test("given uplink6 (bare: the provider's prefix), nptv6 with its prefix, routed, --dhcp6", () => {
  const n = planCreate(
    {
      ...base,
      subnet6: "fd00:b::/64",
      uplink6: "2001:db8:100::20",
      mode6: "nptv6",
      prefix6: "2001:db8:301::/64",
      dhcp6: true,
    },
    config,
    empty,
    template,
  );
  assert.match(n.xml, /<vnat:lan6 address="fd00:b::1\/64" dhcp6="yes"\/>/);
  assert.match(n.xml, /<vnat:uplink6 address="2001:db8:100::20\/64" mode="nptv6" prefix="2001:db8:301::\/64"\/>/);
  assert.equal(n.uplink6WasAuto, false);
  assert.equal(n.spec.v6?.uplink.mode, "nptv6");
  const r = planCreate({ ...base, subnet6: "2001:db8:300::/64", mode6: "routed" }, config, empty, template);
  assert.equal(r.spec.v6?.uplink.mode, "routed");
  assert.equal(r.spec.v6?.lan, "2001:db8:300::1/64");
});

test("the pool6 skips uplinks6 other networks hold; a full pool6 is a conflict; a held address is refused", () => {
  const first = planCreate({ ...base, subnet6: "fd00:a::/64" }, config, empty, template);
  const host: HostView = { ...empty, networks: knownNetworks([["net-a", first.xml]], config) };
  assert.deepEqual(takenUplinks6(host.networks, "br-prov"), ["2001:db8:100::100"]);
  const second = planCreate({ ...base, name: "net-b", subnet6: "fd00:a::/64" }, config, host, template);
  assert.match(second.xml, /uplink6 address="2001:db8:100::101\/64"/);
  const both: HostView = {
    ...empty,
    networks: knownNetworks(
      [
        ["net-a", first.xml],
        ["net-b", second.xml],
      ],
      config,
    ),
  };
  assert.throws(() => planCreate({ ...base, name: "net-c", subnet6: "fd00:a::/64" }, config, both, template), {
    message: 'network "net-c": provider "br-prov": every address of its pool6 is taken (--uplink6 ADDR)',
  });
  assert.throws(
    () =>
      planCreate(
        { ...base, name: "net-c", subnet6: "fd00:a::/64", uplink6: "2001:db8:100::100/64" },
        config,
        both,
        template,
      ),
    { message: 'network "net-c": uplink6 2001:db8:100::100 on "br-prov" is already used by network "net-a"' },
  );
});

test("bad IPv6 options: one line each, naming the network and what is allowed", () => {
  const cases: Array<[Partial<CreateOptions>, RegExp]> = [
    [{ uplink6: "2001:db8:100::20" }, /--uplink6 needs --subnet6/],
    [{ mode6: "nptv6" }, /--mode6 needs --subnet6/],
    [{ dhcp6: true }, /--dhcp6 needs --subnet6/],
    [{ subnet6: "fd00:a::1/64" }, /subnet6 "fd00:a::1\/64": expected a prefix \(host bits zero\)/],
    [{ subnet6: "fd00:a::/96" }, /subnet6/],
    [{ subnet6: "10.0.0.0/24" }, /subnet6/],
    [{ subnet6: "fd00:a::/64", mode6: "nat44" }, /mode6 "nat44": expected one of nat66, nptv6, routed/],
    [{ subnet6: "fd00:a::/64", mode6: "nptv6" }, /nptv6 needs --prefix6/],
    [{ subnet6: "fd00:a::/64", prefix6: "2001:db8:301::/64" }, /--prefix6 is for --mode6 nptv6 or routed/],
    [{ subnet6: "fd00:a::/64", uplink6: "2001:db8:999::5" }, /uplink6/],
    [{ subnet6: "fd00:a::/64", mode6: "routed" }, /./], // a ULA cannot be routed (the hook's rule)
    [
      { subnet6: "fd00:a::/64", provider: "br-v4" },
      /provider "br-v4" has no IPv6 \(add it: vnat provider set br-v4 gateway6=/,
    ],
  ];
  for (const [o, re] of cases) {
    let err: Error | undefined;
    try {
      planCreate({ ...base, ...o }, config, empty, template);
    } catch (e) {
      err = e as Error;
    }
    assert.ok(err, `${JSON.stringify(o)}: accepted`);
    assert.match(err.message, re, JSON.stringify(o));
    assert.match(err.message, /^(invalid network: )?network "net-a"/, err.message);
    assert.doesNotMatch(err.message, /\n/);
  }
});

test("planCreate6 alone: undefined without --subnet6", () => {
  assert.equal(planCreate6('network "x"', {}, config.providers[0]!, []), undefined);
});
