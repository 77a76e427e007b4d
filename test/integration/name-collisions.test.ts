// Issue 13.4 on real links: host link names come from a hash of the network name, and an older
// vnat used 32 bits of it, so two real networks could share "vnu-XXXXXXXX" (tenant-39588 and
// tenant-67738 do; this test finds its own pair among names carrying its run tag). Today's
// names carry 44 bits, every host link vnat makes names its owner in its alias ("vnat:NAME"),
// a network whose name is held by another network's link is refused at `start begin`, and a
// teardown never deletes another network's link (by its alias, or for an older vnat's link
// without alias, by the other network's state file). Networks are driven through hooks/network.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, test } from "node:test";
import { roots } from "../../src/adapters/store/roots.ts";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { hashName, kernelNames, lanMac, legacyKernelNames, LEGACY_LINK_HASH_HEX } from "../../src/core/names.ts";
import { netPaths } from "../../src/core/paths.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const tag = randomBytes(2).toString("hex");
const unmet = worldUnavailable();
const R = roots({});

let world: World;
let tmp: string;
let vethConfig: string;
const started: NetOpts[] = [];
const handMade: string[] = [];
const fakeStates: string[] = [];

/** Two names PREFIX+i whose first 32 bits of hash agree: an older vnat gave them the same host links. */
function collidingPair(prefix: string): [string, string] {
  const seen = new Map<string, string>();
  for (let i = 0; ; i++) {
    const name = `${prefix}${i.toString(36)}`;
    const h = hashName(name, LEGACY_LINK_HASH_HEX);
    const other = seen.get(h);
    if (other !== undefined) return [other, name];
    seen.set(h, name);
  }
}

const ifalias = (ifname: string): string => readFileSync(`/sys/class/net/${ifname}/ifalias`, "utf8").trim();
const master = (ifname: string): string | null =>
  existsSync(`/sys/class/net/${ifname}/master`) ? basename(readlinkSync(`/sys/class/net/${ifname}/master`)) : null;

/** A link made by hand under a vnat name (a bridge: this kernel has no dummy module), with ALIAS if given. */
async function handLink(ifname: string, alias?: string): Promise<void> {
  await run("ip", ["link", "add", ifname, "type", "bridge"]);
  handMade.push(ifname);
  if (alias !== undefined) await run("ip", ["link", "set", "dev", ifname, "alias", alias]);
}

/** What an older vnat wrote for network NAME whose veth uplink is IFNAME (no attach: veths both sides). */
async function olderVnatState(name: string, uplinkHost: string, lanHost: string): Promise<void> {
  const dir = netPaths(R, name).dir;
  fakeStates.push(name);
  await mkdir(dir, { recursive: true, mode: 0o711 });
  const state = {
    name,
    phase: "active",
    lanBridge: `vtb-${tag}x`,
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.99",
    netns: `vnat-${name}`,
    startedAt: new Date().toISOString(),
    spec: { name, names: { netns: `vnat-${name}`, lanHost, uplinkHost } },
  };
  await writeFile(netPaths(R, name).state, JSON.stringify(state, null, 2) + "\n", { mode: 0o600 });
}

/** The hook's whole stderr is this one line (execa drops the final newline). */
const oneLine = (stderr: string, text: string): void => assert.equal(stderr, `vnat: ${text}`);

before(async () => {
  if (unmet) return;
  world = await createWorld();
  tmp = await mkdtemp(join(tmpdir(), "vnat-nc-"));
  // the provider forces veths: each uplink is a host link named by the network's hash
  const provider = { bridge: world.providerBridge, gateway: `${world.providerGateway}/24`, attach: "veth" };
  vethConfig = join(tmp, "config.json");
  await writeFile(vethConfig, JSON.stringify({ providers: [provider] }) + "\n");
});

