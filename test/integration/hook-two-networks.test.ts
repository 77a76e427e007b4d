// Issue 2's main proof: two networks that both use 10.0.0.0/24, each NATed in its own
// namespace, driven through hooks/network exactly as libvirt calls it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { kernelNames, lanMac, uplinkMac } from "../../src/core/names.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { hookData, portXml, type NetOpts } from "../support/fixtures.ts";
import { attachmentOf, fdbLocals, runHook, vnatDebris } from "../support/hook.ts";
import { nsExec, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

// This file proves the macvlan attachment: as on a host without br_netfilter, where "auto"
// makes macvlans (core/input/attach.ts; host-conntrack.test.ts proves the veth pairs made where
// bridges pass their frames to iptables)
process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = "0";

const tag = randomBytes(2).toString("hex");
let world: World;
const nets: NetOpts[] = [];

before(async () => {
  world = await createWorld();
  for (const [i, uplink] of [
    [1, "198.51.100.11"],
    [2, "198.51.100.12"],
  ] as const) {
    nets.push({
      name: `t${tag}n${i}`,
      bridge: await world.addLanBridge(),
      uplinkBridge: world.providerBridge,
      uplink: `${uplink}/24`,
      gateway: world.providerGateway,
      dns: [world.upstreamDns],
      dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
    });
  }
});

after(async () => {
  for (const n of nets) await runHook(n.name, "stopped", "end", hookData(n));
  await world?.destroy();
  for (const n of nets) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

describe("two networks sharing 10.0.0.0/24", () => {
  test("start begin validates and touches nothing", async () => {
    for (const n of nets) {
      const r = await runHook(n.name, "start", "begin", hookData(n));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, "");
      assert.deepEqual(vnatDebris(n.name), []);
    }
  });

  test("started builds each namespace and announces the uplink", async () => {
    for (const n of nets) {
      const r = await runHook(n.name, "started", "begin", hookData(n));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout + r.stderr, "");
      const ns = kernelNames(n.name).netns;
      const addrs = JSON.parse((await nsExec(ns, "ip", ["-j", "addr"], { check: true })).stdout) as Array<{
        ifname: string;
        address: string;
        addr_info: Array<{ local: string; prefixlen: number; family: string }>;
      }>;
      const v4 = (ifname: string) =>
        addrs
          .find((a) => a.ifname === ifname)
          ?.addr_info.filter((i) => i.family === "inet")
          .map((i) => `${i.local}/${i.prefixlen}`);
      assert.deepEqual(v4("lan0"), ["10.0.0.1/24"]);
      assert.deepEqual(v4("wan0"), [n.uplink]);
      assert.equal(addrs.find((a) => a.ifname === "wan0")?.address, uplinkMac(parseIp(n.uplink!.split("/")[0]!)!));
      const ruleset = (await nsExec(ns, "nft", ["list", "table", "ip", "vnat"], { check: true })).stdout;
      assert.match(ruleset, new RegExp(`snat to ${n.uplink!.split("/")[0]!.replace(/\./g, "\\.")}`));
      // both links are macvlans of the right bridges (the provider bridge has no host
      // address), each MAC a static local entry there, and no host-side veth is made
      assert.deepEqual(attachmentOf(ns, "lan0"), { kind: "macvlan", lower: n.bridge });
      assert.deepEqual(attachmentOf(ns, "wan0"), { kind: "macvlan", lower: world.providerBridge });
      assert.equal(addrs.find((a) => a.ifname === "lan0")?.address, lanMac(n.name));
      const fdb = fdbLocals();
      assert.ok(fdb.has(`${n.bridge} ${lanMac(n.name)}`), `fdb entry for lan0 on ${n.bridge}`);
      assert.ok(
        fdb.has(`${world.providerBridge} ${uplinkMac(parseIp(n.uplink!.split("/")[0]!)!)}`),
        "fdb entry for wan0",
      );
      const k = kernelNames(n.name);
      assert.ok(!existsSync(`/sys/class/net/${k.lanHost}`) && !existsSync(`/sys/class/net/${k.uplinkHost}`));
    }
    // gratuitous ARP: the router knows both uplinks (with vnat's MACs) before any guest traffic
    for (const n of nets) {
      const ip = n.uplink!.split("/")[0]!;
      const entry = await waitFor(
        async () => (await world.routerNeighbours()).find((e) => e.ip === ip),
        3000,
        `router neighbour entry for ${ip}`,
      );
      assert.equal(entry.mac, uplinkMac(parseIp(ip)!));
    }
  });

  test("a guest on each network leases, resolves and fetches through its own uplink", async () => {
    const seen: string[] = [];
    for (const n of nets) {
      const guest = await world.addGuest(n.bridge);
      const lease = await guest.dhcp();
      assert.equal(lease.prefix, 24);
      assert.ok(parseIp(lease.ip)! >= parseIp("10.0.0.100")! && parseIp(lease.ip)! <= parseIp("10.0.0.200")!, lease.ip);
      assert.equal(lease.router, "10.0.0.1");
      assert.deepEqual(lease.dns, ["10.0.0.1"]);
      assert.equal(await guest.resolve(world.dnsName), world.internetIp);
      const body = await guest.fetch(`http://${world.dnsName}/`);
      assert.equal(body.trim(), n.uplink!.split("/")[0]);
      seen.push(body.trim());
    }
    assert.deepEqual(seen, ["198.51.100.11", "198.51.100.12"]);
    const sources = await world.serverSources();
    assert.ok(sources.includes("198.51.100.11") && sources.includes("198.51.100.12"), sources.join(","));
    assert.equal(await world.privateSourcePackets(), 0, "the upstream router saw a 10.x source");
  });

  test("guest port events are recorded and are harmless to repeat", async () => {
    const n = nets[0]!;
    for (let i = 0; i < 2; i++) {
      const r = await runHook(n.name, "port-created", "begin", hookData(n, portXml("52:54:00:12:34:56")));
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const del = await runHook(n.name, "port-deleted", "begin", hookData(n, portXml("52:54:00:12:34:56")));
    assert.equal(del.exitCode, 0, del.stderr);
  });

  test("stopped removes everything, and running it twice is fine", async () => {
    for (const n of nets) {
      for (let i = 0; i < 2; i++) {
        const r = await runHook(n.name, "stopped", "end", hookData(n));
        assert.equal(r.exitCode, 0, r.stderr);
      }
      assert.deepEqual(vnatDebris(n.name), []);
      // the provider bridge outlives the network: its entry for the uplink's MAC must go too
      const mac = uplinkMac(parseIp(n.uplink!.split("/")[0]!)!);
      assert.ok(!fdbLocals().has(`${world.providerBridge} ${mac}`), `fdb entry ${mac} left on the provider bridge`);
    }
  });
});
