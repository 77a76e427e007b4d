// Pure parsers and builders behind `vnat status`: leases, the namespace probe, ruleset
// comparison, the desired spec, and the JSON document against its documented schema.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { desiredSpec } from "../../src/core/input/desired.ts";
import { HEALTHS, REASON_CODES } from "../../src/core/judge/health.ts";
import { parseLeases } from "../../src/core/observe/leases.ts";
import { parseNetnsProbe, parseRulesetBatch } from "../../src/core/observe/netns-view.ts";
import {
  addressesByIface,
  defaultRouteOf,
  parseLocalAddresses,
  parseNetDevNames,
  parseRoutes,
} from "../../src/core/observe/proc-net.ts";
import { normalizeRuleset, parseCounters, suffixTables, unsuffixListing } from "../../src/core/judge/ruleset.ts";
import { statusDoc } from "../../src/core/observe/status-doc.ts";
import { formatDetail, formatSummary, humanBytes } from "../../src/cli/status/format.ts";
import { kernelNames } from "../../src/core/names.ts";
import { networkXml, type NetOpts } from "../support/fixtures.ts";
import { validate } from "../support/json-schema.ts";

const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../docs/status.schema.json", import.meta.url)), "utf8"),
);

const LISTING = `table ip vnat {
	counter nat_out {
		packets 12 bytes 3400
	}

	counter nat_in {
		packets 10 bytes 9000
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		iifname "lan0" oifname "wan0" counter name "nat_out"
	}
}
`;

