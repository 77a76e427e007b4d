// The IPv6 metadata elements survive every edit that rewrites <vnat:network> (core/input/metadata6.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { modelFromMetadata, renderMetadata } from "../../src/core/input/metadata.ts";
import { model6FromMetadata, renderMetadata6 } from "../../src/core/input/metadata6.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { hookData } from "../support/fixtures.ts";

const V6 =
  `<vnat:lan6 address="fd00:a::1/64" dhcp6="yes"/>` +
  `<vnat:uplink6 address="2001:db8:100::11/64" gateway="fe80::1" mode="nptv6" prefix="2001:db8:301::/64"/>` +
  `<vnat:dns6 upstream="2001:db8:200::53"/>` +
  `<vnat:forward6 proto="udp" port="53" to="fd00:a::10" to-port="5353"/><vnat:forward6 port="22" to="fd00:a::11"/>` +
  `<vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/>`;
const md = (extra: string) =>
  parseHookData(hookData({ name: "m6", bridge: "virbr9", uplink: "198.51.100.11/24", extraMetadata: extra })).network
    .metadata!;

test("a v4-only network's model has no IPv6 keys and renders as before", () => {
  const m = modelFromMetadata(md(""));
  assert.deepEqual(model6FromMetadata(md("")), {});
  assert.doesNotMatch(renderMetadata(m), /6/);
});

test("model and rendering round-trip every IPv6 element and attribute", () => {
  const m = modelFromMetadata(md(V6));
  assert.deepEqual(m.lan6, { address: "fd00:a::1/64", dhcp6: "yes" });
  assert.deepEqual(m.uplink6, {
    address: "2001:db8:100::11/64",
    gateway: "fe80::1",
    mode: "nptv6",
    prefix: "2001:db8:301::/64",
  });
  assert.deepEqual(m.forwards6, [
    { proto: "udp", port: "53", to: "fd00:a::10", toPort: "5353" },
    { port: "22", to: "fd00:a::11" },
  ]);
  const xml = renderMetadata(m);
  const again = parseHookData(
    `<hookData><network><name>m6</name><bridge name="virbr9"/><metadata>${xml}</metadata></network></hookData>`,
  ).network.metadata!;
  assert.deepEqual(modelFromMetadata(again), m);
  assert.deepEqual(
    renderMetadata6({ lan6: { address: "fd00:a::1/64" } }, "  ", (p) => ` address="${p.address}"`),
    [`  <vnat:lan6 address="fd00:a::1/64"/>`],
  );
});
