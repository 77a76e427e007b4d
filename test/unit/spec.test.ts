import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig, EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { formatIp } from "../../src/core/ipv4.ts";
import { buildSpec, deriveRange } from "../../src/core/input/spec.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";

const base: NetOpts = {
  name: "net1",
  bridge: "virbr7",
  uplinkBridge: "br0",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
  dns: ["198.18.0.10"],
};

const config = parseConfig(
  "test.json",
  JSON.stringify({
    providers: [
      { bridge: "br0", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.99", dns: ["198.51.100.53"] },
    ],
  }),
);

function spec(o: Partial<NetOpts>, cfg = EMPTY_CONFIG) {
  return buildSpec(parseHookData(hookData({ ...base, ...o })).network, cfg);
}

function refuses(o: Partial<NetOpts>, message: string, cfg = EMPTY_CONFIG): void {
  assert.throws(
    () => spec(o, cfg),
    (e: unknown) => {
      assert.ok(e instanceof VnatError, `expected VnatError, got ${String(e)}`);
      assert.equal(e.kind, "invalid-input");
      assert.equal(e.message, message);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
}

describe("buildSpec", () => {
  test("a complete network", () => {
    const s = spec({});
    assert.equal(s.name, "net1");
    assert.equal(s.names.netns, "vnat-net1");
    assert.match(s.names.lanHost, /^vnl-[0-9a-f]{11}$/);
    assert.equal(s.lanBridge, "virbr7");
    assert.equal(formatIp(s.lan.address), "10.0.0.1");
    assert.equal(s.uplink.mac, "02:76:c6:33:64:0b");
    assert.deepEqual(s.dns.map(formatIp), ["198.18.0.10"]);
    assert.equal(formatIp(s.dhcp!.start), "10.0.0.128");
    assert.equal(formatIp(s.dhcp!.end), "10.0.0.254");
    assert.equal(s.dhcp!.lease, "1h");
  });

  test("gateway, dns and bridge come from the config's provider", () => {
    const s = spec({ gateway: undefined, dns: [], uplinkBridge: undefined }, config);
    assert.equal(s.uplink.bridge, "br0");
    assert.equal(formatIp(s.uplink.gateway), "198.51.100.1");
    assert.deepEqual(s.dns.map(formatIp), ["198.51.100.53"]);
  });

  test("an explicit dhcp range and lease", () => {
    const s = spec({ dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="12h"/>` });
    assert.equal(formatIp(s.dhcp!.start), "10.0.0.100");
    assert.equal(s.dhcp!.lease, "12h");
  });

  test("dhcp can be turned off", () => {
    assert.equal(spec({ dhcp: `<vnat:dhcp enabled="no"/>` }).dhcp, undefined);
  });

  test("any prefix bound to the vnat namespace works", () => {
    const md = `<x:network xmlns:x="urn:vnat:network:1"><x:lan address="10.1.0.1/24"/><x:uplink bridge="br0" address="198.51.100.12/24" gateway="198.51.100.1"/></x:network>`;
    const s = buildSpec(parseHookData(hookData({ ...base, metadata: md })).network, EMPTY_CONFIG);
    assert.equal(formatIp(s.lan.address), "10.1.0.1");
  });

  const cases: Array<[string, Partial<NetOpts>, string]> = [
    [
      "64-character name",
      { name: "n".repeat(64) },
      `network name "${"n".repeat(40)}…" is 64 characters (vnat allows at most 32)`,
    ],
    [
      "shell metacharacters in the name",
      { name: "a;rm -rf" },
      `network name "a;rm -rf": only letters, digits, "_", "." and "-" are allowed, starting with a letter or digit`,
    ],
    [
      "lan not a CIDR",
      { lan: "10.0.0.300/24" },
      `network "net1": lan address "10.0.0.300/24": not an IPv4 address with prefix (expected A.B.C.D/N)`,
    ],
    [
      "lan without prefix",
      { lan: "10.0.0.1" },
      `network "net1": lan address "10.0.0.1": not an IPv4 address with prefix (expected A.B.C.D/N)`,
    ],
    [
      "lan is the network address",
      { lan: "10.0.0.0/24" },
      `network "net1": lan address "10.0.0.0/24": is the network or broadcast address of 10.0.0.0/24 (expected a host address)`,
    ],
    [
      "lan prefix too long",
      { lan: "10.0.0.1/31" },
      `network "net1": lan address "10.0.0.1/31": prefix /31 not allowed (expected /8 to /30)`,
    ],
    [
      "uplink invalid",
      { uplink: "198.51.100.300/24" },
      `network "net1": uplink address "198.51.100.300/24": not an IPv4 address with prefix (expected A.B.C.D/N)`,
    ],
    [
      "gateway outside the uplink subnet",
      { gateway: "198.51.101.1" },
      `network "net1": uplink gateway 198.51.101.1 is outside the uplink subnet 198.51.100.0/24 (expected a host address in it)`,
    ],
    [
      "gateway equals uplink",
      { gateway: "198.51.100.11" },
      `network "net1": uplink gateway 198.51.100.11 is the uplink address itself`,
    ],
    [
      "gateway not an address",
      { gateway: "gw" },
      `network "net1": uplink gateway "gw": not an IPv4 address (expected A.B.C.D)`,
    ],
    [
      "lan overlaps uplink",
      { lan: "198.51.100.200/24" },
      `network "net1": lan subnet 198.51.100.0/24 overlaps the uplink subnet 198.51.100.0/24 (they must be disjoint)`,
    ],
    [
      "dns not an address",
      { dns: ["8.8.8"] },
      `network "net1": dns upstream "8.8.8": not an IPv4 address (expected A.B.C.D)`,
    ],
    [
      "no gateway anywhere",
      { gateway: undefined },
      `network "net1": <vnat:uplink> has no gateway="A.B.C.D" and provider "br0" is not in the config`,
    ],
    [
      "no uplink bridge anywhere",
      { uplinkBridge: undefined },
      `network "net1": <vnat:uplink> has no bridge="…" and the config names no default provider`,
    ],
    [
      "bad provider bridge name",
      { uplinkBridge: "br0;reboot" },
      `network "net1": uplink bridge "br0;reboot": not an interface name (1-15 of letters, digits, "_", "." and "-")`,
    ],
    [
      "dhcp outside subnet",
      { dhcp: `<vnat:dhcp start="10.0.1.10" end="10.0.1.20"/>` },
      `network "net1": dhcp start 10.0.1.10 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
    ],
    [
      "dhcp start after end",
      { dhcp: `<vnat:dhcp start="10.0.0.200" end="10.0.0.100"/>` },
      `network "net1": dhcp start 10.0.0.200 is after end 10.0.0.100`,
    ],
    [
      "dhcp includes gateway",
      { dhcp: `<vnat:dhcp start="10.0.0.1" end="10.0.0.100"/>` },
      `network "net1": dhcp range 10.0.0.1-10.0.0.100 includes the gateway 10.0.0.1`,
    ],
    [
      "dhcp start only",
      { dhcp: `<vnat:dhcp start="10.0.0.10"/>` },
      `network "net1": dhcp needs both start and end, or neither (then 10.0.0.128-10.0.0.254 is used)`,
    ],
    [
      "dhcp bad lease",
      { dhcp: `<vnat:dhcp lease="forever"/>` },
      `network "net1": dhcp lease "forever": expected a duration of at least 2m like 3600, 45m, 12h, 1d or "infinite"`,
    ],
    [
      "dhcp lease too short",
      { dhcp: `<vnat:dhcp lease="30s"/>` },
      `network "net1": dhcp lease "30s": expected a duration of at least 2m like 3600, 45m, 12h, 1d or "infinite"`,
    ],
    [
      "dhcp enabled typo",
      { dhcp: `<vnat:dhcp enabled="true"/>` },
      `network "net1": dhcp enabled="true" (expected "yes" or "no")`,
    ],
    [
      "unknown element",
      { extraMetadata: `<vnat:nat/>` },
      `network "net1": <vnat:network>: unknown element "nat" (allowed: lan, uplink, dns, forward, floating, host, isolation, segment, lan6, uplink6, dns6, forward6, floating6)`,
    ],
    [
      "unknown attribute",
      { dhcp: `<vnat:dhcp begin="10.0.0.5"/>` },
      `network "net1": <vnat:dhcp>: unknown attribute "begin" (allowed: start, end, lease, enabled)`,
    ],
    [
      "an <ip> element",
      { extraNetwork: `<ip address="10.0.0.1" netmask="255.255.255.0"/>` },
      `network "net1": has an <ip> element; a vnat network must have none (the gateway lives in vnat's namespace)`,
    ],
    [
      "a <forward> element",
      { extraNetwork: `<forward mode="nat"/>` },
      `network "net1": has <forward mode="nat">; a vnat network must have no <forward>`,
    ],
    [
      "lan missing",
      {
        metadata: `<vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:uplink bridge="br0" address="198.51.100.11/24" gateway="198.51.100.1"/></vnat:network>`,
      },
      `network "net1": missing <vnat:lan address="A.B.C.D/N"> (the guests' gateway)`,
    ],
    [
      "uplink missing",
      { metadata: `<vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:lan address="10.0.0.1/24"/></vnat:network>` },
      `network "net1": missing <vnat:uplink address="A.B.C.D/N">`,
    ],
    [
      "two lan elements",
      { extraMetadata: `<vnat:lan address="10.0.1.1/24"/>` },
      `network "net1": <vnat:lan> given 2 times (at most once)`,
    ],
  ];
  for (const [what, o, message] of cases) test(`refuses ${what}`, () => refuses(o, message));

  test("refuses an uplink outside the provider subnet", () =>
    refuses(
      { uplink: "198.51.101.11/24", gateway: "198.51.101.1" },
      `network "net1": uplink address 198.51.101.11/24 is outside provider "br0" subnet 198.51.100.0/24`,
      config,
    ));

  test("the derived range avoids a gateway in the upper half", () => {
    const r = deriveRange({ address: (10 << 24) + 200, prefix: 24 });
    assert.equal(formatIp(r.start), "10.0.0.1");
    assert.equal(formatIp(r.end), "10.0.0.199");
  });
});

describe("parseHookData", () => {
  const refusesXml = (xml: string, message: RegExp) =>
    assert.throws(
      () => parseHookData(xml),
      (e: unknown) => e instanceof VnatError && message.test(e.message),
    );

  test("malformed XML", () => refusesXml("<hookData><network>", /^hook data: malformed XML at line 1: /));
  test("entity declarations", () =>
    refusesXml(
      `<!DOCTYPE x [<!ENTITY a "aaaa">]><hookData/>`,
      /^hook data: DTDs and entity declarations are not allowed$/,
    ));
  test("a 1 MB document", () =>
    refusesXml(
      `<hookData>${"<x/>".repeat(300_000)}</hookData>`,
      /^hook data: document is \d+ bytes \(at most 262144 allowed\)$/,
    ));
  test("no network", () => refusesXml("<hookData/>", /^hook data: no <network> element in <hookData>$/));
  test("no name", () => refusesXml("<hookData><network/></hookData>", /^hook data: <network> has no <name>$/));
  test("missing metadata is reported by buildSpec", () => {
    const data = parseHookData(hookData({ ...base, metadata: "" }));
    assert.equal(data.network.metadata, undefined);
    assert.throws(
      () => buildSpec(data.network, EMPTY_CONFIG),
      /no <vnat:network xmlns:vnat="urn:vnat:network:1"> in <metadata>/,
    );
  });
  test("values stay text", () => {
    const data = parseHookData(hookData({ ...base, name: "0012" }));
    assert.equal(data.network.name, "0012");
  });
});

describe("parseConfig", () => {
  const bad: Array<[string, RegExp]> = [
    ["{", /^config x: not valid JSON/],
    ["[]", /^config x: expected a JSON object$/],
    [
      `{"provider": []}`,
      /^config x: unknown key "provider" \(allowed: providers, defaultProvider, start, strictUplinks, allowOpenIsolation\)$/,
    ],
    [`{"start": "later"}`, /^config x: "start" must be "foreground", got "later" \(the background start was removed/],
    [`{"start": 1}`, /^config x: "start" must be "foreground", got 1 \(the background start was removed/],
    [
      `{"providers": [{"bridge": "br0", "gateway": "1.2.3"}]}`,
      /^provider br0 gateway "1.2.3\/24": not an IPv4 address with prefix/,
    ],
    [
      `{"providers": [{"bridge": "br0", "gateway": "198.51.100.1/24", "pool": "198.51.101.10-198.51.101.20"}]}`,
      /outside the provider subnet 198.51.100.0\/24$/,
    ],
    [
      `{"providers": [{"bridge": "br0", "gateway": "198.51.100.1/24"}, {"bridge": "br0", "gateway": "198.51.100.1/24"}]}`,
      /provider bridge "br0" listed twice$/,
    ],
    [`{"defaultProvider": "br9"}`, /defaultProvider "br9" is not a listed provider bridge$/],
    [
      `{"providers": [{"bridge": "br0", "gateway": "198.51.100.1/24", "attach": "ipvlan"}]}`,
      /^provider br0: "attach" must be "auto", "veth" or "macvlan", got "ipvlan"$/,
    ],
  ];
  for (const [text, re] of bad)
    test(`refuses ${text}`, () =>
      assert.throws(
        () => parseConfig("x", text),
        (e: unknown) => e instanceof VnatError && re.test(e.message),
      ));
  test(`a provider's "attach" reaches the spec only when it forces a kind`, () => {
    const net = parseHookData(
      hookData({ name: "a1", bridge: "virbr9", uplinkBridge: "br0", uplink: "198.51.100.10/24" }),
    ).network;
    const withAttach = (attach?: string) =>
      parseConfig("x", JSON.stringify({ providers: [{ bridge: "br0", gateway: "198.51.100.1/24", attach }] }));
    assert.equal(withAttach().providers[0]!.attach, "auto");
    assert.equal(buildSpec(net, withAttach()).uplink.attach, undefined);
    assert.equal(buildSpec(net, withAttach("auto")).uplink.attach, undefined);
    for (const kind of ["veth", "macvlan"] as const) assert.equal(buildSpec(net, withAttach(kind)).uplink.attach, kind);
  });
  test(`"start" may only say "foreground": the background start is gone, with a message that says so`, () => {
    assert.deepEqual(parseConfig("x", `{"start": "foreground"}`), parseConfig("x", "{}"));
    assert.throws(
      () => parseConfig("x", `{"start": "background"}`),
      (e: Error) =>
        e.message ===
        `config x: "start" must be "foreground", got "background" (the background start was removed: vnat builds before virsh net-start returns; delete the key)`,
    );
  });
});
