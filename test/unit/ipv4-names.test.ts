import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { contains, formatIp, overlaps, parseCidr, parseIp } from "../../src/core/ipv4.ts";
import { hashName, isVnatLink, kernelNames, uplinkMac } from "../../src/core/names.ts";

describe("ipv4", () => {
  const ips: Array<[string, number | undefined]> = [
    ["0.0.0.0", 0],
    ["255.255.255.255", 0xffffffff],
    ["10.0.0.1", 0x0a000001],
    ["10.0.0.256", undefined],
    ["10.0.0", undefined],
    ["010.0.0.1", undefined],
    ["1.2.3.4 ", undefined],
    ["a.b.c.d", undefined],
  ];
  for (const [text, n] of ips) test(`parseIp ${JSON.stringify(text)}`, () => assert.equal(parseIp(text), n));
  test("round trip", () => assert.equal(formatIp(parseIp("198.51.100.11")!), "198.51.100.11"));
  test("cidr", () => {
    assert.deepEqual(parseCidr("10.0.0.1/24"), { address: 0x0a000001, prefix: 24 });
    assert.equal(parseCidr("10.0.0.1/33"), undefined);
    assert.equal(parseCidr("10.0.0.1"), undefined);
  });
  test("contains and overlaps", () => {
    const c = parseCidr("10.0.0.1/24")!;
    assert.ok(contains(c, parseIp("10.0.0.254")!));
    assert.ok(!contains(c, parseIp("10.0.1.1")!));
    assert.ok(overlaps(c, parseCidr("10.0.0.0/16")!));
    assert.ok(!overlaps(c, parseCidr("10.0.1.0/24")!));
  });
});

describe("names", () => {
  test("kernel names fit IFNAMSIZ and carry vnat's prefixes", () => {
    const n = kernelNames("a".repeat(32));
    assert.equal(n.netns, "vnat-" + "a".repeat(32));
    assert.ok(n.lanHost.length <= 15 && n.uplinkHost.length <= 15);
    assert.ok(isVnatLink(n.lanHost) && isVnatLink(n.uplinkHost));
    assert.equal(n.lanHost.slice(4), hashName("a".repeat(32)));
  });
  test("different networks get different host interface names", () =>
    assert.notEqual(kernelNames("net1").lanHost, kernelNames("net2").lanHost));
  test("the uplink MAC is locally administered and encodes the uplink address", () =>
    assert.equal(uplinkMac(parseIp("198.51.100.12")!), "02:76:c6:33:64:0c"));
});
