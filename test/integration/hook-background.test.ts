// The hook's two shortcuts, driven exactly as libvirt calls it, on the real kernel:
//  - the shell answers `start begin` for a document vnat has validated before (same bytes,
//    bundle and config, and the host still fits it), without starting Node;
//  - `started` returns at once and the namespace is built in the background (config
//    "start": "background"): guest ports and `stopped` wait for the build, a failed build
//    is undone, recorded and refuses guest ports, and "foreground" keeps the old contract.
// VNAT_NODE=/bin/false proves where an answer came from: an event that reaches Node fails.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { awaitBuilt, buildInFlight, stopInFlight, waitForStop } from "../../src/adapters/background.ts";
import { readState } from "../../src/adapters/state.ts";
import { hookCacheKey } from "../../src/core/hookcache.ts";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, portXml, type NetOpts } from "../support/fixtures.ts";
import { cacheEntries, RUN_DIR, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const roots = { run: RUN_DIR, config: "", log: "" };
let world: World;
let net: NetOpts;
let dir: string;
let env: Record<string, string>;

before(async () => {
  world = await createWorld();
  dir = await mkdtemp(join(tmpdir(), `vnat-bg-${tag}-`));
  env = { VNAT_CONFIG: join(dir, "config.json") };
  await writeFile(env.VNAT_CONFIG!, "{}\n");
  // a Node that starts late: the hook's answer to libvirt comes before the build can begin
  await writeFile(join(dir, "slow-node"), `#!/bin/sh\nsleep 2\nexec node "$@"\n`);
  await chmod(join(dir, "slow-node"), 0o755);
  net = await sandboxNet(world, `t${tag}bg`, "198.51.100.23/24");
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net), env);
  for (const f of cacheEntries(net.name)) await unlink(`${RUN_DIR}/hook-cache/${f}`);
  await rm(dir, { recursive: true, force: true });
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  assert.deepEqual(cacheEntries(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

async function stop(): Promise<void> {
  const s = await runHook(net.name, "stopped", "end", hookData(net), env);
  assert.equal(s.exitCode, 0, s.stderr);
  assert.deepEqual(vnatDebris(net.name), []);
}

describe("start begin: the shell answers what vnat has validated", () => {
  test("the first answer comes from Node and is remembered; the same document then never reaches Node", async () => {
    const first = await runHook(net.name, "start", "begin", hookData(net), env);
    assert.equal(first.exitCode, 0, first.stderr);
    // the shell's sha256sum and vnat's own key agree (what `vnat net create` relies on)
    const buildId = (await readFile(new URL("../../dist/build-id", import.meta.url), "utf8")).trim();
    assert.deepEqual(cacheEntries(net.name), [`${net.name}.${hookCacheKey(buildId, hookData(net))}`]);
    const again = await runHook(net.name, "start", "begin", hookData(net), { ...env, VNAT_NODE: "/bin/false" });
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(again.stderr, "");
  });

  test("another document, config or holder of the uplink goes to Node again", async () => {
    const viaNode = (o: NetOpts, e: Record<string, string>) =>
      runHook(o.name, "start", "begin", hookData(o), { ...env, ...e, VNAT_NODE: "/bin/false" });
    // one byte of the document
    assert.notEqual((await viaNode({ ...net, uplink: "198.51.100.24/24" }, {})).exitCode, 0);
    // the config file's bytes
    await writeFile(env.VNAT_CONFIG!, "{ }\n");
    assert.notEqual((await viaNode(net, {})).exitCode, 0);
    await writeFile(env.VNAT_CONFIG!, "{}\n");
    assert.equal((await viaNode(net, {})).exitCode, 0);
    // the uplink claimed by another network
    const claim = `${RUN_DIR}/claims/${world.providerBridge}@198.51.100.23`;
    await writeFile(claim, "someone-else\n");
    try {
      assert.notEqual((await viaNode(net, {})).exitCode, 0);
      // Node itself finds the claim stale (no such namespace) and accepts
      assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
    } finally {
      await unlink(claim);
    }
    // a kernel name taken while vnat holds no state for the network
    const { netns } = kernelNames(net.name);
    await writeFile(`/run/netns/${netns}`, "");
    try {
      const r = await runHook(net.name, "start", "begin", hookData(net), env);
      assert.equal(r.exitCode, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`namespace "${netns}" already exists and vnat did not create it`));
    } finally {
      await unlink(`/run/netns/${netns}`);
    }
  });
});

describe("started in the background", () => {
  test("libvirt gets its answer before the build; a guest port waits for it", async () => {
    assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
    const slow = { ...env, VNAT_NODE: join(dir, "slow-node") };
    const r = await runHook(net.name, "started", "begin", hookData(net), slow, true);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await buildInFlight(roots, net.name), true);
    assert.equal(existsSync(`/run/netns/${kernelNames(net.name).netns}`), false);

    const port = await runHook(net.name, "port-created", "begin", hookData(net, portXml("52:54:00:0b:0b:01")), env);
    assert.equal(port.exitCode, 0, port.stderr);
    assert.equal(await buildInFlight(roots, net.name), false);
    assert.equal((await readState(roots, net.name))?.phase, "active");
    await stop();
  });

  test("a stop during the build waits for it, then leaves nothing", async () => {
    const slow = { ...env, VNAT_NODE: join(dir, "slow-node") };
    const r = await runHook(net.name, "started", "begin", hookData(net), slow, true);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await buildInFlight(roots, net.name), true);
    await stop();
    assert.equal(await buildInFlight(roots, net.name), false);
  });

  test("a failed build is undone and recorded; guest ports are refused with the reason until the stop", async () => {
    assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
    const r = await runHook(net.name, "started", "begin", hookData(net), { ...env, VNAT_FAILPOINT: "dnsmasq" }, true);
    assert.equal(r.exitCode, 0, r.stderr);
    const failure = await awaitBuilt(roots, net.name);
    assert.equal(
      failure,
      `start network "${net.name}": step "dnsmasq" failed: injected failure (VNAT_FAILPOINT) (everything undone)`,
    );
    assert.deepEqual(vnatDebris(net.name), []);
    const port = await runHook(net.name, "port-created", "begin", hookData(net, portXml("52:54:00:0b:0b:02")), env);
    assert.equal(port.exitCode, 3);
    assert.equal(
      port.stderr,
      `vnat: network "${net.name}": vnat could not build its namespace (${failure}); guests cannot attach until it is fixed (vnat reconcile ${net.name}, or virsh net-destroy and net-start)`,
    );
    await stop();
    assert.equal(await awaitBuilt(roots, net.name), undefined);
  });

  test(`"start": "foreground" builds before libvirt gets its answer`, async () => {
    await writeFile(env.VNAT_CONFIG!, `{"start": "foreground"}\n`);
    try {
      assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
      const r = await runHook(net.name, "started", "begin", hookData(net), env, true);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(await buildInFlight(roots, net.name), false);
      assert.equal((await readState(roots, net.name))?.phase, "active");
      // and its stop runs in the foreground too
      assert.equal(existsSync(`${RUN_DIR}/net/${net.name}/stop-background`), false);
      const s = await runHook(net.name, "stopped", "end", hookData(net), env, true);
      assert.equal(s.exitCode, 0, s.stderr);
      assert.deepEqual(vnatDebris(net.name), []);
      // and its failures reach libvirt, as before
      const f = await runHook(
        net.name,
        "started",
        "begin",
        hookData(net),
        { ...env, VNAT_FAILPOINT: "nftables" },
        true,
      );
      assert.equal(f.exitCode, 4); // a step failed
      assert.match(f.stderr, /^vnat: start network "[^"]+": step "nftables" failed: injected failure/);
      assert.deepEqual(vnatDebris(net.name), []);
    } finally {
      await writeFile(env.VNAT_CONFIG!, "{}\n");
    }
  });
});

