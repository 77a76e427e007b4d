// `vnat net create` planning: allocation, bridge choice, defaults from the provider, and
// validation by the hook's own rules, all before libvirt sees anything.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { pickBridgeName, pickUplink } from "../../src/core/edit/allocate.ts";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { knownNetworks } from "../../src/core/observe/inventory.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { planCreate, type CreateOptions, type HostView } from "../../src/core/edit/netcreate.ts";
import { addProvider, removeProvider } from "../../src/core/edit/providers.ts";

const template = readFileSync(new URL("../../xml-templates/vnat-network.xml", import.meta.url), "utf8");
const golden = (f: string): string => readFileSync(new URL(`golden/${f}`, import.meta.url), "utf8");
const ip = (t: string): number => parseIp(t)!;
const config: Config = parseConfig(
  "test",
  JSON.stringify({
    providers: [
      { bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.12", dns: ["198.51.100.53"] },
      { bridge: "br-nopool", gateway: "198.51.100.1/24" },
    ],
  }),
);
const empty: HostView = { networks: [], links: new Set(["lo", "eth0"]), claimed: new Set() };
const base: CreateOptions = { name: "net-a", subnet: "10.0.0.0/24", provider: "br-prov" };

describe("pickUplink / pickBridgeName", () => {
  test("lowest free address of the pool; an exhausted pool is a conflict", () => {
    const pool = { start: ip("198.51.100.10"), end: ip("198.51.100.12") };
    assert.equal(pickUplink("p", pool, new Set()), ip("198.51.100.10"));
    assert.equal(pickUplink("p", pool, new Set([ip("198.51.100.10"), ip("198.51.100.12")])), ip("198.51.100.11"));
    assert.throws(
      () => pickUplink("p", pool, new Set([ip("198.51.100.10"), ip("198.51.100.11"), ip("198.51.100.12")])),
      {
        message:
          'provider "p": every address of pool 198.51.100.10-198.51.100.12 is held by a vnat network (widen the pool or delete a network)',
      },
    );
  });
  test("first vnatbrN not used", () => {
    assert.equal(pickBridgeName(new Set()), "vnatbr0");
    assert.equal(pickBridgeName(new Set(["vnatbr0", "vnatbr2"])), "vnatbr1");
  });
});

describe("planCreate", () => {
  test("golden XML: defaults from the provider, gateway = first host, auto uplink and bridge", () => {
    const plan = planCreate(base, config, empty, template);
    assert.equal(plan.xml, golden("net-create.xml"));
    assert.equal(plan.uplinkWasAuto, true);
    assert.equal(plan.spec.lanBridge, "vnatbr0");
    assert.equal(plan.spec.lan.address, ip("10.0.0.1"));
  });

  test("skips uplinks and bridges held by defined networks, claims and host links", () => {
    const first = planCreate(base, config, empty, template);
    const host: HostView = {
      networks: knownNetworks([["net-a", first.xml]], config),
      links: new Set(["vnatbr1"]),
      claimed: new Set([ip("198.51.100.11")]),
    };
    const second = planCreate({ ...base, name: "net-b" }, config, host, template);
    assert.equal(second.spec.uplink.address.address, ip("198.51.100.12"));
    assert.equal(second.spec.lanBridge, "vnatbr2");
  });

  test("explicit values win over the provider's", () => {
    const plan = planCreate(
      {
        ...base,
        uplink: "198.51.100.77",
        gateway: "198.51.100.254",
        dns: ["198.18.0.10", "198.18.0.11"],
        dhcpRange: "10.0.0.50-10.0.0.60",
        bridge: "vtb-x1",
      },
      config,
      empty,
      template,
    );
    assert.match(plan.xml, /<vnat:uplink bridge="br-prov" address="198.51.100.77\/24" gateway="198.51.100.254"\/>/);
    assert.match(plan.xml, /<vnat:dhcp start="10.0.0.50" end="10.0.0.60"\/>/);
    assert.match(plan.xml, /<vnat:dns upstream="198.18.0.10"\/>\s*<vnat:dns upstream="198.18.0.11"\/>/);
    assert.match(plan.xml, /<bridge name="vtb-x1"/);
    assert.equal(plan.uplinkWasAuto, false);
  });

  const cases: Array<[string, Partial<CreateOptions>, string]> = [
    [
      "bad name",
      { name: "a b" },
      'network name "a b": only letters, digits, "_", "." and "-" are allowed, starting with a letter or digit',
    ],
    [
      "unknown provider",
      { provider: "br-x" },
      'network "net-a": provider "br-x" is not in the config (add it with vnat provider add)',
    ],
    [
      "subnet with host bits",
      { subnet: "10.0.0.1/24" },
      'network "net-a": subnet "10.0.0.1/24": expected a network address with prefix /8 to /30, like 10.0.0.0/24',
    ],
    [
      "no pool for auto",
      { provider: "br-nopool" },
      'network "net-a": provider "br-nopool" has no pool, so --uplink auto cannot pick an address (give --uplink A.B.C.D/N)',
    ],
    [
      "uplink outside provider",
      { uplink: "198.51.101.5/24" },
      'network "net-a": uplink address 198.51.101.5/24 is outside provider "br-prov" subnet 198.51.100.0/24',
    ],
    [
      "uplink with another prefix than the provider's",
      { uplink: "198.51.100.50/16" },
      'network "net-a": uplink 198.51.100.50/16: provider "br-prov" is a /24 (give 198.51.100.50/24, or the bare address)',
    ],
    [
      "dhcp range outside",
      { dhcpRange: "10.0.1.5-10.0.1.9" },
      'network "net-a": dhcp start 10.0.1.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)',
    ],
    [
      "dhcp range with gateway",
      { dhcpRange: "10.0.0.1-10.0.0.9" },
      'network "net-a": dhcp range 10.0.0.1-10.0.0.9 includes the gateway 10.0.0.1',
    ],
    [
      "lan overlaps uplink",
      { subnet: "198.51.100.0/25" },
      'network "net-a": lan subnet 198.51.100.0/25 overlaps the uplink subnet 198.51.100.0/24 (they must be disjoint)',
    ],
    ["bad dns", { dns: ["1.2.3"] }, 'network "net-a": dns "1.2.3": not an IPv4 address (expected A.B.C.D)'],
    [
      "bad bridge",
      { bridge: "much-too-long-bridge" },
      'network "net-a": bridge "much-too-long-bridge": not an interface name (1-15 of letters, digits, "_", "." and "-")',
    ],
  ];
  for (const [what, o, message] of cases)
    test(`refuses: ${what}`, () =>
      assert.throws(() => planCreate({ ...base, ...o }, config, empty, template), { message }));

  test("refuses a taken name, uplink or bridge", () => {
    const host: HostView = {
      ...empty,
      networks: knownNetworks([["net-a", planCreate(base, config, empty, template).xml]], config),
    };
    assert.throws(() => planCreate(base, config, host, template), {
      message: 'network "net-a": already defined in libvirt',
    });
    assert.throws(() => planCreate({ ...base, name: "b", uplink: "198.51.100.10" }, config, host, template), {
      message: 'network "b": uplink 198.51.100.10 on "br-prov" is already used by network "net-a"',
    });
    assert.throws(() => planCreate({ ...base, name: "b", bridge: "vnatbr0" }, config, host, template), {
      message: 'network "b": bridge "vnatbr0" is already used by another network or interface',
    });
  });
});

describe("knownNetworks", () => {
  test("non-vnat and unparsable networks still report their bridge", () => {
    const nets = knownNetworks(
      [
        ["default", "<network><name>default</name><bridge name='virbr0'/><ip address='192.168.122.1'/></network>"],
        ["broken", "<network><name>broken</name><bridge name='br9'/>"],
      ],
      config,
    );
    assert.deepEqual(nets, [
      { name: "default", bridge: "virbr0" },
      { name: "broken", bridge: "br9" },
    ]);
  });
});

describe("addProvider / removeProvider", () => {
  test("adds with a default /24, refuses duplicates and bad input, removes", () => {
    const f = addProvider({}, { bridge: "br0", gateway: "198.51.100.1", pool: "198.51.100.10-198.51.100.20", dns: [] });
    assert.deepEqual(f.providers, [
      { bridge: "br0", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.20", dns: [] },
    ]);
    assert.throws(() => addProvider(f, { bridge: "br0", gateway: "198.51.100.1" }), {
      message: 'provider "br0": already in the config (remove it first to change it)',
    });
    assert.throws(
      () => addProvider({}, { bridge: "br1", gateway: "198.51.100.1", pool: "198.51.100.1-198.51.100.5" }),
      {
        message: 'provider br1 pool "198.51.100.1-198.51.100.5": includes the gateway',
      },
    );
    // "attach" is written only when it is not the default
    assert.deepEqual(addProvider({}, { bridge: "br2", gateway: "198.51.100.1", attach: "veth" }).providers, [
      { bridge: "br2", gateway: "198.51.100.1/24", dns: [], attach: "veth" },
    ]);
    assert.equal(
      addProvider({}, { bridge: "br2", gateway: "198.51.100.1", attach: "auto" }).providers![0]!.attach,
      undefined,
    );
    assert.throws(() => addProvider({}, { bridge: "br2", gateway: "198.51.100.1", attach: "tap" }), {
      message: 'provider br2: "attach" must be "auto", "veth" or "macvlan", got "tap"',
    });
    assert.deepEqual(removeProvider({ ...f, defaultProvider: "br0" }, "br0"), { providers: [] });
    assert.throws(() => removeProvider(f, "nope"), {
      message: 'provider "nope": not in the config (see vnat provider list)',
    });
  });
});
