// Segments (issue 19): the metadata element, its validation (hostile input: one line naming
// the object and what is allowed), the model edits `vnat attach/detach` make, the veth names.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG, parseConfig } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { modelFromMetadata, renderMetadata } from "../../src/core/input/metadata.ts";
import { parseXml } from "../../src/core/input/xml.ts";
import { parseState } from "../../src/core/input/state-schema.ts";
import {
  addSegment,
  diffSegments,
  MAX_SEGMENTS,
  parseSegmentArg,
  removeSegment,
  segmentModel,
} from "../../src/core/input/segments.ts";
import { isSegmentLink, segmentLinkNames } from "../../src/core/names.ts";
import {
  defaultRouteDevices,
  dockerBridgeOf,
  parseSegmentRecords,
  takenAddrsOf,
} from "../../src/core/input/segments.ts";
import { refuseTakenSegment } from "../../src/core/edit/segments.ts";
import { segmentsStage } from "../../src/core/plan/segments.ts";
import { planStart } from "../../src/core/plan/start.ts";
import { formatPlan } from "../../src/core/plan/plan.ts";
import { netPaths } from "../../src/core/paths.ts";
import { segmentReasons, segmentsToRepair } from "../../src/core/judge/segments.ts";
import { segmentDoc } from "../../src/core/observe/segments.ts";
import type { NetObservation } from "../../src/core/observe/observed.ts";
import { formatShow, settingsDoc, showDoc } from "../../src/core/observe/netshow.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";

const base: NetOpts = {
  name: "net1",
  bridge: "virbr7",
  uplinkBridge: "br0",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
  dns: ["198.18.0.10"],
};

const spec = (segments: string) =>
  buildSpec(parseHookData(hookData({ ...base, extraMetadata: segments })).network, EMPTY_CONFIG);

function refuses(segments: string, message: string): void {
  assert.throws(
    () => spec(segments),
    (e: unknown) => {
      assert.ok(e instanceof VnatError, `expected VnatError, got ${String(e)}`);
      assert.equal(e.kind, "invalid-input");
      assert.equal(e.message, message);
      assert.ok(!e.message.includes("\n"));
      return true;
    },
  );
}

