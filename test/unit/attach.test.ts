// How vnat's namespace attaches to its bridges (core/input/attach.ts): the "auto" rule and the
// parser of `bridge -j fdb show`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  callsIptables,
  fdbAddLine,
  fdbDelLine,
  inferAttachments,
  MACVLAN_FRIENDLY,
  parseFdbLocals,
  resolveAttachments,
} from "../../src/core/input/attach.ts";
import { isVnatMac, lanMac } from "../../src/core/names.ts";

describe("attachments", () => {
  test("auto: macvlans unless the bridge calls iptables (either side) or the provider bridge has an address", () => {
    const f = (uplinkHasAddress: boolean, lanCallsIptables: boolean, uplinkCallsIptables: boolean) => ({
      uplinkHasAddress,
      lanCallsIptables,
      uplinkCallsIptables,
    });
    assert.deepEqual(resolveAttachments(undefined, MACVLAN_FRIENDLY), { lan: "macvlan", uplink: "macvlan" });
    assert.deepEqual(resolveAttachments("auto", f(true, false, false)), { lan: "macvlan", uplink: "veth" });
    assert.deepEqual(resolveAttachments("auto", f(false, true, false)), { lan: "veth", uplink: "macvlan" });
    assert.deepEqual(resolveAttachments("auto", f(false, false, true)), { lan: "macvlan", uplink: "veth" });
    assert.deepEqual(resolveAttachments(undefined, f(false, true, true)), { lan: "veth", uplink: "veth" });
  });

  test("a provider's forced kind holds for the uplink only; the LAN side still follows its bridge", () => {
    const all = { uplinkHasAddress: true, lanCallsIptables: true, uplinkCallsIptables: true };
    assert.deepEqual(resolveAttachments("macvlan", all), { lan: "veth", uplink: "macvlan" });
    assert.deepEqual(resolveAttachments("veth", MACVLAN_FRIENDLY), { lan: "macvlan", uplink: "veth" });
  });

  test("a bridge calls iptables when br_netfilter's global switch or its own is on", () => {
    assert.equal(callsIptables(null, null), false);
    assert.equal(callsIptables(false, false), false);
    assert.equal(callsIptables(true, false), true);
    assert.equal(callsIptables(false, true), true);
    assert.equal(callsIptables(null, true), true);
  });

  test("without a record: a present host veth says veth, otherwise what a start would make", () => {
    assert.deepEqual(inferAttachments(true, true, undefined), { lan: "veth", uplink: "veth" });
    assert.deepEqual(inferAttachments(false, false, undefined), { lan: "macvlan", uplink: "macvlan" });
    assert.deepEqual(inferAttachments(false, false, "veth"), { lan: "macvlan", uplink: "veth" });
  });

  test("lan0's MAC is stable, locally administered, and recognisably vnat's", () => {
    assert.equal(lanMac("net1"), lanMac("net1"));
    assert.notEqual(lanMac("net1"), lanMac("net2"));
    assert.match(lanMac("net1"), /^02:77(:[0-9a-f]{2}){4}$/);
    assert.ok(isVnatMac(lanMac("net1")) && isVnatMac("02:76:c6:33:64:0a") && !isVnatMac("52:54:00:12:34:56"));
  });

  test("only bridge-local permanent entries count: not ports' entries, not the device's own address lists", () => {
    const json = JSON.stringify([
      { mac: "02:77:00:00:00:01", ifname: "virbr5", flags: ["self"], state: "permanent" },
      { mac: "02:77:00:00:00:01", ifname: "virbr5", flags: [], master: "virbr5", state: "permanent" },
      { mac: "52:54:00:00:00:02", ifname: "vnet0", flags: [], master: "virbr5", state: "permanent" },
      { mac: "52:54:00:00:00:03", ifname: "vnet0", flags: [], master: "virbr5" },
      { mac: "02:76:C6:33:64:0A", ifname: "br0", flags: [], master: "br0", state: "permanent" },
    ]);
    assert.deepEqual([...parseFdbLocals(json)], ["virbr5 02:77:00:00:00:01", "br0 02:76:c6:33:64:0a"]);
    assert.deepEqual([...parseFdbLocals("")], []);
  });

  test("bridge -batch lines", () => {
    const e = { bridge: "br0", mac: "02:76:c6:33:64:0a" };
    assert.equal(fdbAddLine(e), "fdb replace 02:76:c6:33:64:0a dev br0 self local");
    assert.equal(fdbDelLine(e), "fdb del 02:76:c6:33:64:0a dev br0 self");
  });
});
