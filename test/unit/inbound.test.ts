// Inbound (issue 5), pure code: validation messages, golden nft/ip/hosts text, the
// metadata round trip, the live-change diff and the CLI's model edits.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readFileSync } from "node:fs";
import { EMPTY_CONFIG, parseConfig } from "../../src/core/input/config.ts";
import { knownNetworks } from "../../src/core/observe/inventory.ts";
import { planCreate } from "../../src/core/edit/netcreate.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { renderDhcpHosts } from "../../src/core/input/hosts.ts";
import { diffInbound, sameBase } from "../../src/core/edit/inbound-diff.ts";
import * as edits from "../../src/core/edit/inbound.ts";
import type { TakenAddress } from "../../src/core/input/inbound.ts";
import { formatIp, parseIp } from "../../src/core/ipv4.ts";
import { modelFromMetadata, renderMetadata } from "../../src/core/input/metadata.ts";
import { renderNetnsBatch, renderNft } from "../../src/core/plan/render.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { forwardTarget } from "../../src/cli/inbound/actions.ts";
import { parseOrigDports } from "../../src/exec/change/conntrack.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { assertGolden } from "../support/golden.ts";

const base: NetOpts = {
  name: "net1",
  bridge: "virbr5",
  uplinkBridge: "br-prov",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
  dns: ["198.18.0.10"],
};
const spec = (extra: string, o: Partial<NetOpts> = {}, taken?: TakenAddress[]): NetSpec =>
  buildSpec(parseHookData(hookData({ ...base, ...o, extraMetadata: extra })).network, EMPTY_CONFIG, taken);