describe("status parsers", () => {
  test("dnsmasq leases: IPv4 only, '*' hostname, 0 = infinite", () => {
    const text = [
      "1700000000 52:54:00:12:34:56 10.0.0.150 guest1 01:52:54:00:12:34:56",
      "0 52:54:00:AB:CD:EF 10.0.0.151 * *",
      "duid 00:01:00:01:2c:5f",
      "garbage",
      "",
    ].join("\n");
    assert.deepEqual(parseLeases(text), [
      { mac: "52:54:00:12:34:56", ip: "10.0.0.150", hostname: "guest1", expires: 1700000000 },
      { mac: "52:54:00:ab:cd:ef", ip: "10.0.0.151", hostname: null, expires: null },
    ]);
  });

  test("the namespace probe: links, addresses, default route, then the nft listing", () => {
    const addr = JSON.stringify([
      {
        ifname: "lo",
        flags: ["LOOPBACK", "UP"],
        operstate: "UNKNOWN",
        address: "00:00:00:00:00:00",
        addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }],
      },
      {
        ifname: "lan0",
        flags: ["BROADCAST", "UP"],
        operstate: "UP",
        address: "aa:bb:cc:dd:ee:ff",
        addr_info: [
          { family: "inet", local: "10.0.0.1", prefixlen: 24 },
          { family: "inet6", local: "fe80::1", prefixlen: 64 },
        ],
      },
      { ifname: "wan0", flags: ["BROADCAST"], operstate: "DOWN", address: "02:76:c6:33:64:0a", addr_info: [] },
    ]);
    const route = JSON.stringify([{ dst: "default", gateway: "198.51.100.1", dev: "wan0", flags: [] }]);
    const v = parseNetnsProbe(`${addr}\n${route}\n${LISTING}`);
    assert.deepEqual(
      v.links.map((l) => [l.name, l.up, l.addresses]),
      [
        ["lo", true, ["127.0.0.1/8"]],
        ["lan0", true, ["10.0.0.1/24"]],
        ["wan0", false, []],
      ],
    );
    assert.deepEqual(v.defaultRoute, { gateway: "198.51.100.1", dev: "wan0" });
    assert.equal(v.ruleset, LISTING.trim());
    assert.deepEqual(parseNetnsProbe(`${addr}\n[]\n`).defaultRoute, null);
    assert.equal(parseNetnsProbe(`${addr}\n[]\n`).ruleset, "");
    assert.throws(() => parseNetnsProbe("Cannot open network namespace"), /unexpected output from ip/);
  });

  test("/proc/PID/net: local addresses placed on interfaces by their connected routes", () => {
    const trie = [
      "Main:",
      "  +-- 0.0.0.0/0 3 0 5",
      "        |-- 0.0.0.0",
      "           /0 universe UNICAST",
      "              |-- 10.0.0.1",
      "                 /32 host LOCAL",
      "           |-- 10.0.0.255",
      "              /32 link BROADCAST",
      "           |-- 127.0.0.0",
      "              /8 host LOCAL",
      "           |-- 127.0.0.1",
      "              /32 host LOCAL",
      "           |-- 198.51.100.41",
      "              /32 host LOCAL",
      "Local:",
      "              |-- 10.0.0.1",
      "                 /32 host LOCAL",
    ].join("\n");
    const route = [
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "wan0\t00000000\t016433C6\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "lan0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "wan0\t006433C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
    ].join("\n");
    const routes = parseRoutes(route, true);
    assert.deepEqual(parseLocalAddresses(trie), ["10.0.0.1", "127.0.0.1", "198.51.100.41"]);
    const placed = addressesByIface(parseLocalAddresses(trie), routes);
    assert.equal(placed.complete, true);
    assert.deepEqual(
      [...placed.byIface],
      [
        ["lan0", ["10.0.0.1/24"]],
        ["wan0", ["198.51.100.41/24"]],
      ],
    );
    assert.deepEqual(defaultRouteOf(routes), { gateway: "198.51.100.1", dev: "wan0" });
    // an address no connected route covers cannot be placed: the caller asks ip instead
    assert.equal(addressesByIface(["192.168.7.7"], routes).complete, false);
    assert.deepEqual(parseNetDevNames("Inter-|\n face |\n    lo: 0 0\n  lan0: 90 1\n"), ["lo", "lan0"]);
  });

  test("many namespaces' rulesets from one ip -batch, separated by lo's line; a failed line is an error", () => {
    const lo =
      "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\\    link/loopback 00:00:00:00:00:00";
    const stdout = `${LISTING}${lo}\n${lo}\n${LISTING}${lo}\n`;
    const stderr = 'Cannot open network namespace "vnat-b": No such file or directory\nCommand failed -:3\n';
    assert.deepEqual(parseRulesetBatch(stdout, stderr, 3), [
      { ruleset: LISTING.trim() },
      { error: 'Cannot open network namespace "vnat-b": No such file or directory' },
      { ruleset: LISTING.trim() },
    ]);
    assert.deepEqual(parseRulesetBatch(`${lo}\n`, "", 2), [
      { ruleset: "" },
      { error: "output of ip -batch ended early" },
    ]);
  });

  test("rulesets: counters masked, tables order-independent, counters read", () => {
    const other = "table inet x {\n\tchain c {\n\t}\n}\n";
    assert.equal(
      normalizeRuleset(LISTING + other),
      normalizeRuleset(other + LISTING.replace("packets 12", "packets 99")),
    );
    assert.notEqual(normalizeRuleset(LISTING), normalizeRuleset(LISTING.replace("policy drop", "policy accept")));
    assert.equal(normalizeRuleset(""), "");
    assert.deepEqual(parseCounters(LISTING, "ip", "vnat"), {
      nat_out: { packets: 12, bytes: 3400 },
      nat_in: { packets: 10, bytes: 9000 },
    });
  });

  test("reference rulesets: tables suffixed per network and grouped back", () => {
    const rendered = "table ip vnat\ndelete table ip vnat\ntable ip vnat {\n}\ntable inet vnat_fw {\n}\n";
    assert.equal(
      suffixTables(rendered, 3),
      "table ip vnat__ref3\ndelete table ip vnat__ref3\ntable ip vnat__ref3 {\n}\ntable inet vnat_fw__ref3 {\n}\n",
    );
    const listing =
      "table ip vnat__ref0 {\n\tchain a {\n\t}\n}\ntable ip vnat__ref1 {\n}\ntable inet vnat_fw__ref0 {\n}\n";
    const back = unsuffixListing(listing);
    assert.equal(back.get(0), "table ip vnat {\n\tchain a {\n\t}\n}\ntable inet vnat_fw {\n}\n");
    assert.equal(back.get(1), "table ip vnat {\n}\n");
  });
});