after(async () => {
  if (unmet) return;
  for (const n of started) await runHook(n.name, "stopped", "end", hookData(n), { VNAT_CONFIG: vethConfig });
  for (const l of handMade) if (existsSync(`/sys/class/net/${l}`)) await run("ip", ["link", "del", l]);
  for (const n of fakeStates) await rm(netPaths(R, n).dir, { recursive: true, force: true });
  await world?.destroy();
  await rm(tmp, { recursive: true, force: true });
  for (const n of [...started.map((s) => s.name), ...fakeStates]) assert.deepEqual(vnatDebris(n), [], n);
  for (const l of handMade) assert.ok(!existsSync(`/sys/class/net/${l}`), `hand-made link ${l} left`);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("two networks an older vnat gave the same host links", {}, () => {
  let a: NetOpts;
  let b: NetOpts;
  let guest: Guest;
  const env = (): Record<string, string> => ({ VNAT_CONFIG: vethConfig });

  before(async () => {
    if (unmet) return;
    const [na, nb] = collidingPair(`c${tag}-`);
    a = await sandboxNet(world, na, "198.51.100.41/24");
    b = await sandboxNet(world, nb, "198.51.100.42/24", {
      dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
    });
  });

  test("they shared 32 bits of hash; today's 44-bit names differ", () => {
    assert.equal(legacyKernelNames(a.name).uplinkHost, legacyKernelNames(b.name).uplinkHost);
    assert.notEqual(kernelNames(a.name).uplinkHost, kernelNames(b.name).uplinkHost);
    assert.notEqual(kernelNames(a.name).lanHost, kernelNames(b.name).lanHost);
  });

  test("both start through the hook, each uplink veth named by its owner", async () => {
    for (const n of [a, b]) {
      for (const [op, subop] of [
        ["start", "begin"],
        ["started", "begin"],
      ] as const) {
        if (op === "started") started.push(n);
        const r = await runHook(n.name, op, subop, hookData(n), env());
        assert.equal(r.exitCode, 0, `${n.name} ${op}: ${r.stderr}`);
      }
    }
    for (const n of [a, b]) {
      const up = kernelNames(n.name).uplinkHost;
      assert.equal(ifalias(up), `vnat:${n.name}`);
      assert.equal(master(up), world.providerBridge);
    }
  });

  test("stopping one leaves the other's uplink, and its guest still gets out", async () => {
    guest = await world.addGuest(b.bridge);
    await guest.dhcp();
    assert.equal((await guest.fetch(`http://${world.internetIp}/`)).trim(), "198.51.100.42");
    const r = await runHook(a.name, "stopped", "end", hookData(a), env());
    assert.equal(r.exitCode, 0, r.stderr);
    started.splice(started.indexOf(a), 1);
    // both LAN macvlans have one MAC (02:77 + the same 32 bits), each on its own bridge: b's entry is b's
    assert.equal(lanMac(a.name), lanMac(b.name));
    assert.deepEqual(
      vnatDebris(a.name).filter((d) => d !== `fdb entry ${b.bridge} ${lanMac(b.name)}`),
      [],
    );
    const up = kernelNames(b.name).uplinkHost;
    assert.ok(existsSync(`/sys/class/net/${up}`), `${b.name}'s uplink ${up} is gone`);
    assert.equal(master(up), world.providerBridge);
    assert.equal((await guest.fetch(`http://${world.internetIp}/`)).trim(), "198.51.100.42");
  });

  test("a network an older vnat started keeps its uplink when its namesake stops", async () => {
    // an older vnat ran OLD with the 8-hex name both share, no alias; its state file records it
    const [old, namesake] = collidingPair(`o${tag}-`);
    const shared = legacyKernelNames(old);
    await handLink(shared.uplinkHost);
    await olderVnatState(old, shared.uplinkHost, shared.lanHost);
    const n = await sandboxNet(world, namesake, "198.51.100.43/24");
    const logDir = join(tmp, "log-old");
    const r = await runHook(namesake, "stopped", "end", hookData(n), { ...env(), VNAT_LOG_DIR: logDir });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(existsSync(`/sys/class/net/${shared.uplinkHost}`), `${old}'s uplink was deleted by ${namesake}'s stop`);
    const log = await readFile(join(logDir, "hook.log"), "utf8");
    assert.ok(
      log.includes(`interface \\"${shared.uplinkHost}\\" is recorded by network \\"${old}\\"'s state: left in place`),
      log,
    );
    // the same link without the older network's state is the namesake's leftover: removed
    await rm(netPaths(R, old).dir, { recursive: true, force: true });
    const again = await runHook(namesake, "stopped", "end", hookData(n), env());
    assert.equal(again.exitCode, 0, again.stderr);
    assert.ok(!existsSync(`/sys/class/net/${shared.uplinkHost}`), "an older vnat's leftover stays");
  });
});

needs(unmet).describe("a name held by another network's link", {}, () => {
  let c: NetOpts;
  const other = `k${tag}-other`;

  before(async () => {
    if (unmet) return;
    c = await sandboxNet(world, `k${tag}-c`, "198.51.100.44/24");
  });

  test("start begin and started refuse it in one line, and a stop leaves it alone", async () => {
    const k = kernelNames(c.name);
    await handLink(k.uplinkHost, `vnat:${other}`);
    // an older vnat's names of c: one aliased to the other network (kept), one without alias (c's: removed)
    const legacy = legacyKernelNames(c.name);
    await handLink(legacy.lanHost, `vnat:${other}`);
    await handLink(legacy.uplinkHost);
    const why = `network "${c.name}": its interface name "${k.uplinkHost}" collides with network "${other}"'s (rename one of them)`;
    const begin = await runHook(c.name, "start", "begin", hookData(c));
    assert.equal(begin.exitCode, 3, begin.stderr);
    oneLine(begin.stderr, why);
    const built = await runHook(c.name, "started", "begin", hookData(c));
    assert.equal(built.exitCode, 3, built.stderr);
    assert.match(built.stderr, new RegExp(`^vnat: ${why.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(libvirt keeps`));
    assert.ok(!existsSync(`/run/netns/${k.netns}`));

    // status: the link under c's name is not c's; the other network is unknown here, so its link is a stray
    const networks = [{ name: c.name, active: true, autostart: false, persistent: true, xml: networkXml(c) }];
    const only = await probeAll({ runner: processRunner, roots: R, config: EMPTY_CONFIG, networks, only: [c.name] });
    const o = only.observations.find((x) => x.name === c.name);
    assert.equal(o?.uplinkHost.present, false);
    const sweep = await probeAll({ runner: processRunner, roots: R, config: EMPTY_CONFIG, networks });
    assert.ok(sweep.strayLinks.includes(k.uplinkHost), sweep.strayLinks.join(","));
    assert.ok(sweep.strayLinks.includes(legacy.lanHost), sweep.strayLinks.join(","));
    assert.ok(!sweep.strayLinks.includes(legacy.uplinkHost), "c's own older link counted as a stray");

    // libvirt runs `stopped` after a refused start: c's teardown must not take the other's links
    const logDir = join(tmp, "log-c");
    const stop = await runHook(c.name, "stopped", "end", hookData(c), { VNAT_LOG_DIR: logDir });
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.equal(ifalias(k.uplinkHost), `vnat:${other}`);
    assert.equal(ifalias(legacy.lanHost), `vnat:${other}`);
    assert.ok(!existsSync(`/sys/class/net/${legacy.uplinkHost}`), "c's own older link was left");
    const log = await readFile(join(logDir, "hook.log"), "utf8");
    for (const l of [k.uplinkHost, legacy.lanHost])
      assert.ok(log.includes(`interface \\"${l}\\" belongs to network \\"${other}\\"`), log);
    for (const l of [k.uplinkHost, legacy.lanHost]) await run("ip", ["link", "del", l]);
  });

  test("a link without alias that another network's state file records is refused too", async () => {
    const k = kernelNames(c.name);
    const holder = `k${tag}-holder`;
    await handLink(k.uplinkHost);
    await olderVnatState(holder, k.uplinkHost, k.lanHost);
    const r = await runHook(c.name, "start", "begin", hookData(c));
    assert.equal(r.exitCode, 3, r.stderr);
    oneLine(
      r.stderr,
      `network "${c.name}": its interface name "${k.uplinkHost}" collides with network "${holder}"'s (rename one of them)`,
    );
    const stop = await runHook(c.name, "stopped", "end", hookData(c));
    assert.equal(stop.exitCode, 0, stop.stderr);
    assert.ok(existsSync(`/sys/class/net/${k.uplinkHost}`), `${holder}'s link was deleted`);
    await run("ip", ["link", "del", k.uplinkHost]);
    await rm(netPaths(R, holder).dir, { recursive: true, force: true });
    // nothing in the way: c starts (and stops) normally
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
      ["stopped", "end"],
    ] as const) {
      const s = await runHook(c.name, op, subop, hookData(c));
      assert.equal(s.exitCode, 0, `${op}: ${s.stderr}`);
    }
    assert.deepEqual(vnatDebris(c.name), []);
  });
});
