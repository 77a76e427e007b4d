// The entry the shell hook's fast path reads (hooks/network): every line a check the shell
// can make with builtins, named so a network's own entries can be told from another's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { cacheEntryName, HASH_RE, hookCacheKey, renderCacheEntry, startHookData } from "../../src/core/hookcache.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { kernelNames } from "../../src/core/names.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { hookData } from "../support/fixtures.ts";

const floating = `<vnat:floating address="198.51.100.77" to="10.0.0.5"/>`;
const spec = buildSpec(
  parseHookData(
    hookData({
      name: "net1",
      bridge: "virbr7",
      uplinkBridge: "br-prov",
      uplink: "198.51.100.21/24",
      gateway: "198.51.100.1",
      extraMetadata: floating,
    }),
  ).network,
  EMPTY_CONFIG,
);

describe("hook cache entry", () => {
  test("names the config, the bridges, every claim and every kernel name", () => {
    const k = kernelNames("net1");
    assert.equal(
      renderCacheEntry(spec, "c".repeat(64), "f".repeat(64)),
      [
        `config ${"c".repeat(64)}`,
        `fib ${"f".repeat(64)}`,
        "bridge br-prov",
        "claim br-prov@198.51.100.21",
        "claim br-prov@198.51.100.77",
        "dad br-prov 198.51.100.21",
        "dad br-prov 198.51.100.77",
        `netns ${k.netns}`,
        `link ${k.lanHost}`,
        `link ${k.uplinkHost}`,
        "",
      ].join("\n"),
    );
  });
  test("an IPv6 network: its uplink6, floating6 and nptv6 /64 claimed, and looked up among the host's own addresses", () => {
    const v6 = buildSpec(
      parseHookData(
        hookData({
          name: "net1",
          bridge: "virbr7",
          uplinkBridge: "br-prov",
          uplink: "198.51.100.21/24",
          gateway: "198.51.100.1",
          extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::21/64" gateway="2001:db8:100::1" mode="nptv6" prefix="2001:db8:101::/64"/><vnat:floating6 address="2001:db8:100::77" to="fd00:a::5"/>`,
        }),
      ).network,
      EMPTY_CONFIG,
    );
    const lines = renderCacheEntry(v6, "c".repeat(64), "f".repeat(64)).split("\n");
    assert.deepEqual(
      lines.filter((l) => /^claim .*:|^hostip /.test(l)),
      [
        "claim br-prov@2001:db8:100::21",
        "claim br-prov@2001:db8:100::77",
        "claim br-prov@2001:db8:101::",
        "hostip 20010db8010000000000000000000021",
        "hostip 20010db8010000000000000000000077",
        "hostip 20010db8010100000000000000000000",
      ],
    );
  });
  test("file name: NAME.HASH", () => {
    const key = "a".repeat(64);
    assert.equal(cacheEntryName("a.b", key), `a.b.${key}`);
    assert.ok(HASH_RE.test(key));
    assert.ok(!HASH_RE.test("../x"));
  });
});

describe("the document libvirt sends at start begin", () => {
  test("net-dumpxml's text, indented two spaces inside <hookData>, no trailing newline", () => {
    const xml = "<network>\n  <name>a</name>\n  <bridge name='virbr1'/>\n</network>\n\n";
    assert.equal(
      startHookData(xml),
      "<hookData>\n  <network>\n    <name>a</name>\n    <bridge name='virbr1'/>\n  </network>\n</hookData>",
    );
  });
  test("the key: sha256 of BUILD_ID, newline, the data without trailing newlines, newline", () => {
    // printf 'b1\n<x/>\n' | sha256sum
    assert.equal(hookCacheKey("b1", "<x/>\n\n"), hookCacheKey("b1", "<x/>"));
    assert.equal(hookCacheKey("b1", "<x/>"), "73df0cb7c4dcb1117690a5759a6f2cc675d39aa498b3e1020ea59ed9822e1625");
  });
});
