// Crash safety of `started`: the hook is SIGKILLed at seeded random moments (alone, so
// the commands it had in flight finish as orphans, or with its whole process group),
// then libvirt's next move must converge: a new `start begin` + `started` gives one
// healthy namespace (judged like `vnat status` does), and `stopped` leaves nothing, even
// when that `stopped` is itself killed once first.
// VNAT_CRASH_SEED reproduces a run; VNAT_CRASH_RUNS sets how many kills.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { kernelNames, uplinkMac } from "../../src/core/names.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { readState } from "../../src/adapters/store/state.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import { dnsmasqPid } from "../../src/adapters/dnsmasq.ts";
import { netPaths } from "../../src/core/paths.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { fdbLocals, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { runHookAndKill } from "../support/crash.ts";
import { healthOf } from "../support/health.ts";
import { rng } from "../support/mutate.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const seed = Number(process.env.VNAT_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = Number(process.env.VNAT_CRASH_RUNS ?? 16);
let world: World;
let net: NetOpts;

before(async () => {
  world = await createWorld();
  net = await sandboxNet(world, `t${tag}k`, "198.51.100.41/24", {
    dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200"/>`,
    extraMetadata: `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/><vnat:floating address="198.51.100.42" to="10.0.0.6"/>`,
  });
});

after(async () => {
  await runHook(net.name, "stopped", "end", hookData(net));
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

/** How far the killed `started` got, from what it left behind. */
async function reached(): Promise<string> {
  const state = await readState(roots(), net.name);
  if (!state)
    return existsSync(`/run/vnat/net/${net.name}`) ? "files" : vnatDebris(net.name).length ? "claim" : "nothing";
  if (state.phase === "active") return "active";
  if (await dnsmasqPid(netPaths(roots(), net.name).pidFile)) return "dnsmasq";
  return existsSync(`/run/netns/${kernelNames(net.name).netns}`) ? "namespace" : "state";
}

/** Moments of `started` a kill is aimed at, each seen from outside the hook. */
const TRIGGERS: Array<{ name: string; when: () => boolean }> = [
  { name: "start", when: () => true },
  { name: "claim", when: () => existsSync(`/run/vnat/claims/${net.uplinkBridge}@${net.uplink!.split("/")[0]}`) },
  { name: "state", when: () => existsSync(netPaths(roots(), net.name).state) },
  { name: "namespace", when: () => existsSync(`/run/netns/${kernelNames(net.name).netns}`) },
  {
    // a macvlan's fdb entry, or the veth pair's host end (core/input/attach.ts: by the bridges)
    name: "uplink attached",
    when: () =>
      fdbLocals().has(`${net.uplinkBridge} ${uplinkMac(parseIp(net.uplink!.split("/")[0]!)!)}`) ||
      existsSync(`/sys/class/net/${kernelNames(net.name).uplinkHost}`),
  },
  { name: "dnsmasq pid file", when: () => existsSync(netPaths(roots(), net.name).pidFile) },
];

async function expectOk(op: string, subop: string): Promise<void> {
  const r = await runHook(net.name, op, subop, hookData(net));
  assert.equal(r.exitCode, 0, `${op} ${subop} (seed ${seed}): ${r.stderr}`);
  assert.equal(r.stdout + r.stderr, "");
}

describe("SIGKILL during started", () => {
  let fullMs = 0;

  test("an uninterrupted start is healthy (and sets the kill window)", async () => {
    await expectOk("start", "begin");
    const t0 = performance.now();
    await expectOk("started", "begin");
    fullMs = performance.now() - t0;
    assert.equal(await healthOf({ name: net.name, xml: networkXml(net), active: true }), "healthy");
    await expectOk("stopped", "end");
    assert.deepEqual(vnatDebris(net.name), []);
  });

  test(`seed ${seed}: ${runs} kills, each followed by a restart or a stop (VNAT_CRASH_SEED=${seed} reproduces)`, async (t) => {
    const r = rng(seed);
    const where = new Map<string, number>();
    let violations = 0;
    for (let i = 0; i < runs; i++) {
      // a moment the hook is seen to reach (or its start), then a random few milliseconds more
      const trigger = TRIGGERS[Math.floor(r() * TRIGGERS.length)]!;
      const delay = Math.round(trigger.name === "start" ? r() * fullMs * 1.1 : r() * 15);
      const scope = r() < 0.5 ? "hook" : "group";
      const roll = r();
      const next = roll < 0.4 ? "restart" : roll < 0.7 ? "restart, stop killed" : "stop";
      const run = await runHookAndKill(
        [net.name, "started", "begin", "-"],
        hookData(net),
        delay,
        scope,
        {},
        trigger.when,
      );
      const point = run.killed ? await reached() : "finished";
      where.set(point, (where.get(point) ?? 0) + 1);
      const what = `run ${i} (seed ${seed}): killed ${scope} ${delay} ms after "${trigger.name}", having reached "${point}", then ${next}`;
      try {
        if (next.startsWith("restart")) {
          await expectOk("start", "begin");
          await expectOk("started", "begin");
          assert.equal(await healthOf({ name: net.name, xml: networkXml(net), active: true }), "healthy", what);
        }
        if (next.endsWith("stop killed"))
          // teardown interrupted too: the next `stopped` finishes it
          await runHookAndKill(
            [net.name, "stopped", "end", "-"],
            hookData(net),
            Math.round(r() * 60),
            scope,
            {},
            () => true,
          );
        await expectOk("stopped", "end");
        assert.deepEqual(vnatDebris(net.name), [], what);
      } catch (e) {
        violations++;
        throw new Error(`${what}: ${(e as Error).message}`);
      }
    }
    const hist = [...where].map(([k, v]) => `${k} ${v}`).join(", ");
    t.diagnostic(
      `seed ${seed}: ${runs} kills (window ${Math.round(fullMs)} ms; reached: ${hist}), violations ${violations}`,
    );
  });
});
