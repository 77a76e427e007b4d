// exec/change/repair.ts: each repair reconcile plans, carried out on a network started from source
// (the hook's handler, in this process) in a sandbox world, its run dir in a temp dir: what
// was broken by hand in the namespace is back afterwards; "create" rebuilds a namespace that
// was deleted, "remove" takes everything away, and a repair that cannot be done says which.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { hasState, readState } from "../../src/adapters/store/state.ts";
import { LAN_IF, kernelNames } from "../../src/core/names.ts";
import { netPaths } from "../../src/core/paths.ts";
import { normalizeRuleset } from "../../src/core/judge/ruleset.ts";
import type { NetSpec } from "../../src/core/input/spec.ts";
import { ourDnsmasqPid, inNetns, processArgs } from "../../src/exec/probe/host.ts";
import { applyRepair } from "../../src/exec/change/repair.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { vnatDebris } from "../support/hook.ts";
import { createWorld, type World } from "../support/sandbox.ts";
import { hookEventInProcess } from "../support/scratch.ts";
import { run, waitFor } from "../support/sh.ts";

const dir = mkdtempSync(join(tmpdir(), "vnat-repair-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
const ctx = { runner: processRunner, roots };
let world: World;
let net: NetOpts;
let spec: NetSpec;
const NAME = `rp${Math.random().toString(16).slice(2, 8)}`;
const netns = kernelNames(NAME).netns;
const pidFile = () => netPaths(roots, NAME).pidFile;

const ruleset = async () =>
  normalizeRuleset((await run("ip", ["netns", "exec", netns, "nft", "list", "ruleset"])).stdout);
const defaultRoute = async () => (await run("ip", ["-n", netns, "route", "show", "default"])).stdout.trim();
const lanUp = async () =>
  (
    JSON.parse((await run("ip", ["-n", netns, "-j", "link", "show", LAN_IF])).stdout) as Array<{ flags: string[] }>
  )[0]!.flags.includes("UP");

before(async () => {
  world = await createWorld();
  writeFileSync(
    roots.config,
    JSON.stringify({ providers: [{ bridge: world.providerBridge, gateway: `${world.providerGateway}/24` }] }),
  );
  net = {
    name: NAME,
    bridge: await world.addLanBridge(),
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.22/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
  };
  await hookEventInProcess(roots, [NAME, "start", "begin"], hookData(net));
  await hookEventInProcess(roots, [NAME, "started", "begin"], hookData(net));
  spec = (await readState(roots, NAME))!.spec!;
  assert.ok(spec);
});
after(async () => {
  try {
    await hookEventInProcess(roots, [NAME, "stopped", "end"], hookData(net));
    assert.deepEqual(
      vnatDebris(NAME).filter((d) => !d.startsWith("state dir")),
      [],
    );
  } finally {
    await world.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ruleset: a flushed ruleset is loaded again as it was", async () => {
  const before = await ruleset();
  await run("ip", ["netns", "exec", netns, "nft", "flush", "ruleset"]);
  assert.equal(await ruleset(), "");
  await applyRepair(ctx, { kind: "ruleset", spec });
  assert.equal(await ruleset(), before);
});

test("route and link-up: a deleted default route and a downed lan0 are back", async () => {
  const route = await defaultRoute();
  assert.match(route, /^default via 198\.51\.100\.1/);
  await run("ip", ["-n", netns, "route", "del", "default"]);
  await applyRepair(ctx, { kind: "route", spec });
  assert.equal(await defaultRoute(), route);
  await run("ip", ["-n", netns, "link", "set", LAN_IF, "down"]);
  assert.equal(await lanUp(), false);
  await applyRepair(ctx, { kind: "link-up", ifname: LAN_IF, netns });
  assert.equal(await lanUp(), true);
});

test("dnsmasq: a killed dnsmasq runs again inside the namespace with the same arguments", async () => {
  const pid = ourDnsmasqPid(pidFile());
  assert.ok(pid !== null);
  const args = processArgs(pid);
  await run("kill", ["-KILL", String(pid)]);
  await waitFor(() => processArgs(pid) === null, 5000, "dnsmasq to go");
  await applyRepair(ctx, { kind: "dnsmasq", spec, stopPid: null });
  const again = ourDnsmasqPid(pidFile());
  assert.ok(again !== null && again !== pid);
  assert.ok(inNetns(again, netns));
  assert.deepEqual(processArgs(again), args);
});

test("create: a deleted namespace is built again (state active, its ruleset and dnsmasq back)", async () => {
  const rules = await ruleset();
  await run("ip", ["netns", "del", netns]);
  await applyRepair(ctx, { kind: "create", spec, rebuild: true });
  assert.ok(existsSync(`/run/netns/${netns}`));
  assert.equal((await readState(roots, NAME))?.phase, "active");
  assert.equal(await ruleset(), rules);
  const pid = ourDnsmasqPid(pidFile());
  assert.ok(pid !== null && inNetns(pid, netns));
});

test("a repair that cannot be done is an error naming it", async () => {
  const gone = { ...spec, names: { ...spec.names, netns: `${netns}-gone` } };
  await assert.rejects(applyRepair(ctx, { kind: "route", spec: gone }), /replace the default route/);
});

test("remove: namespace, dnsmasq and state go", async () => {
  const pid = ourDnsmasqPid(pidFile());
  await applyRepair(ctx, { kind: "remove", name: NAME, fdb: [] });
  assert.ok(pid !== null);
  assert.equal(existsSync(`/run/netns/${netns}`), false, "namespace gone");
  assert.equal(await hasState(roots, NAME), false, "state gone");
  await waitFor(() => processArgs(pid) === null, 5000, "dnsmasq to stop");
});
