import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { contains, formatIp, overlaps, parseCidr, parseIp } from "../../src/core/ipv4.ts";
import {
  aliasOwner,
  hashName,
  hostLinkNames,
  isVnatLink,
  kernelNames,
  lanMac,
  legacyKernelNames,
  netnsName,
  netnsNetwork,
  NFT_TABLE,
  ownerAlias,
  uplinkMac,
} from "../../src/core/names.ts";
import * as render from "../../src/core/plan/render.ts";

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
  test("a network's namespace is vnat-NAME, and the name comes back from it", () => {
    assert.equal(netnsName("web.1"), "vnat-web.1");
    assert.equal(kernelNames("web.1").netns, netnsName("web.1"));
    assert.equal(netnsNetwork(netnsName("web.1")), "web.1");
    for (const ns of ["web.1", "vnat", "vnatx-web", "vt-router", "VNAT-web"])
      assert.equal(netnsNetwork(ns), undefined, ns);
  });
  test("vnat's nft table has one name: the renderer's is names.ts's", () => {
    assert.equal(NFT_TABLE, "vnat");
    // render.ts still exports its own constant (issue 14: it is to import this one); they must not drift
    assert.equal((render as Record<string, unknown>).NFT_TABLE ?? NFT_TABLE, NFT_TABLE);
  });
  test("kernel names fill IFNAMSIZ (15 characters: 44 bits of hash) and carry vnat's prefixes", () => {
    const n = kernelNames("a".repeat(32));
    assert.equal(n.netns, "vnat-" + "a".repeat(32));
    assert.equal(n.lanHost.length, 15);
    assert.equal(n.uplinkHost.length, 15);
    assert.ok(isVnatLink(n.lanHost) && isVnatLink(n.uplinkHost));
    assert.equal(n.lanHost, "vnl-" + hashName("a".repeat(32)));
    assert.equal(n.uplinkHost, "vnu-" + hashName("a".repeat(32)));
    assert.equal(hashName("a".repeat(32)).length, 11);
  });
  test("different networks get different host interface names", () =>
    assert.notEqual(kernelNames("net1").lanHost, kernelNames("net2").lanHost));
  test("two real names that shared their host links under the 32-bit hash no longer do", () => {
    const [a, b] = ["tenant-39588", "tenant-67738"];
    assert.equal(legacyKernelNames(a).uplinkHost, "vnu-b5fd70d4");
    assert.equal(legacyKernelNames(b).uplinkHost, "vnu-b5fd70d4");
    assert.equal(legacyKernelNames(a).lanHost, legacyKernelNames(b).lanHost);
    assert.deepEqual(kernelNames(a), {
      netns: "vnat-tenant-39588",
      lanHost: "vnl-b5fd70d430b",
      uplinkHost: "vnu-b5fd70d430b",
    });
    assert.deepEqual(kernelNames(b), {
      netns: "vnat-tenant-67738",
      lanHost: "vnl-b5fd70d4d31",
      uplinkHost: "vnu-b5fd70d4d31",
    });
    // the LAN MAC keeps its 32 bits (and its value): it lives on each network's own bridge
    assert.equal(lanMac(a), "02:77:b5:fd:70:d4");
    assert.equal(lanMac(b), lanMac(a));
  });
  test("an older vnat's link names are still vnat's, and teardown knows them", () => {
    const old = legacyKernelNames("golden");
    assert.deepEqual(old, { netns: "vnat-golden", lanHost: "vnl-dd56de41", uplinkHost: "vnu-dd56de41" });
    assert.ok(isVnatLink(old.lanHost) && isVnatLink(old.uplinkHost));
    assert.deepEqual(hostLinkNames("golden"), ["vnl-dd56de41379", "vnu-dd56de41379", "vnl-dd56de41", "vnu-dd56de41"]);
    for (const l of ["vnl-dd56de413", "vnu-dd56de41379a", "vnx-dd56de41379", "vnl-DD56DE41379", "eth0"])
      assert.ok(!isVnatLink(l), l);
  });
  test("the owner alias names the network, and only a network name is read back from one", () => {
    assert.equal(ownerAlias("tenant-39588"), "vnat:tenant-39588");
    assert.equal(aliasOwner("vnat:tenant-39588\n"), "tenant-39588");
    assert.equal(aliasOwner(ownerAlias("a".repeat(32))), "a".repeat(32));
    for (const other of [
      "",
      "\n",
      "vnat:",
      "vnat:-x",
      "vnat:a b",
      "vnat:" + "a".repeat(33),
      "other:net1",
      null,
      undefined,
    ])
      assert.equal(aliasOwner(other), undefined, String(other));
    assert.throws(() => ownerAlias("a b"), /only letters, digits/);
  });
  test("the uplink MAC is locally administered and encodes the uplink address", () =>
    assert.equal(uplinkMac(parseIp("198.51.100.12")!), "02:76:c6:33:64:0c"));
});
