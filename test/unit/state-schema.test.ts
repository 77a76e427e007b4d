// The state file's schema (src/core/input/state-schema.ts): today's version and the previous one
// (no "version" field) are read, a refused file is refused in one line naming the field.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatIp } from "../../src/core/ipv4.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { parseState, STATE_VERSION, type NetState, linkRecordOf } from "../../src/core/input/state-schema.ts";
import { hookData } from "../support/fixtures.ts";

const WHERE = "/run/vnat/net/net1/state.json";
const config = parseConfig(
  "test.json",
  JSON.stringify({ providers: [{ bridge: "br0", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.99" }] }),
);
// every optional part of a spec present: DHCP, forwards, floating, hosts, isolation
const spec = buildSpec(
  parseHookData(
    hookData({
      name: "net1",
      bridge: "virbr7",
      uplinkBridge: "br0",
      uplink: "198.51.100.11/24",
      gateway: "198.51.100.1",
      dns: ["198.18.0.10"],
      dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
      extraMetadata:
        `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
        `<vnat:floating address="198.51.100.50" to="10.0.0.6"/>` +
        `<vnat:host mac="52:54:00:00:00:07" ip="10.0.0.7" name="web"/>` +
        `<vnat:isolation host="blocked" provider="blocked"/>`,
    }),
  ).network,
  config,
);
/** what apply.ts's stateOf writes */
const state: NetState = {
  name: "net1",
  phase: "active",
  lanBridge: spec.lanBridge,
  uplinkBridge: spec.uplink.bridge,
  uplink: formatIp(spec.uplink.address.address),
  netns: spec.names.netns,
  startedAt: "2026-12-04T21:00:00.000Z",
  attach: { lan: "macvlan", uplink: "macvlan" },
  spec,
};
const current = (): Record<string, unknown> => JSON.parse(JSON.stringify({ version: STATE_VERSION, ...state }));
const text = (o: unknown): string => JSON.stringify(o);
const without = (o: Record<string, unknown>, ...keys: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/** FILE with the value at PATH (a.b.c, [i] for a list item) replaced by VALUE (undefined: removed). */
function withField(path: string, value: unknown): Record<string, unknown> {
  const file = current();
  const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let at = file as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys.at(-1)!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return file;
}

function refused(file: string, pattern: RegExp, name = "net1"): void {
  assert.throws(
    () => parseState(WHERE, name, file),
    (e: unknown) => {
      assert.ok(e instanceof VnatError && e.kind === "invalid-input", String(e));
      assert.doesNotMatch(e.message, /\n/);
      assert.ok(e.message.startsWith(`state file ${WHERE}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe("state file schema", () => {
  test("the spec fixture has every optional part (so the cases below reach them)", () => {
    for (const k of ["dhcp", "forwards", "floating", "hosts", "isolation"] as const)
      assert.ok(spec[k] !== undefined, `${k} missing`);
    assert.equal(spec.hosts?.[0]?.name, "web");
  });

  test("today's file (version 2) reads back as written", () => {
    assert.deepEqual(parseState(WHERE, "net1", text(current())), state);
  });

  test("the previous version (no version field) reads like today's: an upgrade with networks running", () => {
    assert.deepEqual(parseState(WHERE, "net1", text(without(current(), "version"))), state);
  });

  test("an older vnat's file without attach and spec reads, without them", () => {
    const got = parseState(WHERE, "net1", text(without(current(), "version", "attach", "spec")));
    assert.equal(got.attach, undefined);
    assert.equal(got.spec, undefined);
    assert.equal(got.phase, "active");
  });

  test("optional parts of the spec may be absent", () => {
    const file = current();
    const s = file.spec as Record<string, unknown>;
    for (const k of ["dhcp", "forwards", "floating", "hosts", "isolation"]) delete s[k];
    delete (s.uplink as Record<string, unknown>).attach;
    const got = parseState(WHERE, "net1", text(file));
    assert.equal(got.spec?.forwards, undefined);
    assert.equal(got.spec?.dhcp, undefined);
  });

  test("not JSON, or not an object", () => {
    refused("{", /not JSON/);
    refused("", /not JSON/);
    refused("[]", /state: expected an object, got \[\]/);
    refused("null", /state: expected an object/);
  });

  test("a newer version is refused as a newer vnat's; a bad version as such", () => {
    refused(text(withField("version", 3)), /version 3 was written by a newer vnat \(this one reads 1-2\)/);
    refused(text(withField("version", "2")), /^[^:]+: version: expected 1-2, got '2'/);
    refused(text(withField("version", 0)), /version: expected 1-2, got 0/);
  });

  test("a state of another network (its name) is refused", () => {
    refused(text(current()), /name: expected "net2", got 'net1'/, "net2");
    refused(text(withField("spec.name", "other")), /spec\.name: expected "net1", got 'other'/);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ["name", undefined, /name: expected/],
    ["phase", "stopping", /phase: expected "starting" or "active", got 'stopping'/],
    ["lanBridge", "", /lanBridge: expected an interface name/],
    ["uplinkBridge", "a-bridge-name-too-long", /uplinkBridge: expected an interface name/],
    ["uplink", "198.51.100.300", /uplink: expected an IPv4 address/],
    ["netns", 7, /netns: expected a string, got 7/],
    ["startedAt", "yesterday", /startedAt: expected a date/],
    ["attach", "veth", /attach: expected an object/],
    ["attach.lan", "bridge", /attach\.lan: expected "veth" or "macvlan"/],
    ["attach.uplink", undefined, /attach\.uplink: expected "veth" or "macvlan", got nothing/],
    ["spec", [], /spec: expected an object/],
    ["spec.names", undefined, /spec\.names: expected an object, got nothing/],
    ["spec.names.netns", "", /spec\.names\.netns: expected a string/],
    ["spec.names.lanHost", "vnl/x", /spec\.names\.lanHost: expected an interface name/],
    ["spec.names.uplinkHost", null, /spec\.names\.uplinkHost: expected an interface name, got null/],
    ["spec.lanBridge", 1, /spec\.lanBridge: expected an interface name/],
    ["spec.lan", "10.0.0.1/24", /spec\.lan: expected an object/],
    ["spec.lan.address", -1, /spec\.lan\.address: expected an integer 0-4294967295, got -1/],
    ["spec.lan.prefix", 33, /spec\.lan\.prefix: expected an integer 0-32, got 33/],
    ["spec.dhcp.start", 1.5, /spec\.dhcp\.start: expected an integer/],
    ["spec.dhcp.end", "10.0.0.200", /spec\.dhcp\.end: expected an integer/],
    ["spec.dhcp.lease", "", /spec\.dhcp\.lease: expected a string/],
    ["spec.uplink", undefined, /spec\.uplink: expected an object, got nothing/],
    ["spec.uplink.bridge", "", /spec\.uplink\.bridge: expected an interface name/],
    ["spec.uplink.address.prefix", "24", /spec\.uplink\.address\.prefix: expected an integer 0-32/],
    ["spec.uplink.gateway", 2 ** 32, /spec\.uplink\.gateway: expected an integer 0-4294967295/],
    ["spec.uplink.mac", "02:76:C6:33:64:0A", /spec\.uplink\.mac: expected a lower-case MAC address/],
    ["spec.uplink.attach", "tap", /spec\.uplink\.attach: expected "veth" or "macvlan"/],
    ["spec.dns", "198.18.0.10", /spec\.dns: expected a list/],
    ["spec.dns[0]", "198.18.0.10", /spec\.dns\[0\]: expected an integer/],
    ["spec.forwards", {}, /spec\.forwards: expected a list/],
    ["spec.forwards[0].proto", "sctp", /spec\.forwards\[0\]\.proto: expected "tcp" or "udp"/],
    ["spec.forwards[0].port", 0, /spec\.forwards\[0\]\.port: expected an integer 1-65535, got 0/],
    ["spec.forwards[0].portEnd", 65536, /spec\.forwards\[0\]\.portEnd: expected an integer 1-65535/],
    ["spec.forwards[0].to", undefined, /spec\.forwards\[0\]\.to: expected an integer/],
    ["spec.forwards[0].toPort", "80", /spec\.forwards\[0\]\.toPort: expected an integer/],
    ["spec.floating[0].address", null, /spec\.floating\[0\]\.address: expected an integer/],
    ["spec.floating[0].to", true, /spec\.floating\[0\]\.to: expected an integer/],
    ["spec.hosts[0].mac", "nope", /spec\.hosts\[0\]\.mac: expected a lower-case MAC address/],
    ["spec.hosts[0].ip", undefined, /spec\.hosts\[0\]\.ip: expected an integer/],
    ["spec.hosts[0].name", "", /spec\.hosts\[0\]\.name: expected a string/],
    ["spec.isolation.host", "closed", /spec\.isolation\.host: expected "blocked" or "open"/],
    ["spec.isolation.provider", undefined, /spec\.isolation\.provider: expected "blocked" or "open", got nothing/],
  ];
  for (const [path, value, pattern] of cases)
    test(`${path} = ${JSON.stringify(value) ?? "(absent)"}: refused in one line naming it`, () => {
      refused(text(withField(path, value)), pattern);
      // the previous version is held to the same schema
      refused(text(without(withField(path, value), "version")), pattern);
    });

  test("hostile text in a field is shown made safe and short", () => {
    refused(text(withField("phase", "a\nb\u202ec" + "x".repeat(200))), /phase: expected .*, got 'a\\nb\?cx+…$/);
  });
});

test("linkRecordOf: what a file that fails the schema still records (an older vnat's), strings only", () => {
  const older = JSON.stringify({
    name: "a",
    spec: { name: "a", names: { netns: "vnat-a", lanHost: "vnl-1", uplinkHost: "vnu-2" } },
  });
  assert.deepEqual(linkRecordOf(older), { spec: { names: { lanHost: "vnl-1", uplinkHost: "vnu-2" } } });
  assert.deepEqual(
    linkRecordOf(JSON.stringify({ attach: { lan: "macvlan", uplink: "veth" }, spec: { names: { uplinkHost: 7 } } })),
    { attach: { lan: "macvlan", uplink: "veth" }, spec: { names: { lanHost: undefined, uplinkHost: undefined } } },
  );
  assert.deepEqual(linkRecordOf(JSON.stringify({ attach: { lan: "ipvlan", uplink: "veth" } })), {});
  for (const bad of ["{", "[]", "null", '"x"', "3"]) assert.equal(linkRecordOf(bad), undefined, bad);
});
