import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  contains6,
  eui64,
  formatCidr6,
  formatIp6,
  formatSubnet6,
  hostPart6,
  isUla6,
  mask6,
  nonUnicast6,
  overlaps6,
  parseCidr6,
  parseIp6,
  requireCidr6,
  requireHost6,
  requireIp6,
  requireRange6,
  translate6,
} from "../../src/core/ipv6.ts";
import { VnatError } from "../../src/core/errors.ts";

const ip = (t: string): bigint => {
  const v = parseIp6(t);
  assert.notEqual(v, undefined, t);
  return v!;
};

describe("ipv6 parse and format", () => {
  const canonical: Array<[string, string]> = [
    ["::", "::"],
    ["::1", "::1"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of two equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not compressed
    ["fd00:a::", "fd00:a::"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1::", "1::"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // the longer run
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ];
  for (const [text, out] of canonical)
    test(`${JSON.stringify(text)} → ${out}`, () => assert.equal(formatIp6(ip(text)), out));

  const hostile = [
    "",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::8",
    "12345::1",
    "g::1",
    "fe80::1%eth0",
    " ::1",
    "::1 ",
    "::1\n",
    "0x1::",
    "1.2.3.4",
    "::1.2.3",
    "::256.1.1.1",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "::1/64",
    "-1::",
    "+1::",
    "１::1", // a full-width digit
    "a".repeat(46),
    "1:2:3:4:5:6:7:" + "8".repeat(40),
  ];
  for (const text of hostile) test(`refuses ${JSON.stringify(text)}`, () => assert.equal(parseIp6(text), undefined));
  test("refuses non-strings", () => assert.equal(parseIp6(undefined as unknown as string), undefined));

  test("round trip of random addresses", () => {
    let x = 0x9e3779b97f4a7c15n;
    for (let i = 0; i < 500; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 128n) - 1n);
      // zero some words so compression is exercised
      const v = i % 3 === 0 ? x & 0xffff0000ffff00000000ffffffff0000n : x;
      assert.equal(parseIp6(formatIp6(v)), v);
    }
  });
});

describe("ipv6 prefixes", () => {
  test("parseCidr6", () => {
    assert.deepEqual(parseCidr6("fd00:a::1/64"), { address: ip("fd00:a::1"), prefix: 64 });
    assert.equal(parseCidr6("fd00:a::1/129"), undefined);
    assert.equal(parseCidr6("fd00:a::1/064"), undefined);
    assert.equal(parseCidr6("fd00:a::1"), undefined);
    assert.equal(parseCidr6("fd00:a::1/"), undefined);
    assert.equal(parseCidr6("10.0.0.1/24"), undefined);
  });
  test("masks", () => {
    assert.equal(mask6(0), 0n);
    assert.equal(mask6(128), (1n << 128n) - 1n);
    assert.equal(formatIp6(mask6(64)), "ffff:ffff:ffff:ffff::");
  });
  test("contains, overlaps, subnet, host part", () => {
    const c = parseCidr6("2001:db8:100::10/64")!;
    assert.ok(contains6(c, ip("2001:db8:100::ffff")));
    assert.ok(!contains6(c, ip("2001:db8:100:1::1")));
    assert.equal(formatSubnet6(c), "2001:db8:100::/64");
    assert.equal(formatCidr6(c), "2001:db8:100::10/64");
    assert.equal(hostPart6(c), 0x10n);
    assert.ok(overlaps6(c, parseCidr6("2001:db8::/32")!));
    assert.ok(!overlaps6(c, parseCidr6("2001:db8:100:1::/64")!));
  });
  test("translate6 maps the host part onto another prefix", () => {
    const to = parseCidr6("2001:db8:100:1::/64")!;
    assert.equal(formatIp6(translate6(ip("fd00:a::5054:ff:fe00:1"), to)), "2001:db8:100:1:5054:ff:fe00:1");
  });
  test("kinds", () => {
    assert.ok(isUla6(ip("fd00:a::1")));
    assert.ok(!isUla6(ip("2001:db8::1")));
    assert.equal(nonUnicast6(ip("fe80::1")), "a link-local address");
    assert.equal(nonUnicast6(ip("ff02::1")), "a multicast address");
    assert.equal(nonUnicast6(0n), "the unspecified address");
    assert.equal(nonUnicast6(1n), "the loopback address");
    assert.equal(nonUnicast6(ip("::ffff:10.0.0.1")), "an IPv4-mapped address");
    assert.equal(nonUnicast6(ip("2001:db8::1")), undefined);
  });
  test("eui64", () => {
    const p = parseCidr6("fd00:a::1/64")!;
    assert.equal(formatIp6(eui64(p, "52:54:00:12:34:56")), "fd00:a::5054:ff:fe12:3456");
    assert.throws(() => eui64(p, "52:54:00"));
  });
});

describe("ipv6 refusals are one line naming the field", () => {
  const oneLine = (fn: () => unknown, re: RegExp): void =>
    assert.throws(fn, (e: unknown) => e instanceof VnatError && !e.message.includes("\n") && re.test(e.message));
  test("requireIp6", () => {
    assert.equal(requireIp6("x", "::1"), 1n);
    oneLine(() => requireIp6("uplink6 gateway", "2001:db8::g"), /^uplink6 gateway "2001:db8::g": not an IPv6/);
    oneLine(() => requireIp6("f", "a\nb"), /not an IPv6/);
  });
  test("requireCidr6", () => {
    assert.equal(requireCidr6("x", "fd00::1/64").prefix, 64);
    oneLine(() => requireCidr6("lan6", "fd00::1/80", 64, 64), /prefix \/80 not allowed \(expected \/64\)/);
    oneLine(() => requireCidr6("lan6", "fd00::1"), /not an IPv6 address with prefix/);
  });
  test("requireHost6", () => {
    const c = parseCidr6("fd00:a::/64")!;
    oneLine(() => requireHost6("lan6 address", c), /subnet-router anycast address of fd00:a::\/64/);
    oneLine(() => requireHost6("lan6 address", parseCidr6("fe80::1/64")!), /link-local/);
    requireHost6("ok", parseCidr6("fd00:a::1/64")!);
  });
  test("requireRange6", () => {
    assert.deepEqual(requireRange6("pool6", "2001:db8::10-2001:db8::1f"), {
      start: ip("2001:db8::10"),
      end: ip("2001:db8::1f"),
    });
    oneLine(() => requireRange6("pool6", "2001:db8::1f-2001:db8::10"), /start is after end/);
    oneLine(() => requireRange6("pool6", "2001:db8::1"), /not an IPv6 address range/);
  });
});