describe("desired spec", () => {
  const base: NetOpts = {
    name: "n1",
    bridge: "virbr5",
    uplinkBridge: "br0",
    uplink: "198.51.100.10/24",
    gateway: "198.51.100.1",
  };
  test("from the live XML; no metadata means not a vnat network", () => {
    const d = desiredSpec(networkXml(base), undefined, EMPTY_CONFIG);
    assert.equal(d.vnat, true);
    assert.equal(d.spec?.names.netns, "vnat-n1");
    const plain = desiredSpec(
      "<network><name>default</name><bridge name='virbr0'/></network>",
      undefined,
      EMPTY_CONFIG,
    );
    assert.deepEqual(plain, { vnat: false });
  });

  test("invalid metadata is reported, not thrown", () => {
    const d = desiredSpec(networkXml({ ...base, uplink: "198.51.100.300/24" }), undefined, EMPTY_CONFIG);
    assert.equal(d.vnat, true);
    assert.equal(d.spec, undefined);
    assert.match(d.error!, /uplink address/);
  });

  test("forwards, floating IPs and static hosts come from the persistent XML (vnat applies them live)", () => {
    const inbound = `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>`;
    const live = desiredSpec(networkXml(base), undefined, EMPTY_CONFIG).spec!;
    const added = desiredSpec(networkXml(base), networkXml({ ...base, extraMetadata: inbound }), EMPTY_CONFIG).spec!;
    assert.equal(live.forwards, undefined);
    assert.equal(added.forwards?.length, 1);
    const removed = desiredSpec(networkXml({ ...base, extraMetadata: inbound }), networkXml(base), EMPTY_CONFIG).spec!;
    assert.equal(removed.forwards, undefined);
  });

  test("a persistent edit of the uplink waits for the next start", () => {
    const d = desiredSpec(networkXml(base), networkXml({ ...base, uplink: "198.51.100.99/24" }), EMPTY_CONFIG);
    assert.equal(
      d.spec?.uplink.address.address,
      desiredSpec(networkXml(base), undefined, EMPTY_CONFIG).spec?.uplink.address.address,
    );
  });
});

