// The uplink policy on the real kernel, through the hook as libvirt calls it: metadata alone
// cannot put an uplink where another host already answers (duplicate-address detection at
// `start begin`, by the shell's fast path as well as by Node), on one of this host's own
// addresses (a provider-side namespace stands in for the host: VNAT_HOST_NETNS), or on another
// vnat network's LAN bridge. Each refusal is one line, and nothing is built.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { cacheEntries, RUN_DIR, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";
import { unlink } from "node:fs/promises";

const tag = randomBytes(2).toString("hex");
let world: World;
const made: NetOpts[] = [];

before(async () => {
  world = await createWorld();
});

after(async () => {
  for (const n of made) {
    await runHook(n.name, "stopped", "end", hookData(n));
    for (const f of cacheEntries(n.name)) await unlink(`${RUN_DIR}/hook-cache/${f}`);
  }
  await world?.destroy();
  for (const n of made) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

async function net(suffix: string, uplink: string, extra: Partial<NetOpts> = {}): Promise<NetOpts> {
  const n = await sandboxNet(world, `t${tag}${suffix}`, uplink, extra);
  made.push(n);
  return n;
}

describe("uplink policy at start begin", () => {
  test("an address another host on the provider network answers for is refused, by the shell's fast path too", async () => {
    const n = await net("pd", "198.51.100.62/24");
    const first = await runHook(n.name, "start", "begin", hookData(n));
    assert.equal(first.exitCode, 0, first.stderr); // validated and remembered while the address is free
    const squatter = await world.addProviderHost("198.51.100.62");
    // the shell probes every time: an answer sends the event to Node (here a Node that fails)
    const shell = await runHook(n.name, "start", "begin", hookData(n), { VNAT_NODE: "/bin/false" });
    assert.notEqual(shell.exitCode, 0, "the shell must not answer 0 for an address another host holds");
    const r = await runHook(n.name, "start", "begin", hookData(n));
    assert.equal(r.exitCode, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^vnat: network "${n.name}": uplink 198\\.51\\.100\\.62 on bridge "${world.providerBridge}" is already answered for by [0-9a-f:]{17} \\(another host holds it; pick a free address\\)$`,
      ),
    );
    assert.ok(squatter);
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("one of this host's own addresses is refused", async () => {
    const hostNs = await world.addProviderHost("198.51.100.63");
    const n = await net("ph", "198.51.100.63/24");
    const r = await runHook(n.name, "start", "begin", hookData(n), { VNAT_HOST_NETNS: hostNs.ns });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(
      r.stderr,
      `vnat: network "${n.name}": uplink 198.51.100.63 is an address of this host (allowed: an address no interface of the host holds)`,
    );
  });

  test("one of this host's own IPv6 addresses is refused as uplink6", async () => {
    const hostNs = await world.addProviderHost("198.51.100.66", "2001:db8:100::66");
    const n = await net("p6", "198.51.100.67/24", {
      extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::66/64"/>`,
    });
    const r = await runHook(n.name, "start", "begin", hookData(n), { VNAT_HOST_NETNS: hostNs.ns });
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(
      r.stderr,
      `vnat: network "${n.name}": uplink6 2001:db8:100::66 is an address of this host (allowed: an address no interface of the host holds)`,
    );
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("another vnat network's LAN bridge is refused as an uplink bridge", async () => {
    const a = await net("pa", "198.51.100.64/24");
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await runHook(a.name, op, subop, hookData(a));
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const b = await net("pb", "198.51.100.65/24", { uplinkBridge: a.bridge });
    const r = await runHook(b.name, "start", "begin", hookData(b));
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(
      r.stderr,
      `vnat: network "${b.name}": uplink bridge "${a.bridge}" is the LAN bridge of vnat network "${a.name}" (allowed: a provider bridge)`,
    );
    assert.deepEqual(vnatDebris(b.name), []);
  });
});
