import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig, EMPTY_CONFIG, type Config } from "../../src/core/input/config.ts";
import { allocateUplink6, parseProvider6 } from "../../src/core/input/config6.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { upstreamRoute6, uplink6Ip } from "../../src/core/input/spec6.ts";
import { readSpec6 } from "../../src/core/input/state-schema6.ts";
import { parseState } from "../../src/core/input/state-schema.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";

const base: NetOpts = {
  name: "net6",
  bridge: "virbr7",
  uplinkBridge: "br0",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
};

const config = parseConfig(
  "test.json",
  JSON.stringify({
    providers: [
      {
        bridge: "br0",
        gateway: "198.51.100.1/24",
        gateway6: "2001:DB8:100::1/64",
        pool6: "2001:db8:100::100-2001:db8:100::1ff",
        dns6: ["2001:db8:200::53"],
      },
    ],
  }),
);

const LAN = `<vnat:lan6 address="fd00:a::1/64"/>`;
const UP = `<vnat:uplink6 address="2001:db8:100::10/64"/>`;

function spec(extra: string, cfg: Config = config) {
  return buildSpec(parseHookData(hookData({ ...base, extraMetadata: extra })).network, cfg);
}

function refuses(extra: string, message: string | RegExp, cfg: Config = config): void {
  assert.throws(
    () => spec(extra, cfg),
    (e: unknown) => {
      assert.ok(e instanceof VnatError, `expected VnatError, got ${String(e)}`);
      assert.equal(e.kind, "invalid-input");
      assert.ok(!e.message.includes("\n"));
      if (typeof message === "string") assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
  );
}

describe("provider IPv6 config", () => {
  test("canonical text kept", () => {
    const p = config.providers[0]!;
    assert.equal(p.gateway6, "2001:db8:100::1/64");
    assert.deepEqual(p.pool6, { start: "2001:db8:100::100", end: "2001:db8:100::1ff" });
    assert.deepEqual(p.dns6, ["2001:db8:200::53"]);
  });
  test("a provider without IPv6 has no IPv6 keys", () => assert.deepEqual(parseProvider6("br0", {}), {}));
  const bad: Array<[object, RegExp]> = [
    [{ gateway6: "2001:db8:100::1" }, /gateway6 "2001:db8:100::1": not an IPv6 address with prefix/],
    [{ gateway6: "2001:db8:100::1/80" }, /prefix \/80 not allowed \(expected \/48 to \/64\)/],
    [{ gateway6: "2001:db8:100::/64" }, /subnet-router anycast/],
    [{ pool6: "2001:db8:100::5-2001:db8:100::9" }, /pool6 .*needs a gateway6/],
    [{ gateway6: "2001:db8:100::1/64", pool6: "2001:db8:101::5-2001:db8:101::9" }, /outside the provider IPv6 subnet/],
    [{ gateway6: "2001:db8:100::1/64", pool6: "2001:db8:100::-2001:db8:100::9" }, /includes the gateway6|anycast/],
    [{ gateway6: "2001:db8:100::1/64", dns6: ["8.8.8.8"] }, /dns6 "8.8.8.8": not an IPv6 address/],
    [{ gateway6: 7 }, /"gateway6" must be a string/],
  ];
  for (const [p, re] of bad)
    test(`refuses ${JSON.stringify(p)}`, () =>
      assert.throws(
        () => parseProvider6("br0", p as never),
        (e: unknown) => e instanceof VnatError && re.test(e.message),
      ));
  test("allocateUplink6 takes the first free pool address", () => {
    const p = config.providers[0]!;
    assert.equal(allocateUplink6(p, []), "2001:db8:100::100/64");
    assert.equal(allocateUplink6(p, ["2001:db8:100::100", "2001:DB8:100::101"]), "2001:db8:100::102/64");
    assert.equal(
      allocateUplink6({ gateway6: "2001:db8:100::1/64", pool6: { start: "2001:db8:100::5", end: "2001:db8:100::5" } }, [
        "2001:db8:100::5",
      ]),
      undefined,
    );
    assert.equal(allocateUplink6({}, []), undefined);
  });
});

describe("buildSpec6", () => {
  test("no IPv6 elements: no v6 (v4-only specs are unchanged)", () => assert.equal(spec("").v6, undefined));
  test("nat66 with the provider's gateway6 and dns6", () => {
    const s = spec(LAN + UP);
    assert.deepEqual(s.v6, {
      lan: "fd00:a::1/64",
      dhcp6: false,
      uplink: { address: "2001:db8:100::10/64", gateway: "2001:db8:100::1", mode: "nat66" },
      dns: ["2001:db8:200::53"],
    });
    assert.equal(upstreamRoute6(s.v6!), undefined);
    assert.equal(uplink6Ip(s.v6!), "2001:db8:100::10");
  });
  test("nptv6 keeps the translated /64 and names the upstream route", () => {
    const s = spec(
      `<vnat:lan6 address="FD00:A::1/64" dhcp6="yes"/><vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:100:1::/64"/><vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>`,
    );
    assert.equal(s.v6!.dhcp6, true);
    assert.equal(s.v6!.uplink.prefix, "2001:db8:100:1::/64");
    assert.equal(upstreamRoute6(s.v6!), "2001:db8:100:1::/64 via 2001:db8:100::11");
    assert.deepEqual(s.v6!.floating, [{ address: "2001:db8:100::20", to: "fd00:a::10" }]);
  });
  test("routed: the lan6 is the routed /64", () => {
    const s = spec(
      `<vnat:lan6 address="2001:db8:100:2::1/64"/><vnat:uplink6 address="2001:db8:100::12/64" mode="routed" gateway="fe80::1"/><vnat:dns6 upstream="2001:db8:200::54"/>`,
    );
    assert.deepEqual(s.v6!.uplink, {
      address: "2001:db8:100::12/64",
      gateway: "fe80::1",
      mode: "routed",
      prefix: "2001:db8:100:2::/64",
    });
    assert.deepEqual(s.v6!.dns, ["2001:db8:200::54"]);
  });
  test("forward6", () => {
    const s = spec(
      LAN +
        UP +
        `<vnat:forward6 proto="tcp" port="8080" to="fd00:a::10" to-port="80"/><vnat:forward6 proto="udp" port="53" to="fd00:a::10"/><vnat:forward6 port="9000-9010" to="fd00:a::11"/>`,
    );
    assert.deepEqual(s.v6!.forwards, [
      { proto: "tcp", port: 8080, portEnd: 8080, to: "fd00:a::10", toPort: 80 },
      { proto: "udp", port: 53, portEnd: 53, to: "fd00:a::10", toPort: 53 },
      { proto: "tcp", port: 9000, portEnd: 9010, to: "fd00:a::11", toPort: 9000 },
    ]);
  });
  test("the state file keeps the v6 side and reads it back", () => {
    const s = spec(
      LAN +
        `<vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:100:1::/64"/><vnat:forward6 port="22" to="fd00:a::10"/><vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>`,
    );
    const text = JSON.stringify({
      version: 2,
      name: s.name,
      phase: "active",
      lanBridge: s.lanBridge,
      uplinkBridge: "br0",
      uplink: "198.51.100.11",
      netns: s.names.netns,
      startedAt: new Date(0).toISOString(),
      spec: s,
    });
    assert.deepEqual(parseState("x", s.name, text).spec!.v6, s.v6);
    assert.throws(
      () => readSpec6("spec.v6", { ...s.v6, lan: "FD00:A::1/64" }),
      /spec\.v6\.lan: expected an IPv6 prefix in canonical form/,
    );
    assert.throws(() => readSpec6("spec.v6", { ...s.v6, uplink: { ...s.v6!.uplink, mode: "nat64" } }), /uplink\.mode/);
  });

  const W = `network "net6"`;
  const cases: Array<[string, string | RegExp, Config?]> = [
    [
      `<vnat:lan6 address="fd00:a::1/80"/>` + UP,
      `${W}: lan6 address "fd00:a::1/80": prefix /80 is longer than /64 (SLAAC forms addresses only in a /64; expected /64)`,
    ],
    [`<vnat:lan6 address="fd00:a::1/48"/>` + UP, /prefix \/48 is shorter than \/64/],
    [`<vnat:lan6 address="fd00:a::/64"/>` + UP, /lan6 address fd00:a::: is the subnet-router anycast/],
    [`<vnat:lan6 address="fe80::1/64"/>` + UP, /lan6 address fe80::1: is a link-local address/],
    [`<vnat:lan6 address="fd00:a::1/64" dhcp6="maybe"/>` + UP, `${W}: lan6 dhcp6="maybe" (expected "yes" or "no")`],
    [LAN, `${W}: <vnat:lan6> needs <vnat:uplink6 address="ADDR/PREFIX"> (the network's IPv6 way out)`],
    [UP, /<vnat:uplink6> needs <vnat:lan6/],
    [`<vnat:forward6 port="80" to="fd00:a::10"/>`, /<vnat:forward6> needs <vnat:lan6> and <vnat:uplink6>/],
    [LAN + LAN + UP, /<vnat:lan6> given 2 times/],
    [
      LAN + `<vnat:uplink6 address="2001:db8:101::10/64"/>`,
      `${W}: uplink6 address 2001:db8:101::10/64 is outside provider "br0" IPv6 subnet 2001:db8:100::/64`,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64"/>`,
      /has no gateway="ADDR" and provider "br0" has no gateway6/,
      EMPTY_CONFIG,
    ],
    [LAN + `<vnat:uplink6 address="2001:db8:100::10/64" gateway="2001:db8:100::10"/>`, /is the uplink6 address itself/],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" gateway="2001:db8:9::1"/>`,
      /gateway 2001:db8:9::1 is outside the uplink6 subnet/,
    ],
    [`<vnat:lan6 address="2001:db8:100::2/64"/>` + UP, /lan6 subnet 2001:db8:100::\/64 overlaps the uplink6 subnet/],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nat64"/>`,
      `${W}: uplink6 mode="nat64" (expected nat66, nptv6, routed)`,
    ],
    [LAN + `<vnat:uplink6 address="2001:db8:100::10/64" prefix="2001:db8:100:1::/64"/>`, /mode nat66 takes no prefix/],
    [LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6"/>`, /mode nptv6 needs prefix="P::\/64"/],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="2001:db8:100:1::/56"/>`,
      /prefix \/56 not allowed \(expected \/64\)/,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="2001:db8:100:1::1/64"/>`,
      /has host bits set/,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="fd00:a::/64"/>`,
      /is the lan6 \/64 itself/,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="2001:db8:100::/64"/>`,
      /is the uplink6 subnet/,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="routed"/>`,
      /mode routed: lan6 fd00:a::\/64 is a unique local/,
    ],
    // no guest may leave with a source in ::/64, ff00::/8 or fe80::/10
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="::/64"/>`,
      `${W}: uplink6 mode nptv6: prefix ::/64 is inside ::/64 (the unspecified, loopback and IPv4-mapped addresses) (guests would leave with such sources; expected a provider /64)`,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="ff02::/64"/>`,
      /prefix ff02::\/64 is multicast \(ff00::\/8\)/,
    ],
    [
      LAN + `<vnat:uplink6 address="2001:db8:100::10/64" mode="nptv6" prefix="fe80::/64"/>`,
      /prefix fe80::\/64 is link-local \(fe80::\/10\)/,
    ],
    [
      `<vnat:lan6 address="::5/64"/><vnat:uplink6 address="2001:db8:100::10/64" mode="routed"/>`,
      `${W}: uplink6 mode routed: lan6 ::/64 is inside ::/64 (the unspecified, loopback and IPv4-mapped addresses) (expected a provider /64)`,
    ],
    [
      `<vnat:lan6 address="2001:db8:100:2::1/64"/><vnat:uplink6 address="2001:db8:100::10/64" mode="routed" prefix="2001:db8:100:3::/64"/>`,
      /is not the lan6 \/64/,
    ],
    [
      LAN + UP + `<vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>`,
      /<vnat:floating6> needs uplink6 mode nptv6 or routed/,
    ],
    [
      LAN + UP + `<vnat:forward6 port="80" to="fd00:b::10"/>`,
      /forward6 tcp 80 to fd00:b::10 is not a guest address in the lan6 fd00:a::\/64/,
    ],
    [LAN + UP + `<vnat:forward6 port="80" to="fd00:a::1"/>`, /is not a guest address/],
    [LAN + UP + `<vnat:forward6 port="0" to="fd00:a::10"/>`, /forward6 port "0" \(expected a port 1-65535\)/],
    [LAN + UP + `<vnat:forward6 proto="sctp" port="80" to="fd00:a::10"/>`, /forward6 proto="sctp"/],
    [LAN + UP + `<vnat:forward6 port="90-80" to="fd00:a::10"/>`, /forward6 port "90-80": start is after end/],
    [LAN + UP + `<vnat:forward6 port="80-90" to="fd00:a::10" to-port="8080"/>`, /a port range keeps its ports/],
    [
      LAN + UP + `<vnat:forward6 port="80-90" to="fd00:a::10"/><vnat:forward6 port="85" to="fd00:a::11"/>`,
      /forward6 tcp 85 overlaps forward6 tcp 80-90/,
    ],
    [LAN + UP + `<vnat:forward6 port="80-" to="fd00:a::10"/>`, /forward6 port "80-"/],
    [
      LAN + UP + `<vnat:forward6 port="80" to="fd00:a::10"/><vnat:forward6 port="80" to="fd00:a::11"/>`,
      /forward6 tcp 80 overlaps forward6 tcp 80/,
    ],
    [LAN + UP + `<vnat:dns6 upstream="8.8.8.8"/>`, /dns6 upstream "8.8.8.8": not an IPv6 address/],
    [`<vnat:lan6 address="fd00:a::1/64" mode="x"/>` + UP, /<vnat:lan6>: unknown attribute "mode"/],
    [
      LAN +
        `<vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:100:1::/64"/><vnat:floating6 address="2001:db8:101::20" to="fd00:a::10"/>`,
      /floating6 2001:db8:101::20 is outside the uplink6 subnet/,
    ],
    [`<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="fd00:a::/64"/>`, /uplink6 address/],
  ];
  for (const [extra, message, cfg] of cases) test(`refuses ${extra.slice(0, 140)}`, () => refuses(extra, message, cfg));
});
