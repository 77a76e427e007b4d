// IPv6 in `vnat status` and `vnat reconcile` (issue 17) on real namespaces: a dual-stack
// network started by hooks/network is healthy (its `table ip6 vnat` matches the reference),
// status --json shows its IPv6 side within the documented schema, drift of the ip6 table is
// named and repaired, and the guest reaches the internet over IPv6 again afterwards.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { loadConfig } from "../../src/adapters/store/config-file.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import type { Config } from "../../src/core/input/config.ts";
import { evaluate, type Verdict } from "../../src/core/judge/health.ts";
import { kernelNames } from "../../src/core/names.ts";
import { statusDoc } from "../../src/core/observe/status-doc.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { reconcile } from "../../src/exec/reconcile.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { validate } from "../support/json-schema.ts";
import { run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../docs/status.schema.json", import.meta.url)), "utf8"),
);
const R = roots({});
const tag = randomBytes(2).toString("hex");
const unmet = worldUnavailable();
const UPLINK6 = "2001:db8:100::31";

let world: World;
let config: Config;
let net: NetOpts;
let guest: Guest;

const libvirtView = () => [{ name: net.name, active: true, autostart: false, persistent: true, xml: networkXml(net) }];
const observe = () => probeAll({ runner: processRunner, roots: R, config, networks: libvirtView(), only: [net.name] });

async function verdict(): Promise<Verdict> {
  const o = (await observe()).observations.find((x) => x.name === net.name);
  assert.ok(o, `no observation of ${net.name}`);
  return evaluate(o);
}

async function fetch6(): Promise<string> {
  return (await guest.fetch(`http://[${world.internetIp6}]/`)).trim();
}

before(async () => {
  if (unmet) return;
  world = await createWorld();
  config = await loadConfig(R.config); // with the world's provider (and its gateway6) in it
  net = {
    name: `s${tag}v6`,
    bridge: await world.addLanBridge(),
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.31/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    extraMetadata: `<vnat:lan6 address="fd00:5::1/64"/><vnat:uplink6 address="${UPLINK6}/64"/>`,
  };
  const r = await runHook(net.name, "started", "begin", hookData(net));
  assert.equal(r.exitCode, 0, r.stderr);
  guest = await world.addGuest(net.bridge);
  await guest.addStaticAddress6("fd00:5::50/64", "fd00:5::1");
});

after(async () => {
  if (unmet) return;
  await runHook(net.name, "stopped", "end", hookData(net));
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).test("a dual-stack network is healthy; its JSON keeps to the schema", {}, async () => {
  assert.equal(await fetch6(), UPLINK6);
  assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
  const { observations } = await observe();
  const doc = statusDoc(observations, [], [], new Date());
  assert.deepEqual(validate(SCHEMA, JSON.parse(JSON.stringify(doc))), []);
});

needs(unmet).test("a changed ip6 table is named and replaced by reconcile; IPv6 works again", {}, async () => {
  const ns = kernelNames(net.name).netns;
  await run("ip", ["netns", "exec", ns, "nft", "flush", "table", "ip6", "vnat"]);
  const v = await verdict();
  assert.equal(v.health, "degraded");
  assert.ok(
    v.reasons.some((r) => r.code === "ruleset-changed"),
    JSON.stringify(v.reasons),
  );
  const lines: string[] = [];
  const report = await reconcile({
    runner: processRunner,
    roots: R,
    config,
    networks: libvirtView(),
    only: [net.name],
    dryRun: false,
    progress: (l) => lines.push(l),
  });
  for (const o of report.outcomes) assert.deepEqual([o.failed, o.remaining], [[], []], lines.join(" | "));
  assert.ok(
    lines.some((l) => /ruleset/.test(l)),
    lines.join(" | "),
  );
  assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
  assert.equal(await fetch6(), UPLINK6);
});