describe("segments in the metadata", () => {
  test("bridge, tap and docker segments", () => {
    const s = spec(
      `<vnat:segment kind="bridge" name="br-x" take-addresses="yes"/><vnat:segment kind="tap" name="tap3"/>` +
        `<vnat:segment kind="docker" name="lab.1" bridge="br-0123456789ab"/>`,
    );
    assert.deepEqual(s.segments, [
      { kind: "bridge", name: "br-x", device: "br-x", takeAddresses: true },
      { kind: "tap", name: "tap3", device: "tap3" },
      { kind: "docker", name: "lab.1", device: "br-0123456789ab" },
    ]);
  });

  test("none: no segments field (the spec of a network without them is unchanged)", () => {
    assert.equal("segments" in spec(""), false);
    assert.deepEqual(spec(`<vnat:segment kind="bridge" name="br-x" take-addresses="no"/>`).segments, [
      { kind: "bridge", name: "br-x", device: "br-x" },
    ]);
  });

  test("refusals", () => {
    const w = 'network "net1"';
    refuses(`<vnat:segment kind="vlan" name="x"/>`, `${w}: segment kind "vlan" (allowed: bridge, tap, docker)`);
    refuses(
      `<vnat:segment kind="bridge" name="-rf"/>`,
      `${w}: segment bridge "-rf": not an interface name (1-15 of letters, digits, "_", "." and "-")`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="a;reboot"/>`,
      `${w}: segment bridge "a;reboot": not an interface name (1-15 of letters, digits, "_", "." and "-")`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="virbr7"/>`,
      `${w}: segment bridge:virbr7 is the network's own bridge "virbr7" (attach another bridge)`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="br0"/>`,
      `${w}: segment bridge:br0 is the provider bridge "br0" (guests would sit on the provider network)`,
    );
    // another provider of the config: guests on that provider network, vnat's DHCP on it
    const config = parseConfig(
      "c.json",
      JSON.stringify({
        providers: [
          { bridge: "br0", gateway: "198.51.100.1/24" },
          { bridge: "br-p2", gateway: "198.51.101.1/24" },
        ],
      }),
    );
    assert.throws(
      () =>
        buildSpec(
          parseHookData(hookData({ ...base, extraMetadata: `<vnat:segment kind="bridge" name="br-p2"/>` })).network,
          config,
        ),
      (e: Error) =>
        e.message ===
        `${w}: segment bridge:br-p2 is provider bridge "br-p2" of the config (guests would sit on that provider network)`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="vnl-0123456789a"/>`,
      `${w}: segment bridge:vnl-0123456789a: "vnl-0123456789a" is one of vnat's own links`,
    );
    refuses(
      `<vnat:segment kind="tap" name="vsl-0123456789a"/>`,
      `${w}: segment tap:vsl-0123456789a: "vsl-0123456789a" is one of vnat's own links`,
    );
    refuses(
      `<vnat:segment kind="tap" name="t0" take-addresses="yes"/>`,
      `${w}: segment tap:t0: take-addresses is for bridges (bridge:, docker:), not taps`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="b" take-addresses="1"/>`,
      `${w}: segment bridge:b take-addresses="1" (expected "yes" or "no")`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="b" bridge="c"/>`,
      `${w}: segment bridge:b: bridge="…" is for docker segments only`,
    );
    refuses(
      `<vnat:segment kind="docker" name="lab"/>`,
      `${w}: segment docker:lab has no bridge="…" (vnat attach resolves it; attach it again)`,
    );
    refuses(
      `<vnat:segment kind="docker" name="-x" bridge="b"/>`,
      `${w}: docker network "-x": not a Docker network name (1-64 of letters, digits, "_", "." and "-", starting with a letter or digit)`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="b"/><vnat:segment kind="bridge" name="b"/>`,
      `${w}: segment bridge:b is attached twice`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="br-1"/><vnat:segment kind="docker" name="d" bridge="br-1"/>`,
      `${w}: segment docker:d is attached twice (as bridge:br-1: both are "br-1")`,
    );
    refuses(
      `<vnat:segment kind="bridge" name="b" mode="x"/>`,
      `${w}: <vnat:segment>: unknown attribute "mode" (allowed: kind, name, bridge, take-addresses)`,
    );
    refuses(
      Array.from({ length: MAX_SEGMENTS + 1 }, (_, i) => `<vnat:segment kind="tap" name="t${i}"/>`).join(""),
      `${w}: ${MAX_SEGMENTS + 1} segments (at most ${MAX_SEGMENTS})`,
    );
  });

  test("the model renders and reads back; the state schema keeps segments", () => {
    const m = modelFromMetadata(
      parseXml(
        "t",
        `<network xmlns:vnat="urn:vnat:network:1"><vnat:lan address="10.0.0.1/24"/><vnat:uplink address="198.51.100.11/24"/></network>`,
      ).network as never,
    );
    const next = { ...m, segments: addSegment(m.segments, segmentModel("docker", "lab", "br-0123456789ab", true)) };
    const xml = renderMetadata(next, "");
    assert.match(xml, /<vnat:segment kind="docker" name="lab" bridge="br-0123456789ab" take-addresses="yes"\/>/);
    const s = spec(`<vnat:segment kind="bridge" name="br-x" take-addresses="yes"/>`);
    const state = {
      version: 2,
      name: "net1",
      phase: "active",
      lanBridge: "virbr7",
      uplinkBridge: "br0",
      uplink: "198.51.100.11",
      netns: "vnat-net1",
      startedAt: new Date(0).toISOString(),
      spec: s,
    };
    assert.deepEqual(parseState("f", "net1", JSON.stringify(state)).spec?.segments, s.segments);
    assert.throws(
      () => parseState("f", "net1", JSON.stringify({ ...state, spec: { ...s, segments: [{ kind: "x" }] } })),
      /state file f: spec\.segments\[0\]\.kind: expected "bridge" or "tap" or "docker", got 'x'/,
    );
  });
});

