// Every step of `started` made to fail in turn (VNAT_FAILPOINT fails right after the
// step succeeded, so its own effects must be undone too), plus real failures from the
// kernel: each must exit non-zero with one line on stderr and leave nothing behind.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { existsSync } from "node:fs";
import { kernelNames, uplinkMac } from "../../src/core/names.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { START_STEPS } from "../../src/exec/change/apply.ts";
import { netLockPaths } from "../../src/core/paths.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { fdbLocals, RUN_DIR, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const roots = { run: RUN_DIR, config: "", log: "" };
let world: World;
let net: NetOpts;

before(async () => {
  world = await createWorld();
  net = await sandboxNet(world, `t${tag}f`, "198.51.100.21/24");
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net));
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

/** what a failed `started` adds: libvirt keeps the bridge, and the next start removes it (exec/change/leaked-bridge.ts) */
const keptBridge = (o: NetOpts): string =>
  ` \\(libvirt keeps bridge "${o.bridge}" after a failed start; the next virsh net-start of "${o.name}" removes it\\)`;

function assertOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  assert.match(lines[0]!, re);
}

describe("failure at each step of started", () => {
  for (const step of START_STEPS) {
    test(`step "${step}"`, async () => {
      const r = await runHook(net.name, "started", "begin", hookData(net), { VNAT_FAILPOINT: step });
      assert.notEqual(r.exitCode, 0);
      assert.equal(r.stdout, "");
      assertOneLine(
        r.stderr,
        new RegExp(
          `^vnat: start network "${net.name}": step "${step}" failed: injected failure \\(VNAT_FAILPOINT\\) \\(everything undone\\)${keptBridge(net)}$`,
        ),
      );
      assert.deepEqual(vnatDebris(net.name), []);
      assert.ok(
        !fdbLocals().has(`${world.providerBridge} ${uplinkMac(parseIp("198.51.100.21")!)}`),
        "uplink fdb entry undone",
      );
    });
  }

  test("the network still starts cleanly afterwards", async () => {
    const r = await runHook(net.name, "started", "begin", hookData(net));
    assert.equal(r.exitCode, 0, r.stderr);
    const s = await runHook(net.name, "stopped", "end", hookData(net));
    assert.equal(s.exitCode, 0, s.stderr);
    assert.deepEqual(vnatDebris(net.name), []);
  });
});

describe("real failures from the kernel", () => {
  test("the libvirt bridge vanished between start and started", async () => {
    const gone = { ...net, bridge: `vtx-${tag}` };
    // raw: libvirt made the bridge, and it is gone again by the time the hook runs
    const r = await runHook(gone.name, "started", "begin", hookData(gone), {}, true);
    assert.notEqual(r.exitCode, 0);
    assertOneLine(
      r.stderr,
      new RegExp(
        // lan0 a macvlan of the bridge, or a veth pair whose host end goes on it (core/input/attach.ts:
        // by br_netfilter's switch, which a missing bridge leaves to the global one)
        `^vnat: start network "${net.name}": step "links" failed: (?:"ip link add link vtx-${tag} name lan0 address 02:77:[0-9a-f:]{11} netns vnat-${net.name} type macvlan mode bridge": Cannot find device "vtx-${tag}"|"ip link set vnl-[0-9a-f]+ master vtx-${tag} up": Error: argument "vtx-${tag}" is wrong: Device does not exist) \\(everything undone\\)${keptBridge(gone)}$`,
      ),
    );
    assert.deepEqual(vnatDebris(net.name), []);
    assert.ok(existsSync(netLockPaths(roots, net.name).begun), "the failed start is remembered for the next start");
    // a stop of the network forgets it: nothing is left for a next start to remove
    assert.equal((await runHook(gone.name, "stopped", "end", hookData(gone))).exitCode, 0);
    assert.ok(!existsSync(netLockPaths(roots, net.name).begun));
  });

  test("a foreign interface holding vnat's name is refused, and left alone", async () => {
    const { lanHost } = kernelNames(net.name);
    await run("ip", ["link", "add", lanHost, "type", "bridge"]); // no dummy module on this kernel
    try {
      for (const [op, subop] of [
        ["start", "begin"],
        ["started", "begin"],
      ] as const) {
        const r = await runHook(net.name, op, subop, hookData(net));
        assert.equal(r.exitCode, 3);
        assertOneLine(
          r.stderr,
          new RegExp(
            `^vnat: network "${net.name}": interface "${lanHost}" already exists and vnat did not create it \\(remove it\\)${op === "started" ? keptBridge(net) : ""}$`,
          ),
        );
        assert.ok(existsSync(`/sys/class/net/${lanHost}`), "the foreign interface was removed");
        assert.ok(!existsSync(`/run/netns/vnat-${net.name}`));
      }
    } finally {
      await run("ip", ["link", "del", lanHost]);
    }
    assert.deepEqual(vnatDebris(net.name), []);
  });
});