describe("stopped in the background", () => {
  test("libvirt gets its answer before the teardown; a start right after waits for it", async () => {
    assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
    assert.equal((await runHook(net.name, "started", "begin", hookData(net), env)).exitCode, 0);
    assert.equal(existsSync(`${RUN_DIR}/net/${net.name}/stop-background`), true);
    const ns = `/run/netns/${kernelNames(net.name).netns}`;

    const slow = { ...env, VNAT_NODE: join(dir, "slow-node") };
    const s = await runHook(net.name, "stopped", "end", hookData(net), slow, true);
    assert.equal(s.exitCode, 0, s.stderr);
    assert.equal(await stopInFlight(roots, net.name), true);
    assert.equal(existsSync(ns), true, "the hook answered before the teardown");

    // libvirt may start the network again at once: the build waits for the teardown
    assert.equal((await runHook(net.name, "start", "begin", hookData(net), env)).exitCode, 0);
    const r = await runHook(net.name, "started", "begin", hookData(net), env, true);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await awaitBuilt(roots, net.name), undefined);
    assert.equal(await stopInFlight(roots, net.name), false);
    assert.equal((await readState(roots, net.name))?.phase, "active");
    assert.equal(existsSync(ns), true);

    // and a plain background stop leaves nothing once it has run
    const t = await runHook(net.name, "stopped", "end", hookData(net), env, true);
    assert.equal(t.exitCode, 0, t.stderr);
    await waitForStop(roots, net.name);
    assert.deepEqual(vnatDebris(net.name), []);
  });
});