describe("vnat attach/detach arguments and edits", () => {
  test("KIND:NAME", () => {
    assert.deepEqual(parseSegmentArg("bridge:br-x"), { kind: "bridge", name: "br-x" });
    assert.deepEqual(parseSegmentArg("tap:tap0"), { kind: "tap", name: "tap0" });
    assert.deepEqual(parseSegmentArg("docker:my_net.1"), { kind: "docker", name: "my_net.1" });
    for (const bad of ["br-x", "vlan:x", "bridge:", ":x"])
      assert.throws(
        () => parseSegmentArg(bad),
        new RegExp(`^VnatError: segment "${bad}": expected bridge:BRIDGE, tap:DEVICE or docker:NETWORK$`),
      );
    assert.throws(() => parseSegmentArg("tap:a b"), /segment tap "a b": not an interface name/);
    assert.throws(() => parseSegmentArg("docker:-x"), /segment docker:-x: not a Docker network name/);
  });

  test("add replaces the same segment, remove refuses one not attached", () => {
    const a = addSegment(undefined, segmentModel("bridge", "b1", undefined, false));
    const b = addSegment(a, segmentModel("bridge", "b1", undefined, true));
    assert.deepEqual(b, [{ kind: "bridge", name: "b1", takeAddresses: "yes" }]);
    assert.deepEqual(removeSegment('network "n"', b, "bridge", "b1"), []);
    assert.throws(
      () => removeSegment('network "n"', b, "tap", "b1"),
      /^VnatError: network "n": segment tap:b1 is not attached \(attached: bridge:b1\)$/,
    );
  });

  test("diff: by kind, name, device and take-addresses", () => {
    const x = { kind: "bridge" as const, name: "x", device: "x" };
    const d = { kind: "docker" as const, name: "d", device: "br-1" };
    assert.deepEqual(diffSegments([x], [x, d]), { add: [d], remove: [] });
    assert.deepEqual(diffSegments([x, d], [{ ...d, device: "br-2" }]), {
      add: [{ ...d, device: "br-2" }],
      remove: [x, d],
    });
  });

  test("veth names: ≤ 15, per network and device, recognised as vnat's", () => {
    const a = segmentLinkNames("net1", "br-x");
    assert.match(a.lan, /^vsl-[0-9a-f]{11}$/);
    assert.match(a.peer, /^vss-[0-9a-f]{11}$/);
    assert.equal(a.lan.slice(4), a.peer.slice(4));
    assert.notEqual(segmentLinkNames("net2", "br-x").lan, a.lan);
    assert.notEqual(segmentLinkNames("net1", "br-y").lan, a.lan);
    assert.ok(isSegmentLink(a.lan) && isSegmentLink(a.peer) && !isSegmentLink("vnl-0123456789a"));
  });
});

