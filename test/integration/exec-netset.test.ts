// exec/change/netset.ts: `vnat net set` applied to a running network's namespace, on the real
// kernel. A network is started from source (the hook's handler, in this process) in a
// sandbox world, with its run dir and config in a temp dir. An isolation change swaps the
// ruleset, a DNS change restarts dnsmasq with the new upstream, the state records the new
// spec; nothing to do, other changes or a stopped network are said so; a failure after
// both were redone puts both back and leaves the state as it was.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readState } from "../../src/adapters/store/state.ts";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { kernelNames } from "../../src/core/names.ts";
import { netPaths } from "../../src/core/paths.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { applyNetSetLocked } from "../../src/exec/change/netset.ts";
import { ourDnsmasqPid, processArgs } from "../../src/exec/probe/host.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { vnatDebris } from "../support/hook.ts";
import { createWorld, type World } from "../support/sandbox.ts";
import { hookEventInProcess } from "../support/scratch.ts";
import { run } from "../support/sh.ts";

const dir = mkdtempSync(join(tmpdir(), "vnat-netset-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
let world: World;
let net: NetOpts;
let config: Config;
const NAME = `ns${Math.random().toString(16).slice(2, 8)}`;
const netns = kernelNames(NAME).netns;

const specOf = (o: NetOpts): NetSpec => buildSpec(parseHookData(hookData(o)).network, config);
const ruleset = async () => (await run("ip", ["netns", "exec", netns, "nft", "list", "ruleset"])).stdout;
const dnsmasqArgs = () => processArgs(ourDnsmasqPid(netPaths(roots, NAME).pidFile) ?? 0) ?? [];

before(async () => {
  world = await createWorld();
  const text = JSON.stringify({
    providers: [{ bridge: world.providerBridge, gateway: `${world.providerGateway}/24` }],
    allowOpenIsolation: true,
  });
  writeFileSync(roots.config, text);
  config = parseConfig(roots.config, text);
  net = {
    name: NAME,
    bridge: await world.addLanBridge(),
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.21/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
  };
  await hookEventInProcess(roots, [NAME, "start", "begin"], hookData(net));
  await hookEventInProcess(roots, [NAME, "started", "begin"], hookData(net));
  assert.equal((await readState(roots, NAME))?.phase, "active");
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

test("isolation opened: the ruleset is replaced, the state records it; the same again is current", async () => {
  assert.match(await ruleset(), /host_addrs/);
  const next = specOf({ ...net, extraMetadata: `<vnat:isolation host="open"/>` });
  assert.deepEqual(await applyNetSetLocked(processRunner, roots, next), { live: "applied", redone: ["ruleset"] });
  assert.doesNotMatch(await ruleset(), /host_addrs/);
  assert.deepEqual((await readState(roots, NAME))?.spec?.isolation, { host: "open", provider: "blocked" });
  assert.deepEqual(await applyNetSetLocked(processRunner, roots, next), { live: "current" });
  net = { ...net, extraMetadata: `<vnat:isolation host="open"/>` };
});

test("DNS upstream changed: dnsmasq runs again with the new server, keeping the ruleset", async () => {
  const before = ruleset();
  const pid = ourDnsmasqPid(netPaths(roots, NAME).pidFile);
  assert.ok(pid !== null && dnsmasqArgs().includes(`--server=${world.upstreamDns}`), dnsmasqArgs().join(" "));
  const next = specOf({ ...net, dns: ["198.18.0.53"] });
  assert.deepEqual(await applyNetSetLocked(processRunner, roots, next), { live: "applied", redone: ["dnsmasq"] });
  assert.notEqual(ourDnsmasqPid(netPaths(roots, NAME).pidFile), pid);
  assert.ok(dnsmasqArgs().includes("--server=198.18.0.53"), dnsmasqArgs().join(" "));
  assert.equal(await ruleset(), await before);
  net = { ...net, dns: ["198.18.0.53"] };
});

test("a failure after everything was redone: both put back, state unchanged, apply-failed in one line", async () => {
  const rulesBefore = await ruleset();
  const argsBefore = dnsmasqArgs();
  const stateBefore = await readState(roots, NAME);
  const next = specOf({ ...net, dns: [world.upstreamDns], extraMetadata: "" });
  await assert.rejects(
    applyNetSetLocked(processRunner, roots, next, { failpoint: "net-set" }),
    (e: unknown) =>
      e instanceof VnatError &&
      e.kind === "apply-failed" &&
      /^network "ns\w+": injected failure .*\(the running network was put back as it was\)$/.test(e.message),
  );
  assert.equal(await ruleset(), rulesBefore);
  assert.deepEqual(dnsmasqArgs(), argsBefore);
  assert.deepEqual(await readState(roots, NAME), stateBefore);
});

test("a change beyond net set's live fields waits for a restart; a network not running is said so", async () => {
  const ruleBefore = await ruleset();
  const next = specOf({ ...net, lan: "10.9.0.1/24" });
  assert.deepEqual(await applyNetSetLocked(processRunner, roots, next), { live: "other-changes" });
  assert.equal(await ruleset(), ruleBefore);
  const other = specOf({ ...net, name: `${NAME}x` });
  assert.deepEqual(await applyNetSetLocked(processRunner, roots, other), { live: "not-running" });
});
