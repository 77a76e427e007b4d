// The hook's contract with libvirt, driven exactly as libvirt calls it, on the real kernel:
//  - the shell answers `start begin` for a document vnat has validated before (same bytes,
//    bundle and config, and the host still fits it), without starting Node;
//  - `started` answers when the namespace serves, so `virsh net-start` returning 0 means
//    ready, and every event of a network runs under its kernel lock (exec/netlock.ts):
//    events fired back to back never overlap, a killed build frees the lock at once and is
//    told apart from a live one by that lock, guest ports need a namespace, and a start
//    whose `started` failed gets libvirt's kept bridge removed at the next `start begin`.
// VNAT_NODE=/bin/false proves where an answer came from: an event that reaches Node fails.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { execa } from "execa";
import { readState } from "../../src/adapters/store/state.ts";
import { hookCacheKey } from "../../src/core/hookcache.ts";
import { kernelNames } from "../../src/core/names.ts";
import { netLockPaths } from "../../src/core/paths.ts";
import { networkBusy, readSeq } from "../../src/exec/netlock.ts";
import { isDnsmasqHelper } from "../support/dnsmasq.ts";
import { hookData, portXml, type NetOpts } from "../support/fixtures.ts";
import { cacheEntries, HOOK, RUN_DIR, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { run, sh, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const roots = { run: RUN_DIR, config: "", log: "" };
let world: World;
let net: NetOpts;
let dir: string;
let env: Record<string, string>;
let config: string;

before(async () => {
  world = await createWorld();
  dir = await mkdtemp(join(tmpdir(), `vnat-order-${tag}-`));
  env = { VNAT_CONFIG: join(dir, "config.json") };
  config = JSON.stringify({ providers: [{ bridge: world.providerBridge, gateway: "198.51.100.1/24" }] });
  await writeFile(env.VNAT_CONFIG!, config + "\n");
  net = await sandboxNet(world, `t${tag}or`, "198.51.100.23/24");
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net), env);
  for (const f of cacheEntries(net.name)) await unlink(`${RUN_DIR}/hook-cache/${f}`);
  await rm(dir, { recursive: true, force: true });
  await unlink(netLockPaths(roots, net.name).begun).catch(() => {});
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  assert.deepEqual(cacheEntries(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

async function ok(op: string, subop: string, o: NetOpts = net, e: Record<string, string> = env): Promise<void> {
  const r = await runHook(o.name, op, subop, hookData(o), e);
  assert.equal(r.exitCode, 0, `${op} ${subop}: ${r.stderr}`);
  assert.equal(r.stderr, "", `${op} ${subop}`);
}

async function stop(): Promise<void> {
  await ok("stopped", "end");
  assert.deepEqual(vnatDebris(net.name), []);
}

/** dnsmasq daemons in the network's namespace (not its lease-script helper; arping may run there for a second after a start) */
async function netnsPids(): Promise<string[]> {
  const r = await sh("ip", ["netns", "pids", kernelNames(net.name).netns]);
  const comm = (p: string): string => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim();
    } catch {
      return "";
    }
  };
  return r.stdout.split("\n").filter((p) => p && comm(p) === "dnsmasq" && !isDnsmasqHelper(p));
}

/** The namespace serves: addresses up, NAT table loaded, exactly one dnsmasq answering. */
async function assertServing(): Promise<void> {
  const { netns } = kernelNames(net.name);
  assert.equal((await readState(roots, net.name))?.phase, "active");
  const table = await sh("ip", ["netns", "exec", netns, "nft", "list", "table", "ip", "vnat"]);
  assert.equal(table.exitCode, 0, table.stderr);
  assert.equal((await netnsPids()).length, 1, "one dnsmasq in the namespace");
  const dig = await run("ip", ["netns", "exec", netns, "ss", "-lun", "sport", "= :67"]);
  assert.match(dig.stdout, /:67\b/, "dnsmasq listens for DHCP");
}

describe("start begin: the shell answers what vnat has validated", () => {
  test("the first answer comes from Node and is remembered; the same document then never reaches Node", async () => {
    await ok("start", "begin");
    // the shell's sha256sum and vnat's own key agree (what `vnat net create` relies on)
    const buildId = (await readFile(new URL("../../dist/build-id", import.meta.url), "utf8")).trim();
    assert.deepEqual(cacheEntries(net.name), [`${net.name}.${hookCacheKey(buildId, hookData(net))}`]);
    await ok("start", "begin", net, { ...env, VNAT_NODE: "/bin/false" });
  });

  test("another document, config or holder of the uplink goes to Node again", async () => {
    const viaNode = (o: NetOpts) => runHook(o.name, "start", "begin", hookData(o), { ...env, VNAT_NODE: "/bin/false" });
    assert.notEqual((await viaNode({ ...net, uplink: "198.51.100.24/24" })).exitCode, 0);
    await writeFile(env.VNAT_CONFIG!, config + " \n");
    assert.notEqual((await viaNode(net)).exitCode, 0);
    await writeFile(env.VNAT_CONFIG!, config + "\n");
    assert.equal((await viaNode(net)).exitCode, 0);
    const claim = `${RUN_DIR}/claims/${world.providerBridge}@198.51.100.23`;
    await writeFile(claim, "someone-else\n");
    try {
      assert.notEqual((await viaNode(net)).exitCode, 0);
      // Node itself finds the claim stale (no such network holds it) and accepts
      await ok("start", "begin");
    } finally {
      await unlink(claim);
    }
    // a config that exists but cannot be read is not "no config": the shell asks Node, which says why
    const buildId = (await readFile(new URL("../../dist/build-id", import.meta.url), "utf8")).trim();
    const entry = `${RUN_DIR}/hook-cache/${net.name}.${hookCacheKey(buildId, hookData(net))}`;
    const remembered = await readFile(entry, "utf8");
    await writeFile(entry, remembered.replace(/^config \S+$/m, "config none"));
    const unreadable = { ...env, VNAT_CONFIG: dir }; // a directory
    try {
      const shell = await runHook(net.name, "start", "begin", hookData(net), {
        ...unreadable,
        VNAT_NODE: "/bin/false",
      });
      assert.notEqual(shell.exitCode, 0, "the shell must not read an unreadable config as no config");
      const r = await runHook(net.name, "start", "begin", hookData(net), unreadable);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.equal(r.stderr, `vnat: config ${dir}: cannot be read (EISDIR); fix it or remove it`);
    } finally {
      await writeFile(entry, remembered);
    }
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

describe("started: ready when it answers, one event at a time", () => {
  test("`started` returns 0 only once the namespace serves DHCP, DNS and NAT", async () => {
    await ok("start", "begin");
    await ok("started", "begin");
    await assertServing();
    const seq = await readSeq(roots, net.name);
    assert.deepEqual([seq.event, seq.outcome], ["started-begin", "ok"]);
    await stop();
  });

  test("stopped → start begin → started fired back to back 15 times: no overlap, one namespace serving at the end", async () => {
    await ok("start", "begin");
    await ok("started", "begin");
    const first = (await readSeq(roots, net.name)).seq;
    for (let i = 0; i < 15; i++) {
      await ok("stopped", "end");
      await ok("start", "begin");
      await ok("started", "begin");
    }
    await assertServing();
    // every event went through the lock, in order (the shell answers some `start begin`s by itself)
    const { seq } = await readSeq(roots, net.name);
    assert.ok(seq >= first + 30, `sequence ${seq} after ${first}`);
    await stop();
  });

  test("a guest port on a network without a namespace is refused with one line", async () => {
    const r = await runHook(net.name, "port-created", "begin", hookData(net, portXml("52:54:00:aa:bb:01")), env);
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(
      r.stderr,
      `vnat: network "${net.name}": vnat has no namespace for it, so a guest attached now would get no DHCP, DNS or NAT (vnat reconcile ${net.name}, or virsh net-destroy and net-start)`,
    );
  });
});

describe("crashes", () => {
  test("a build killed with SIGKILL frees the lock at once, is told apart from a live one, and the next start converges", async () => {
    await ok("start", "begin");
    const child = execa(HOOK, [net.name, "started", "begin", "-"], {
      input: hookData(net),
      env: { LC_ALL: "C", PATH: process.env.PATH!, HOME: "/root", ...env, VNAT_FAILPOINT: "hang:dnsmasq" },
      extendEnv: false,
      reject: false,
    });
    // the build holds the lock and has started dnsmasq
    await waitFor(
      async () => (await netnsPids()).length === 1 && networkBusy(roots, net.name),
      20_000,
      "the build to hold the lock with dnsmasq up",
    );
    assert.equal((await readState(roots, net.name))?.phase, "starting");
    const node = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .find((p) => {
        try {
          const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
          return argv.some((a) => a.endsWith("/hook.js")) && argv.includes(net.name);
        } catch {
          return false;
        }
      });
    assert.ok(node, "the hook's Node process");
    process.kill(Number(node), "SIGKILL");
    const r = await child;
    assert.notEqual(r.exitCode, 0);
    // the kernel released the lock with the process: no wait, no grace period
    assert.equal(networkBusy(roots, net.name), false);
    assert.equal((await readState(roots, net.name))?.phase, "starting");
    // a guest is not accepted onto the half-built namespace
    const port = await runHook(net.name, "port-created", "begin", hookData(net, portXml("52:54:00:aa:bb:02")), env);
    assert.equal(port.exitCode, 3, port.stderr);
    // libvirt would run the next start: vnat removes what the dead build left and builds again
    await ok("start", "begin");
    await ok("started", "begin");
    await assertServing();
    await stop();
  });

  test("a `started` whose Node dies before doing anything still leaves the marker; the next start removes the kept bridge", async () => {
    const bridge = `vtq${tag}`;
    await run("ip", ["link", "add", bridge, "type", "bridge"]);
    try {
      const o = { ...net, bridge };
      await ok("start", "begin", o); // remembered: the shell could answer the next one alone
      const dead = await runHook(o.name, "started", "begin", hookData(o), { ...env, VNAT_NODE: "/bin/false" });
      assert.notEqual(dead.exitCode, 0);
      assert.ok(existsSync(netLockPaths(roots, o.name).begun), "the shell marks a `started` before handing it on");
      const shell = await runHook(o.name, "start", "begin", hookData(o), { ...env, VNAT_NODE: "/bin/false" });
      assert.notEqual(shell.exitCode, 0, "after a failed start the shell does not answer alone");
      await ok("start", "begin", o);
      assert.equal(existsSync(`/sys/class/net/${bridge}`), false, "the bridge libvirt kept is gone");
      await ok("started", "begin", o);
      assert.equal(existsSync(netLockPaths(roots, o.name).begun), false, "a start that succeeded clears it");
      await ok("stopped", "end", o);
      assert.deepEqual(vnatDebris(o.name), []);
    } finally {
      await sh("ip", ["link", "del", bridge]);
    }
  });

  test("a failed `started` says what libvirt keeps; the next `start begin` removes that bridge", async () => {
    const bridge = `vto${tag}`;
    await run("ip", ["link", "add", bridge, "type", "bridge"]);
    try {
      const o = { ...net, bridge };
      await ok("start", "begin", o);
      const r = await runHook(o.name, "started", "begin", hookData(o), { ...env, VNAT_FAILPOINT: "nftables" });
      assert.equal(r.exitCode, 4, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^vnat: start network "${o.name}": step "nftables" failed: injected failure \\(VNAT_FAILPOINT\\) \\(everything undone\\) \\(libvirt keeps bridge "${bridge}" after a failed start; the next virsh net-start of "${o.name}" removes it\\)$`,
        ),
      );
      assert.deepEqual(vnatDebris(o.name), []);
      assert.ok(existsSync(netLockPaths(roots, o.name).begun));
      // the next start: Node (not the shell) sees the failed start and removes the empty bridge
      await ok("start", "begin", o, { ...env });
      assert.equal(existsSync(`/sys/class/net/${bridge}`), false);
      assert.equal(existsSync(netLockPaths(roots, o.name).begun), false);
      await ok("started", "begin", o); // runHook makes the bridge again, as libvirt would
      await ok("stopped", "end", o);
      assert.deepEqual(vnatDebris(o.name), []);
    } finally {
      await sh("ip", ["link", "del", bridge]);
    }
  });
});
