// Segments (issue 19): the metadata element, its validation (hostile input: one line naming
// the object and what is allowed), the model edits `vnat attach/detach` make, the veth names.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
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