const FULL =
  `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
  `<vnat:forward proto="udp" port="5000-5002" to="10.0.0.6"/>` +
  `<vnat:forward proto="tcp" port="9000-9002" to="10.0.0.6" to-port="7000"/>` +
  `<vnat:floating address="198.51.100.20" to="10.0.0.7"/>` +
  `<vnat:host mac="52:54:00:AA:bb:01" ip="10.0.0.50" name="web"/>` +
  `<vnat:host mac="52:54:00:aa:bb:02" ip="10.0.0.51"/>`;

describe("inbound validation", () => {
  const F = (attrs: string) => `<vnat:forward ${attrs}/>`;
  const cases: Array<[string, string, string, Partial<NetOpts>?, TakenAddress[]?]> = [
    [
      "target outside the subnet",
      F(`proto="tcp" port="80" to="10.1.0.5"`),
      `network "net1": forward tcp 80: target 10.1.0.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
    ],
    [
      "target is the gateway",
      F(`proto="tcp" port="80" to="10.0.0.1"`),
      `network "net1": forward tcp 80: target 10.0.0.1 is the gateway (expected a guest)`,
    ],
    [
      "target broadcast",
      F(`proto="tcp" port="80" to="10.0.0.255"`),
      `network "net1": forward tcp 80: target 10.0.0.255 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
    ],
    [
      "bad proto",
      F(`proto="icmp" port="80" to="10.0.0.5"`),
      `network "net1": forward proto "icmp": expected tcp or udp`,
    ],
    [
      "bad port",
      F(`proto="tcp" port="0" to="10.0.0.5"`),
      `network "net1": forward tcp port "0": expected 1-65535 or START-END`,
    ],
    [
      "reversed range",
      F(`proto="tcp" port="90-80" to="10.0.0.5"`),
      `network "net1": forward tcp port "90-80": expected 1-65535 or START-END`,
    ],
    [
      "to-port size",
      F(`proto="tcp" port="8000-8010" to="10.0.0.5" to-port="9000-9005"`),
      `network "net1": forward tcp 8000-8010: to-port 9000-9005 is not the same size as the port range`,
    ],
    [
      "to-port beyond 65535",
      F(`proto="tcp" port="100-200" to="10.0.0.5" to-port="65500"`),
      `network "net1": forward tcp 100-200: to-port range ends above 65535`,
    ],
    ["missing to", F(`proto="tcp" port="80"`), `network "net1": forward tcp 80: needs to="GUEST_IP"`],
    [
      "unknown forward attribute",
      F(`proto="tcp" port="80" to="10.0.0.5" dport="1"`),
      `network "net1": <vnat:forward>: unknown attribute "dport" (allowed: proto, port, to, to-port)`,
    ],
    [
      "overlapping ranges",
      F(`proto="tcp" port="8000-8010" to="10.0.0.5"`) + F(`proto="tcp" port="8010" to="10.0.0.6"`),
      `network "net1": forward tcp 8010: port already forwarded (tcp 8000-8010 to 10.0.0.5)`,
    ],
    [
      "floating outside the provider subnet",
      `<vnat:floating address="198.51.101.20" to="10.0.0.5"/>`,
      `network "net1": floating 198.51.101.20: outside the provider subnet 198.51.100.0/24 (or not a host address)`,
    ],
    [
      "floating is the uplink",
      `<vnat:floating address="198.51.100.11" to="10.0.0.5"/>`,
      `network "net1": floating 198.51.100.11: is the network's own uplink address`,
    ],
    [
      "floating is the gateway",
      `<vnat:floating address="198.51.100.1" to="10.0.0.5"/>`,
      `network "net1": floating 198.51.100.1: is the provider's gateway`,
    ],
    [
      "floating used by another network",
      `<vnat:floating address="198.51.100.20" to="10.0.0.5"/>`,
      `network "net1": floating 198.51.100.20: already used by vnat network "other" on bridge "br-prov"`,
      {},
      [{ bridge: "br-prov", ip: parseIp("198.51.100.20")!, owner: "other" }],
    ],
    [
      "two floating IPs for one guest",
      `<vnat:floating address="198.51.100.20" to="10.0.0.5"/><vnat:floating address="198.51.100.21" to="10.0.0.5"/>`,
      `network "net1": floating 198.51.100.21: guest 10.0.0.5 already has floating IP 198.51.100.20 (one per guest)`,
    ],
    [
      "floating target outside",
      `<vnat:floating address="198.51.100.20" to="10.9.0.5"/>`,
      `network "net1": floating 198.51.100.20: target 10.9.0.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
    ],
    [
      "host ip outside",
      `<vnat:host mac="52:54:00:00:00:01" ip="10.1.0.5"/>`,
      `network "net1": host 52:54:00:00:00:01: ip 10.1.0.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
    ],
    [
      "host bad mac",
      `<vnat:host mac="52:54:00:00:01" ip="10.0.0.5"/>`,
      `network "net1": host: MAC "52:54:00:00:01": expected six hex pairs like 52:54:00:12:34:56`,
    ],
    [
      "host multicast mac",
      `<vnat:host mac="01:00:5e:00:00:01" ip="10.0.0.5"/>`,
      `network "net1": host: MAC 01:00:5e:00:00:01 is a multicast address`,
    ],
    [
      "duplicate MAC (any case)",
      `<vnat:host mac="52:54:00:00:00:0a" ip="10.0.0.5"/><vnat:host mac="52:54:00:00:00:0A" ip="10.0.0.6"/>`,
      `network "net1": host 52:54:00:00:00:0a: duplicate MAC (each MAC may be listed once)`,
    ],
    [
      "duplicate IP",
      `<vnat:host mac="52:54:00:00:00:01" ip="10.0.0.5"/><vnat:host mac="52:54:00:00:00:02" ip="10.0.0.5"/>`,
      `network "net1": host 52:54:00:00:00:02: ip 10.0.0.5 is already given to 52:54:00:00:00:01`,
    ],
    [
      "hostname charset",
      `<vnat:host mac="52:54:00:00:00:01" ip="10.0.0.5" name="web_1"/>`,
      `network "net1": host 52:54:00:00:00:01: name "web_1": expected 1-63 letters, digits and "-" (not at either end)`,
    ],
    [
      "host without DHCP",
      `<vnat:host mac="52:54:00:00:00:01" ip="10.0.0.5"/>`,
      `network "net1": host 52:54:00:00:00:01: DHCP is disabled on this network (static hosts need it)`,
      { dhcp: `<vnat:dhcp enabled="no"/>` },
    ],
  ];
  for (const [label, extra, message, opts, taken] of cases)
    test(label, () =>
      assert.throws(
        () => spec(extra, opts, taken),
        (e: Error) => (assert.equal(e.message, message), true),
      ),
    );

  test("a valid configuration parses; tcp and udp on one port are independent", () => {
    const s = spec(FULL);
    assert.equal(s.forwards?.length, 3);
    assert.deepEqual(
      s.hosts?.map((h) => h.mac),
      ["52:54:00:aa:bb:01", "52:54:00:aa:bb:02"],
    );
    assert.equal(
      spec(`<vnat:forward proto="udp" port="8080" to="10.0.0.5"/><vnat:forward proto="tcp" port="8080" to="10.0.0.5"/>`)
        .forwards?.length,
      2,
    );
  });

  test("a network without inbound elements has no inbound fields (older specs stay equal)", () => {
    const s = spec("");
    assert.equal("forwards" in s || "floating" in s || "hosts" in s, false);
  });
});