describe("status document", () => {
  test("matches the documented schema; summary and detail render without colour", () => {
    const d = desiredSpec(
      networkXml({
        name: "n1",
        bridge: "virbr5",
        uplinkBridge: "br0",
        uplink: "198.51.100.10/24",
        gateway: "198.51.100.1",
      }),
      undefined,
      EMPTY_CONFIG,
    );
    const k = kernelNames("n1");
    const doc = statusDoc(
      [
        {
          name: "n1",
          libvirt: { active: true, autostart: false, persistent: true, vnat: true },
          spec: d.spec!,
          netns: { name: k.netns, present: false },
          lanHost: { name: k.lanHost, present: false, up: false, operstate: null, master: null },
          uplinkHost: { name: k.uplinkHost, present: false, up: false, operstate: null, master: null },
          attach: { lan: "macvlan", uplink: "macvlan" },
          fdb: { lan: false, uplink: false },
          bridges: { lan: true, uplink: true },
          dnsmasq: { pid: null, inNamespace: false, argsMatch: false },
          counters: {},
          conntrack: null,
          leases: [{ mac: "52:54:00:12:34:56", ip: "10.0.0.150", hostname: "g1", expires: 1700000000 }],
          ports: [{ uuid: "u", ownerName: "g1", ownerUuid: "o", mac: "52:54:00:12:34:56" }],
        },
      ],
      ["vnl-0123abcd"],
      [{ bridge: "br0", mac: "02:76:c6:33:64:99" }],
      new Date(0),
    );
    assert.deepEqual(validate(SCHEMA, JSON.parse(JSON.stringify(doc))), []);
    assert.deepEqual(doc.networks[0]!.reasons, [
      { code: "namespace-missing", message: "network active but namespace missing" },
    ]);
    assert.deepEqual(doc.networks[0]!.leases[0], {
      mac: "52:54:00:12:34:56",
      ip: "10.0.0.150",
      hostname: "g1",
      expires: "2023-11-14T22:13:20.000Z",
    });
    const summary = formatSummary(doc, false);
    assert.doesNotMatch(summary, /\x1b\[/);
    assert.match(summary, /^NETWORK +LIBVIRT +HEALTH +UPLINK +PROVIDER +LAN +BRIDGE +NAT PKTS OUT\/IN +CONNS/);
    assert.match(summary, /\nn1 +active +down +198\.51\.100\.10\/24 +br0 +10\.0\.0\.1\/24 +virbr5 +- +- +1 +1\n/);
    assert.match(summary, /\n {2}- network active but namespace missing\n/);
    assert.match(summary, /stray vnat interfaces \(no known network\): vnl-0123abcd/);
    assert.match(summary, /stray vnat fdb entries \(no known network\): 02:76:c6:33:64:99 on br0/);
    assert.match(formatSummary(doc, true), /\x1b\[31mdown/);
    const gone = { ...doc.networks[0]!, libvirt: null };
    assert.match(formatSummary({ ...doc, networks: [gone] }, false), /\nn1 +not defined +down /);
    assert.equal(
      formatSummary({ ...doc, networks: [], strayLinks: [], strayFdb: [] }, false),
      "",
      "nothing to list: no header (status says so on stderr, as the list commands do)",
    );
    const counted = { ...doc.networks[0]!, nat: { out: { packets: 12, bytes: 1536 }, in: { packets: 0, bytes: 0 } } };
    const counts = formatDetail(counted, false);
    assert.match(counts, /\nnat out +12 packets, 1\.5 KiB\n/);
    assert.match(counts, /\nnat in +0 packets, 0 B\n/);
    const detail = formatDetail(doc.networks[0]!, false);
    assert.match(detail, /^network +n1\nhealth +down\n/);
    assert.match(detail, /\nuplink link +macvlan wan0 on br0, fdb entry 02:76:c6:33:64:0a missing\n/);
    assert.match(detail, /leases \(1\):\n {2}10\.0\.0\.150 +52:54:00:12:34:56 +g1 +2023-11-14T22:13:20\.000Z\n/);
  });

  test("byte counts in 1024-based units", () => {
    assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024 + 100, 5 * 1024 ** 2, 3.25 * 1024 ** 3, 2 ** 62].map(humanBytes), [
      "0 B",
      "1023 B",
      "1 KiB",
      "1.5 KiB",
      "10 KiB",
      "5 MiB",
      "3.3 GiB",
      "4096 PiB",
    ]);
  });

  test("the example in docs/status-json.md matches the schema", () => {
    const md = readFileSync(fileURLToPath(new URL("../../docs/status-json.md", import.meta.url)), "utf8");
    const example = /```json\n([\s\S]*?)```/.exec(md)?.[1];
    assert.ok(example, "no json example in docs/status-json.md");
    assert.deepEqual(validate(SCHEMA, JSON.parse(example)), []);
    // the schema lists exactly the codes and health values the code produces, and the doc explains each
    const net = SCHEMA.$defs.network.properties;
    assert.deepEqual(net.reasons.items.properties.code.enum, [...REASON_CODES]);
    assert.deepEqual(net.health.enum, [...HEALTHS]);
    for (const code of REASON_CODES)
      assert.match(md, new RegExp(`\\| \`${code}\` \\|`), `reason code ${code} is not documented`);
  });

  test("the schema checker itself rejects what the schema forbids", () => {
    assert.deepEqual(
      validate(SCHEMA, { version: 1, generatedAt: "x", networks: [], strayLinks: [], strayFdb: [], extra: 1 }),
      ['$.generatedAt: "x" is not a date-time', '$: unexpected property "extra"'],
    );
    assert.deepEqual(validate(SCHEMA, { version: 2, networks: [{}], strayLinks: ["eth0"] }).length > 5, true);
  });
});
