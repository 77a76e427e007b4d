// `vnat net set` / `vnat provider set`: parsing key=value, the metadata and config edits,
// validation by the hook's own rules on the result, the live merge, and the stranding check.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { desiredSpec } from "../../src/core/input/desired.ts";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { parseNetworkXml } from "../../src/core/observe/inventory.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import {
  modelFromMetadata,
  renderMetadata,
  replaceMetadata,
  type MetadataModel,
} from "../../src/core/input/metadata.ts";
import { planCreate } from "../../src/core/edit/netcreate.ts";
import {
  applyNetSet,
  applyProviderSet,
  checkStranded,
  liveMerge,
  NET_KEYS,
  netChanges,
  parseAssignments,
  PROVIDER_KEYS,
  type NetKey,
} from "../../src/core/edit/netset.ts";
import { showDoc } from "../../src/core/observe/netshow.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";

const template = readFileSync(new URL("../../xml-templates/vnat-network.xml", import.meta.url), "utf8");
const ip = (t: string): number => parseIp(t)!;
const configFile = {
  providers: [
    { bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.20", dns: ["198.51.100.53"] },
  ],
};
const config: Config = parseConfig("test", JSON.stringify(configFile));
const xml = planCreate(
  { name: "web", subnet: "10.0.0.0/24", provider: "br-prov" },
  config,
  { networks: [], links: new Set(), claimed: new Set() },
  template,
).xml;
const model = (): MetadataModel => modelFromMetadata(parseNetworkXml(xml).metadata!);

/** parse, edit, render, validate: what net set does before it defines */
function set(words: string[], cfg = config, taken = new Set<number>()): NetSpec {
  const m = applyNetSet("web", model(), parseAssignments<NetKey>('network "web"', words, NET_KEYS), {
    config: cfg,
    taken,
  });
  return buildSpec(parseNetworkXml(replaceMetadata(xml, renderMetadata(m))), cfg);
}

describe("parseAssignments", () => {
  const p = (w: string[]) => parseAssignments<NetKey>('network "web"', w, NET_KEYS);
  test("key=value pairs; the value may contain = and be empty", () => {
    assert.deepEqual(p(["dns=1.1.1.1,8.8.8.8", "dhcp=off"]), [
      { key: "dns", value: "1.1.1.1,8.8.8.8" },
      { key: "dhcp", value: "off" },
    ]);
    assert.deepEqual(p(["dns="]), [{ key: "dns", value: "" }]);
  });
  test("unknown key, no '=', a key twice, nothing: one line each", () => {
    const keys = Object.keys(NET_KEYS).join(", ");
    assert.throws(() => p(["dsn=1.1.1.1"]), { message: `network "web": unknown key "dsn" (keys: ${keys})` });
    assert.throws(() => p(["dhcp"]), { message: `network "web": "dhcp": expected key=value (keys: ${keys})` });
    assert.throws(() => p(["=x"]), /expected key=value/);
    assert.throws(() => p(["dhcp=on", "dhcp=off"]), { message: 'network "web": key "dhcp" given twice' });
    assert.throws(() => p([]), /nothing to set/);
    assert.throws(() => parseAssignments('provider "b"', ["mtu=9000"], PROVIDER_KEYS), /unknown key "mtu"/);
  });
});

describe("applyNetSet + buildSpec", () => {
  test("each key lands in the spec", () => {
    const s = set([
      "dns=9.9.9.9,1.1.1.1",
      "dhcp-range=10.0.0.50-10.0.0.60",
      "dhcp-lease=12h",
      "isolation-host=open",
      "uplink=198.51.100.30",
    ]);
    assert.deepEqual(s.dns, [ip("9.9.9.9"), ip("1.1.1.1")]);
    assert.deepEqual(s.dhcp, { start: ip("10.0.0.50"), end: ip("10.0.0.60"), lease: "12h" });
    assert.deepEqual(s.isolation, { host: "open", provider: "blocked" });
    assert.equal(s.uplink.address.address, ip("198.51.100.30"));
    assert.equal(s.uplink.address.prefix, 24);
  });
  test("defaults come back: dns=default is the provider's, dhcp-range=default the upper half", () => {
    const s = set(["dns=default", "dhcp-range=default"]);
    assert.deepEqual(s.dns, [ip("198.51.100.53")]);
    assert.deepEqual([s.dhcp?.start, s.dhcp?.end], [ip("10.0.0.128"), ip("10.0.0.254")]);
  });
  test("dhcp=off removes DHCP and keeps the range for dhcp=on", () => {
    assert.equal(set(["dhcp=off"]).dhcp, undefined);
    const m = applyNetSet(
      "web",
      model(),
      [
        { key: "dhcp-range", value: "10.0.0.50-10.0.0.60" },
        { key: "dhcp", value: "off" },
      ],
      { config, taken: new Set() },
    );
    const on = applyNetSet("web", m, [{ key: "dhcp", value: "on" }], { config, taken: new Set() });
    assert.deepEqual(on.lan.dhcp, { start: "10.0.0.50", end: "10.0.0.60" });
  });
  test("uplink=auto takes the lowest free pool address", () => {
    const s = set(["uplink=auto"], config, new Set([ip("198.51.100.10"), ip("198.51.100.11")]));
    assert.equal(s.uplink.address.address, ip("198.51.100.12"));
  });
  test("bad values: one line naming the network and the key", () => {
    assert.throws(() => set(["dns=1.1.1"]), {
      message: `network "web": dns "1.1.1": not an IPv4 address (expected A.B.C.D)`,
    });
    assert.throws(() => set(["dhcp=maybe"]), { message: 'network "web": dhcp: "maybe": expected on or off' });
    assert.throws(() => set(["isolation-provider=closed"]), {
      message: 'network "web": isolation-provider: "closed": expected blocked or open',
    });
    assert.throws(() => set(["dhcp-range=10.0.0.50"]), /dhcp-range: "10.0.0.50": expected START-END/);
    assert.throws(() => set(["dhcp-lease=1y"]), /dhcp-lease: "1y": expected/);
    // validated by buildSpec, as start begin would
    assert.throws(() => set(["dhcp-lease=1m"]), /dhcp lease "1m": expected a duration of at least 2m/);
    assert.throws(() => set(["dhcp-range=10.0.1.5-10.0.1.9"]), /dhcp start 10.0.1.5 is outside the lan subnet/);
    assert.throws(() => set(["uplink=203.0.113.5"]), /uplink address 203.0.113.5\/24 is outside provider "br-prov"/);
    assert.throws(() => set(["uplink=198.51.100.30/33"]), /uplink/);
    assert.throws(
      () => set(["dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9"]),
      /9 dns upstreams/,
    );
  });
  test("dhcp=off is refused while static hosts need it", () => {
    const m = { ...model(), hosts: [{ mac: "52:54:00:00:00:01", ip: "10.0.0.5" }] };
    const off = applyNetSet("web", m, [{ key: "dhcp", value: "off" }], { config, taken: new Set() });
    assert.throws(() => buildSpec(parseNetworkXml(replaceMetadata(xml, renderMetadata(off))), config), /host/);
  });
});

describe("netChanges / liveMerge", () => {
  const old = buildSpec(parseNetworkXml(xml), config);
  test("per key: live, next start, or the definition only", () => {
    const next = set(["dns=9.9.9.9", "uplink=198.51.100.30", "dhcp=on"]);
    assert.deepEqual(netChanges(old, next, ["dns", "uplink", "dhcp"], true), [
      { key: "dns", from: "198.51.100.53", to: "9.9.9.9", applies: "live" },
      { key: "uplink", from: "198.51.100.10/24", to: "198.51.100.30/24", applies: "next-start" },
      { key: "dhcp", from: "on", to: "on", applies: "none" },
    ]);
    assert.equal(netChanges(old, next, ["uplink"], false)[0]!.applies, "definition");
  });
  test("the running spec takes dns, dhcp and isolation, never the uplink", () => {
    const next = set(["dns=9.9.9.9", "uplink=198.51.100.30", "dhcp=off", "isolation-provider=open"]);
    const m = liveMerge(old, next);
    assert.deepEqual(m.dns, [ip("9.9.9.9")]);
    assert.equal(m.dhcp, undefined);
    assert.equal("dhcp" in m, false);
    assert.deepEqual(m.isolation, { host: "blocked", provider: "open" });
    assert.equal(m.uplink.address.address, old.uplink.address.address);
  });
  test("desiredSpec keeps what net set applied live (a reconcile must not roll it back)", () => {
    const edited = (words: string[]) =>
      replaceMetadata(
        xml,
        renderMetadata(
          applyNetSet("web", model(), parseAssignments<NetKey>("n", words, NET_KEYS), { config, taken: new Set() }),
        ),
      );
    const d = desiredSpec(xml, edited(["dns=9.9.9.9", "uplink=198.51.100.30", "dhcp-lease=2h"]), config).spec!;
    assert.deepEqual(d.dns, [ip("9.9.9.9")]);
    assert.equal(d.dhcp?.lease, "2h");
    assert.equal(d.uplink.address.address, ip("198.51.100.10"));
    // an isolation opened in the definition without the config's consent stays as it runs
    assert.equal(desiredSpec(xml, edited(["isolation-host=open"]), config).spec!.isolation, undefined);
    const open = { ...config, allowOpenIsolation: true };
    assert.equal(desiredSpec(xml, edited(["isolation-host=open"]), open).spec!.isolation?.host, "open");
  });
});

describe("provider set", () => {
  const apply = (words: string[]) =>
    applyProviderSet(configFile, "br-prov", parseAssignments("p", words, PROVIDER_KEYS));
  test("keys change the entry; the gateway keeps its prefix; none removes", () => {
    const f = apply(["gateway=198.51.100.254", "pool=none", "dns=1.1.1.1,9.9.9.9", "attach=veth"]);
    assert.deepEqual(f.providers![0], {
      bridge: "br-prov",
      gateway: "198.51.100.254/24",
      dns: ["1.1.1.1", "9.9.9.9"],
      attach: "veth",
    });
    assert.equal(apply(["uplinksInPool=true"]).providers![0]!.uplinksInPool, true);
  });
  test("an unknown provider; bad values fail in parseConfig with one line", () => {
    assert.throws(
      () => applyProviderSet(configFile, "br-x", [{ key: "attach", value: "veth" }]),
      /provider "br-x": not in the config \(providers: br-prov/,
    );
    assert.throws(() => parseConfig("c", JSON.stringify(apply(["attach=bond"]))), /attach/);
    assert.throws(() => parseConfig("c", JSON.stringify(apply(["pool=198.51.101.1-198.51.101.9"]))), /outside/);
  });
  test("a running network whose uplink leaves the subnet or the pool is named", () => {
    const after = (words: string[]) => parseConfig("c", JSON.stringify(apply(words)));
    const running = [{ name: "web", xml }];
    assert.doesNotThrow(() => checkStranded("br-prov", config, after(["pool=198.51.100.5-198.51.100.9"]), running));
    assert.throws(
      () =>
        checkStranded("br-prov", config, after(["pool=198.51.100.50-198.51.100.60", "uplinksInPool=true"]), running),
      /^VnatError: provider "br-prov": would strand running network "web": network "web": uplink 198.51.100.10 is outside provider "br-prov" pool/,
    );
    assert.throws(
      () => checkStranded("br-prov", config, after(["gateway=198.51.101.1/24", "pool=none"]), running),
      /would strand running network "web"/,
    );
    // another bridge's networks are not this change's business
    assert.doesNotThrow(() =>
      checkStranded("br-other", config, after(["gateway=198.51.101.1/24", "pool=none"]), running),
    );
  });
});

describe("showDoc", () => {
  test("configured beside running, pending keys listed", () => {
    const running = buildSpec(parseNetworkXml(xml), config);
    const d = showDoc("web", { spec: set(["uplink=198.51.100.30"]) }, running, undefined, []);
    assert.equal(d.configured?.uplink.address, "198.51.100.30/24");
    assert.equal(d.running?.uplink.address, "198.51.100.10/24");
    assert.deepEqual(d.pending, ["uplink"]);
    assert.deepEqual(d.configured?.dhcp, { enabled: true, start: "10.0.0.128", end: "10.0.0.254", lease: "1h" });
  });
});

describe("net set's prose", () => {
  test("one line per key saying how it applies", async () => {
    const { formatResult } = await import("../../src/cli/net/set.ts");
    const changes = [
      { key: "dns" as const, from: "198.51.100.53", to: "9.9.9.9", applies: "live" as const },
      { key: "uplink" as const, from: "198.51.100.10/24", to: "198.51.100.30/24", applies: "next-start" as const },
      { key: "dhcp" as const, from: "on", to: "on", applies: "none" as const },
    ];
    const base = { network: "web", active: true, changes, warnings: [] };
    assert.equal(
      formatResult({ ...base, dryRun: false, live: "applied" }),
      [
        'network "web": definition updated',
        "  dns: 198.51.100.53 -> 9.9.9.9 (applied live)",
        "  uplink: 198.51.100.10/24 -> 198.51.100.30/24 (applies at next start: virsh net-destroy web && virsh net-start web)",
        "  dhcp: on -> on (unchanged)",
        "",
      ].join("\n"),
    );
    // the namespace was not running: nothing is live yet
    assert.match(formatResult({ ...base, dryRun: false, live: "deferred" }), /dns: .* \(applies at next start/);
    assert.match(formatResult({ ...base, dryRun: true, live: "dry-run" }), /^network "web": dry run, nothing changed/);
  });
});