describe("docker, records, conflicts, the plan", () => {
  test("a Docker network's bridge: its bridge.name option, else br- and 12 digits of its id", () => {
    const id = "a22ea378cac3b4d330b6cb981db737aded317f415985951f59a12ffaa261472d";
    assert.equal(dockerBridgeOf("w", [{ Driver: "bridge", Id: id, Options: {} }]), "br-a22ea378cac3");
    assert.equal(
      dockerBridgeOf("w", [{ Driver: "bridge", Id: id, Options: { "com.docker.network.bridge.name": "docker0" } }]),
      "docker0",
    );
    assert.throws(() => dockerBridgeOf("w", []), /^VnatError: w: docker knows no such network$/);
    assert.throws(
      () => dockerBridgeOf("w", [{ Driver: "macvlan", Id: id }]),
      /^VnatError: w: driver "macvlan" \(only bridge networks have a Linux bridge\)$/,
    );
    assert.throws(
      () => dockerBridgeOf("w", [{ Driver: "bridge", Id: id, Options: { "com.docker.network.bridge.name": "a b" } }]),
      /w: bridge "a b": not an interface name/,
    );
  });

  test("records: well-formed entries only; addresses to take from ip -j addr", () => {
    const good = { kind: "bridge", name: "b", device: "b", lanBridge: "virbr1", links: segmentLinkNames("n", "b") };
    const { records, bad } = parseSegmentRecords(
      JSON.stringify([
        good,
        { ...good, links: { lan: "eth0", peer: "eth1" } },
        { ...good, device: "a;b" },
        { kind: "tap", name: "t", device: "t", lanBridge: "virbr1", tapWasUp: false },
        { ...good, taken: [{ family: "inet", cidr: "10.9.0.1/24; reboot" }] },
        { ...good, acceptRa: 2 },
        { ...good, acceptRa: "1; reboot" },
        { ...good, ifindex: 7 },
        { ...good, ifindex: 0 },
      ]),
    );
    assert.deepEqual(records, [
      good,
      { kind: "tap", name: "t", device: "t", lanBridge: "virbr1", tapWasUp: false },
      { ...good, acceptRa: 2 },
      { ...good, ifindex: 7 },
    ]);
    assert.equal(bad, 5);
    assert.deepEqual(parseSegmentRecords("nope"), { records: [], bad: 1 });
    assert.deepEqual(
      takenAddrsOf([
        {
          addr_info: [
            { family: "inet", local: "172.18.0.1", prefixlen: 16, broadcast: "172.18.255.255", scope: "global" },
            { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
            { family: "inet6", local: "2001:db8:100::1", prefixlen: 64, scope: "global" },
          ],
        },
      ]),
      [
        { family: "inet", cidr: "172.18.0.1/16", broadcast: "172.18.255.255" },
        { family: "inet6", cidr: "2001:db8:100::1/64" },
      ],
    );
  });

  test("the host's default routes name its uplinks (never a segment); reject routes and lo are not", () => {
    const route4 = [
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
      "br0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
      "vtb-1\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
      "blk\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0",
    ].join("\n");
    const z = "0".repeat(32);
    const route6 = [
      `${z} 00 ${z} 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     wg0`,
      `${z} 00 ${z} 00 ${z} ffffffff 00000001 00000000 00200200       lo`,
      `fd000000000000000000000000000000 40 ${z} 00 ${z} 00000100 00000001 00000000 00000001     vtb-2`,
    ].join("\n");
    assert.deepEqual([...defaultRouteDevices(route4, route6)].sort(), ["br0", "wg0"]);
    assert.deepEqual([...defaultRouteDevices("", "")], []);
  });

  test("attach refuses another vnat network's bridge, or a segment another vnat network holds", () => {
    const s = { kind: "bridge" as const, name: "br-x", device: "br-x" };
    const vnat = { uplink: { address: "" }, lan: { address: "" }, dns: [] };
    const conflictOf = (fn: () => void): string => {
      try {
        fn();
      } catch (e) {
        assert.ok(e instanceof VnatError && e.kind === "conflict");
        return e.message;
      }
      return "";
    };
    assert.equal(
      conflictOf(() => refuseTakenSegment("w", s, [{ name: "o", bridge: "br-x", vnat }])),
      'w: segment bridge:br-x: "br-x" is the bridge of vnat network "o"',
    );
    assert.equal(
      conflictOf(() =>
        refuseTakenSegment("w", s, [
          { name: "o", bridge: "virbr9", vnat: { ...vnat, segments: [{ kind: "docker", name: "d", bridge: "br-x" }] } },
        ]),
      ),
      'w: segment bridge:br-x is already attached to vnat network "o" (as docker:d; vnat detach o docker:d first)',
    );
    // a libvirt network that is not vnat's is none of vnat's business
    assert.equal(
      conflictOf(() => refuseTakenSegment("w", s, [{ name: "default", bridge: "br-x" }])),
      "",
    );
  });

  test("the start attaches segments after the ruleset and before dnsmasq, undone from the record", () => {
    const sp = spec(`<vnat:segment kind="bridge" name="br-x"/><vnat:segment kind="tap" name="tap3"/>`);
    assert.deepEqual(segmentsStage(spec("")), []);
    const roots = { run: "/run/vnat", config: "/etc/vnat/config.json", log: "/var/log/vnat" };
    const text = formatPlan(
      planStart(sp, netPaths(roots, sp.name), { attach: { lan: "veth", uplink: "veth" }, hostAddrs: [] }),
    );
    const stages = text.split("\n").filter((l) => l.startsWith("stage "));
    const at = stages.findIndex((l) => l.endsWith(": segments"));
    assert.ok(at > 0, text);
    assert.match(stages[at - 1]!, /nftables/);
    assert.match(stages[at + 1]!, /: dnsmasq$/);
    assert.match(
      text,
      /attach segments bridge:br-x@br-x tap:tap3@tap3 to virbr7\n\s+undo \(registered first\): detach segments bridge:br-x tap:tap3/,
    );
  });
});

describe("drift of segments", () => {
  test("a device that went away is segment-missing (not repaired); one that is there but unplugged is segment-detached (repaired)", () => {
    const sp = spec(
      `<vnat:segment kind="bridge" name="br-x"/><vnat:segment kind="tap" name="tap3"/><vnat:segment kind="docker" name="d" bridge="br-0123456789ab"/>`,
    );
    const o = {
      spec: sp,
      segments: [
        { kind: "bridge", name: "br-x", device: "br-x", present: false, attached: false },
        { kind: "tap", name: "tap3", device: "tap3", present: true, attached: false },
        { kind: "docker", name: "d", device: "br-0123456789ab", present: true, attached: true },
      ],
    } as unknown as NetObservation;
    assert.deepEqual(segmentReasons(o), [
      { code: "segment-missing", message: 'segment bridge:br-x: "br-x" is gone' },
      { code: "segment-detached", message: 'segment tap:tap3: "tap3" is no longer patched into virbr7' },
    ]);
    assert.deepEqual(
      segmentsToRepair(o, sp).map((s) => s.name),
      ["tap3"],
    );
    assert.deepEqual(segmentDoc(o.segments![2]!), {
      kind: "docker",
      name: "d",
      device: "br-0123456789ab",
      present: true,
      attached: true,
    });
    assert.deepEqual(segmentReasons({ spec: sp } as unknown as NetObservation), []);
  });
});

describe("net show", () => {
  test("lists segments when there are any; a running value that differs is shown beside", () => {
    const configured = spec(
      `<vnat:segment kind="bridge" name="br-x"/><vnat:segment kind="docker" name="lab" bridge="br-0123456789ab" take-addresses="yes"/>`,
    );
    const running = spec(`<vnat:segment kind="bridge" name="br-x"/>`);
    assert.deepEqual(settingsDoc(configured).segments, [
      "bridge:br-x",
      "docker:lab (bridge br-0123456789ab) take-addresses",
    ]);
    assert.equal("segments" in settingsDoc(spec("")), false);
    const text = formatShow(showDoc("net1", { spec: configured }, running, undefined, []));
    assert.match(
      text,
      /\n {2}segments {3}bridge:br-x, docker:lab \(bridge br-0123456789ab\) take-addresses {3}\(running: bridge:br-x\)\n/,
    );
    assert.doesNotMatch(formatShow(showDoc("net1", { spec: spec("") }, undefined, undefined, [])), /segments/);
  });
});
