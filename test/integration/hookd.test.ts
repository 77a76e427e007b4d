// vnat's hook daemon (src/hook/hookd.ts) as hooks/network uses it: the namespace prepared
// at `start begin` with its LAN veth detached, attached at `started`, undone by a `stopped`
// that comes without `started`; errors answered exactly as the bundle itself answers them.
// The daemon is shared by everything on this machine that runs the hook: these tests never
// stop it, they only make sure one runs.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { execa } from "execa";
import { after, before, describe, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { HOOK, runHook, vnatDebris } from "../support/hook.ts";
import { waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type World } from "../support/world.ts";

const skip = worldUnavailable();
const tag = randomBytes(2).toString("hex");
const HOOKD = "/run/vnat/hookd";
const DIRECT = { VNAT_NO_HOOKD: "1" };
let world: World;
const nets: NetOpts[] = [];
const net = (i: number): NetOpts => nets[i]!;

/** pid of the running daemon, when its pid file names a live one. */
function daemonPid(): number | undefined {
  try {
    const pid = Number(readFileSync(`${HOOKD}/pid`, "utf8").split(" ")[0]);
    return existsSync(`/proc/${pid}`) && existsSync(`${HOOKD}/requests.${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Lines the daemon logged for network NAME (it marks them "hookd": true). */
function daemonLogFor(name: string): string[] {
  const text = existsSync("/var/log/vnat/hook.log") ? readFileSync("/var/log/vnat/hook.log", "utf8") : "";
  return text.split("\n").filter((l) => l.includes(`"network":"${name}"`) && l.includes('"hookd":true'));
}

const masterOf = (ifname: string): string | undefined =>
  existsSync(`/sys/class/net/${ifname}/master`) ? basename(readlinkSync(`/sys/class/net/${ifname}/master`)) : undefined;

before(async () => {
  if (skip) return;
  world = await createWorld();
  for (const [i, uplink] of [
    [1, "198.51.100.21"],
    [2, "198.51.100.22"],
  ] as const)
    nets.push({
      name: `t${tag}d${i}`,
      bridge: await world.addLanBridge(),
      uplinkBridge: world.providerBridge,
      uplink: `${uplink}/24`,
      gateway: world.providerGateway,
      dns: [world.upstreamDns],
    });
  // an event of a vnat network starts the daemon when none runs (this one changes nothing)
  await runHook(net(0).name, "port-deleted", "begin", hookData(net(0)));
  await waitFor(daemonPid, 10_000, "vnat's hook daemon to run");
});

after(async () => {
  if (skip) return;
  for (const n of nets) await runHook(n.name, "stopped", "end", hookData(n), DIRECT);
  await world?.destroy();
  for (const n of nets) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

describe("hook daemon", { skip }, () => {
  test("start begin prepares with the LAN veth detached, attached once the bridge exists; stopped leaves nothing", async () => {
    // libvirt makes the bridge after `start begin`: here the world's next LAN bridge, made below
    const n = { ...net(0), bridge: `vtb-${world.tag}3` };
    const k = kernelNames(n.name);
    const r = await runHook(n.name, "start", "begin", hookData(n));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, "");
    // prepared after the answer (libvirt makes the bridge meanwhile): the LAN end stays off it
    await waitFor(
      () => existsSync(`/run/netns/${k.netns}`) && existsSync(`/sys/class/net/${k.uplinkHost}`),
      10_000,
      "the prepared namespace",
    );
    assert.equal(masterOf(k.lanHost), undefined);
    assert.equal(masterOf(k.uplinkHost), world.providerBridge);
    assert.equal(await world.addLanBridge(), n.bridge);
    await waitFor(() => masterOf(k.lanHost) === n.bridge, 10_000, "the LAN veth on the new bridge");
    const s = await runHook(n.name, "started", "begin", hookData(n));
    assert.equal(s.exitCode, 0, s.stderr);
    assert.equal(s.stdout + s.stderr, "");
    assert.equal(masterOf(k.lanHost), n.bridge);
    assert.ok(
      daemonLogFor(n.name).some((l) => l.includes('"msg":"namespace started"')),
      "the daemon started it",
    );

    const guest = await world.addGuest(n.bridge);
    await guest.addStaticAddress("10.0.0.50/24", "10.0.0.1");
    assert.match(await guest.fetch(`http://${world.internetIp}/`), /198\.51\.100\.21/);

    const t = await runHook(n.name, "stopped", "end", hookData(n));
    assert.equal(t.exitCode, 0, t.stderr);
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("a start begin that no started follows is undone by stopped", async () => {
    const n = net(1);
    assert.equal((await runHook(n.name, "start", "begin", hookData(n))).exitCode, 0);
    await waitFor(() => existsSync(`/run/netns/${kernelNames(n.name).netns}`), 10_000, "the prepared namespace");
    assert.equal((await runHook(n.name, "stopped", "end", hookData(n))).exitCode, 0);
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("a network that changed between start and started is built afresh from what started says", async () => {
    const n = net(1);
    assert.equal((await runHook(n.name, "start", "begin", hookData(n))).exitCode, 0);
    const changed = { ...n, lan: "10.0.7.1/24" };
    const s = await runHook(n.name, "started", "begin", hookData(changed));
    assert.equal(s.exitCode, 0, s.stderr);
    const addr = readFileSync(`/run/vnat/net/${n.name}/state.json`, "utf8");
    assert.match(addr, /"phase": "active"/);
    assert.equal(masterOf(kernelNames(n.name).lanHost), n.bridge);
    assert.equal((await runHook(n.name, "stopped", "end", hookData(changed))).exitCode, 0);
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("a hook script of another installation is served by its own bundle, not by this daemon", async () => {
    const other = await mkdtemp(join(tmpdir(), `vnat-other-${tag}-`));
    try {
      await mkdir(join(other, "hooks"));
      await mkdir(join(other, "dist"));
      await copyFile(HOOK, join(other, "hooks", "network"));
      await copyFile(join(dirname(HOOK), "..", "dist", "hook.js"), join(other, "dist", "hook.js"));
      const before = daemonPid();
      const n = net(1);
      const env = { LC_ALL: "C", PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/root" };
      const r = await execa(join(other, "hooks", "network"), [n.name, "start", "begin", "-"], {
        input: hookData(n),
        env,
        extendEnv: false,
        reject: false,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(daemonPid(), before, "the running daemon stays, and no other is started");
      assert.deepEqual(vnatDebris(n.name), [], "validated by the bundle itself, which touches nothing at start begin");
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test("errors are answered with the bundle's own exit code and one-line message", async () => {
    const [a, b] = [net(0), { ...net(1), uplink: net(0).uplink }];
    assert.equal((await runHook(a.name, "started", "begin", hookData(a))).exitCode, 0);
    try {
      const cases: Array<[string, string, string]> = [
        [b.name, "start", "begin"], // uplink taken by an active network: conflict
        [b.name, "started", "begin"],
      ];
      for (const [name, op, subop] of cases) {
        const viaDaemon = await runHook(name, op, subop, hookData(b));
        const direct = await runHook(name, op, subop, hookData(b), DIRECT);
        assert.equal(viaDaemon.exitCode, 3, viaDaemon.stderr);
        assert.deepEqual(
          [viaDaemon.exitCode, viaDaemon.stdout, viaDaemon.stderr],
          [direct.exitCode, direct.stdout, direct.stderr],
        );
        assert.match(
          viaDaemon.stderr,
          /^vnat: network "t\w+d2": uplink 198\.51\.100\.21 on bridge "vtp-\w+" is already used by active vnat network "t\w+d1"$/,
        );
      }
      const bad = { ...net(1), uplink: "198.51.100.300/24" };
      const viaDaemon = await runHook(bad.name, "start", "begin", hookData(bad));
      const direct = await runHook(bad.name, "start", "begin", hookData(bad), DIRECT);
      assert.equal(viaDaemon.exitCode, 2, viaDaemon.stderr);
      assert.deepEqual([viaDaemon.exitCode, viaDaemon.stderr], [direct.exitCode, direct.stderr]);
      assert.deepEqual(vnatDebris(b.name), []);
    } finally {
      await runHook(a.name, "stopped", "end", hookData(a));
    }
    assert.deepEqual(vnatDebris(a.name), []);
  });
});