describe("inbound rendering (golden)", () => {
  const s = spec(FULL);
  test("nftables ruleset with forwards, ranges and a floating IP", () =>
    assertGolden("ruleset-inbound.nft", renderNft(s, [])));
  test("floating address added before wan0 comes up", () =>
    assertGolden("netns-inbound.batch", renderNetnsBatch(s).join("\n") + "\n"));
  test("dhcp hosts file", () => assertGolden("dhcp-hosts.txt", renderDhcpHosts(s.hosts ?? [])));
  test("no inbound: the ruleset is the plain one", () =>
    assert.doesNotMatch(renderNft(spec(""), []), /dnat|ct status/));
});

describe("metadata round trip", () => {
  test("model → XML → model → spec keeps every inbound element", () => {
    const net = parseHookData(hookData({ ...base, extraMetadata: FULL })).network;
    const model = modelFromMetadata(net.metadata!);
    const xml = renderMetadata(model);
    assert.match(xml, /<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"\/>/);
    assert.match(xml, /<vnat:floating address="198.51.100.20" to="10.0.0.7"\/>/);
    assert.match(xml, /<vnat:host mac="52:54:00:AA:bb:01" ip="10.0.0.50" name="web"\/>/);
    const again = spec("", { metadata: xml });
    assert.deepEqual(again, spec(FULL));
  });
});

describe("live diff", () => {
  const a = spec(FULL);
  test("removing a forward flushes it; the ruleset changes; nothing else", () => {
    const b = spec(FULL.replace(`<vnat:forward proto="udp" port="5000-5002" to="10.0.0.6"/>`, ""));
    const d = diffInbound(a, b);
    assert.equal(d.rules, true);
    assert.equal(d.hosts, false);
    assert.deepEqual(d.addAddresses, []);
    assert.deepEqual(d.flush, [
      { kind: "forward", proto: "udp", uplink: parseIp("198.51.100.11"), port: 5000, portEnd: 5002 },
    ]);
  });
  test("retargeting a floating IP flushes it but keeps the address", () => {
    const b = spec(FULL.replace(`to="10.0.0.7"`, `to="10.0.0.8"`));
    const d = diffInbound(a, b);
    assert.deepEqual([d.addAddresses, d.removeAddresses], [[], []]);
    assert.deepEqual(d.flush, [{ kind: "floating", address: parseIp("198.51.100.20") }]);
  });
  test("moving a floating IP adds one address and removes the other", () => {
    const d = diffInbound(a, spec(FULL.replace("198.51.100.20", "198.51.100.21")));
    assert.deepEqual(
      [d.addAddresses.map(formatIp), d.removeAddresses.map(formatIp)],
      [["198.51.100.21"], ["198.51.100.20"]],
    );
  });
  test("a host change touches only the hosts", () => {
    const d = diffInbound(a, spec(FULL.replace(`ip="10.0.0.51"`, `ip="10.0.0.52"`)));
    assert.deepEqual([d.rules, d.hosts, d.flush], [false, true, []]);
  });
  test("a base change (other lan) is detected", () => {
    assert.equal(sameBase(a, spec(FULL)), true);
    assert.equal(sameBase(a, spec("", { dns: ["198.18.0.11"] })), false);
    assert.equal(sameBase(a, spec("")), true, "inbound fields are not part of the base");
  });
});

describe("CLI model edits", () => {
  const m = modelFromMetadata(parseHookData(hookData({ ...base, extraMetadata: FULL })).network.metadata!);
  test("add and remove a forward", () => {
    const m2 = edits.addForward(m, "net1", "tcp", "443", "10.0.0.5:8443");
    assert.deepEqual(m2.forwards?.at(-1), { proto: "tcp", port: "443", to: "10.0.0.5", toPort: "8443" });
    assert.deepEqual(edits.removeForward(m2, "net1", "tcp", "443").forwards, m.forwards);
  });
  test("removing what is not there names what is", () =>
    assert.throws(
      () => edits.removeForward(m, "net1", "tcp", "5000"),
      (e: Error) =>
        /^network "net1": forward tcp 5000: not forwarded \(forwards: tcp 8080, udp 5000-5002, tcp 9000-9002\)$/.test(
          e.message,
        ),
    ));
  test("targets", () => {
    assert.deepEqual(edits.parseTarget("w", "10.0.0.5"), { to: "10.0.0.5" });
    assert.deepEqual(edits.parseTarget("w", "10.0.0.5:9000-9002"), { to: "10.0.0.5", toPort: "9000-9002" });
    assert.throws(() => edits.parseTarget("w", "10.0.0.5:1:2"), /expected GUEST_IP\[:PORT\]/);
  });
  test("hosts are removed by MAC in any case", () =>
    assert.equal(edits.removeHost(m, "net1", "52:54:00:AA:BB:02").hosts?.length, 1));
  test("list shows the guest side of each forward", () =>
    assert.deepEqual(m.forwards?.map(forwardTarget), ["10.0.0.5:80", "10.0.0.6:5000-5002", "10.0.0.6:7000-7002"]));
  test("taken addresses: other networks' uplinks and floating IPs, and live claims", () => {
    const known = [
      { name: "net1", vnat: m, uplinkBridge: "br-prov", uplink: { address: parseIp("198.51.100.11")!, prefix: 24 } },
      { name: "n2", vnat: m, uplinkBridge: "br-prov", uplink: { address: parseIp("198.51.100.12")!, prefix: 24 } },
    ];
    const claims = [{ bridge: "br-prov", ip: parseIp("198.51.100.40")!, owner: "n3" }];
    const t = edits.takenAddresses(known, claims, "net1");
    assert.deepEqual(
      t.map((x) => `${x.owner}@${formatIp(x.ip)}`),
      ["n3@198.51.100.40", "n2@198.51.100.12", "n2@198.51.100.20"],
    );
  });
});

test("conntrack listing: original destination ports", () => {
  const listing = [
    "tcp      6 119 TIME_WAIT src=198.18.0.10 dst=198.51.100.21 sport=41234 dport=8001 src=10.0.0.5 dst=198.18.0.10 sport=8001 dport=41234 [ASSURED] mark=0 use=1",
    "udp      17 29 src=198.18.0.10 dst=198.51.100.21 sport=5353 dport=8002 [UNREPLIED] src=10.0.0.5 dst=198.18.0.10 sport=8002 dport=5353 mark=0 use=1",
    "",
  ].join("\n");
  assert.deepEqual(parseOrigDports(listing), [8001, 8002]);
});

test("net create never picks or accepts another network's floating IP as its uplink", () => {
  const template = readFileSync(new URL("../../xml-templates/vnat-network.xml", import.meta.url), "utf8");
  const config = parseConfig(
    "t",
    JSON.stringify({
      providers: [{ bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.12" }],
    }),
  );
  const other = networkXml({
    ...base,
    name: "n0",
    uplink: "198.51.100.40/24",
    extraMetadata: `<vnat:floating address="198.51.100.10" to="10.0.0.5"/>`,
  });
  const host = {
    networks: knownNetworks([["n0", other]], config),
    links: new Set<string>(),
    claimed: new Set<number>(),
  };
  const opts = { name: "n1", subnet: "10.0.0.0/24", provider: "br-prov" };
  assert.equal(formatIp(planCreate(opts, config, host, template).spec.uplink.address.address), "198.51.100.11");
  assert.throws(() => planCreate({ ...opts, uplink: "198.51.100.10" }, config, host, template), {
    message: `network "n1": uplink 198.51.100.10 on "br-prov" is already used by network "n0"`,
  });
});
