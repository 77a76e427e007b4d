// exec/doctor.ts: `vnat doctor`'s checks, run against this machine's real kernel and tools
// with libvirt's network list and the config handed in (as the CLI hands them), roots in a
// temp dir, provider bridges the test makes. What each input makes it say: an unreadable
// config or an unreachable daemon fails its check; a missing provider bridge, two networks
// sharing an uplink and a network outside the uplink policy are each named.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { LibvirtNetwork } from "../../src/adapters/libvirt/view.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import type { Check } from "../../src/core/judge/doctor.ts";
import { runDoctor } from "../../src/exec/doctor.ts";
import { processRunner } from "../../src/exec/run.ts";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { createWorld } from "../support/sandbox.ts";
import { hookEventInProcess } from "../support/scratch.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-doctor-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
let prov = "";
before(async () => {
  prov = await s.bridge("p");
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

const byId = (checks: Check[], id: string): Check[] => checks.filter((c) => c.id === id);
const one = (checks: Check[], id: string): Check => {
  const found = byId(checks, id);
  assert.equal(found.length, 1, `${id}: ${JSON.stringify(checks.map((c) => c.id))}`);
  return found[0]!;
};

test("no config and no libvirt: both fail with the reasons given; the kernel checks pass here", async () => {
  const checks = await runDoctor({
    runner: processRunner,
    roots,
    config: { error: "config.json: not JSON" },
    networks: { error: "cannot connect" },
    daemonVersion: undefined,
  });
  assert.equal(one(checks, "kernel-links").status, "ok");
  assert.equal(one(checks, "kernel-nft").status, "ok");
  assert.deepEqual(one(checks, "config"), {
    id: "config",
    status: "fail",
    message: "config: config.json: not JSON",
    fix: `fix ${roots.config} (vnat provider list shows what vnat reads)`,
  });
  const lv = one(checks, "libvirt");
  assert.equal(lv.status, "fail");
  assert.match(lv.message, /not reachable \(cannot connect\)/);
  assert.equal(byId(checks, "policy").length, 0, "no policy check without a config");
  for (const c of checks) assert.doesNotMatch(c.message, /\n/);
});

test("providers and defined networks: a missing bridge, a shared uplink, an unconfigured uplink bridge", async () => {
  const missing = `${prov}m`;
  const config = parseConfig(
    roots.config,
    JSON.stringify({
      providers: [
        { bridge: prov, gateway: "198.51.100.1/24" },
        { bridge: missing, gateway: "198.51.100.1/24" },
      ],
    }),
  );
  const net = (name: string, uplinkBridge: string, uplink: string): LibvirtNetwork => ({
    name,
    active: false,
    autostart: false,
    persistent: true,
    xml: networkXml({ name, bridge: "virbr77", uplinkBridge, uplink, gateway: "198.51.100.1" }),
  });
  const checks = await runDoctor({
    runner: processRunner,
    roots,
    config,
    networks: [
      net("doca", prov, "198.51.100.60/24"),
      net("docb", prov, "198.51.100.60/24"),
      net("docc", `${prov}u`, "198.51.100.61/24"),
    ],
    daemonVersion: "libvirtd (libvirt) 9.0.0",
  });
  assert.equal(one(checks, "config").status, "ok");
  assert.match(one(checks, "config").message, /\(2 provider\(s\)\)$/);
  assert.equal(one(checks, "libvirt").status, "ok");
  assert.equal(one(checks, `provider-${prov}`).status, "ok");
  assert.equal(one(checks, `provider-${missing}`).status, "fail");
  assert.equal(one(checks, `provider-${prov}u`).status, "fail", "a network's uplink bridge is checked too");
  assert.deepEqual(
    byId(checks, "uplinks").map((c) => [c.status, c.message]),
    [["fail", `uplinks: 198.51.100.60/24 on ${prov} is used by doca, docb`]],
  );
  const pol = one(checks, "policy-docc");
  assert.equal(pol.status, "fail");
  assert.match(pol.message, new RegExp(`uplink bridge "${prov}u" is not a configured provider`));
  assert.equal(byId(checks, "policy-doca").length, 0);
  // (namespaces of other tests running on this machine are observed too: only ours are judged here)
  assert.doesNotMatch(one(checks, "networks").message, /doca|docb|docc/, "stopped networks need no attention");
});

test("a running network: healthy, its uplink answered by nobody else; broken by hand, it needs attention", async () => {
  const world = await createWorld();
  const name = `dr${s.tag}`;
  let net: NetOpts | undefined;
  try {
    const text = JSON.stringify({ providers: [{ bridge: world.providerBridge, gateway: "198.51.100.1/24" }] });
    writeFileSync(roots.config, text);
    const config = parseConfig(roots.config, text);
    net = {
      name,
      bridge: await world.addLanBridge(),
      uplinkBridge: world.providerBridge,
      uplink: "198.51.100.23/24",
      gateway: world.providerGateway,
      dns: [world.upstreamDns],
    };
    await hookEventInProcess(roots, [name, "start", "begin"], hookData(net));
    await hookEventInProcess(roots, [name, "started", "begin"], hookData(net));
    const inp = {
      runner: processRunner,
      roots,
      config,
      networks: [{ name, active: true, autostart: false, persistent: true, xml: networkXml(net) }],
      daemonVersion: "libvirtd (libvirt) 9.0.0",
    };
    const healthy = await runDoctor(inp);
    // (other tests' vnat namespaces on this machine are observed too: only this one is judged)
    assert.doesNotMatch(one(healthy, "networks").message, new RegExp(name));
    assert.equal(one(healthy, `dad-${name}`).status, "ok");
    assert.equal(one(healthy, "policy").status, "ok");
    await run("ip", ["netns", "exec", kernelNames(name).netns, "nft", "flush", "ruleset"]);
    const broken = one(await runDoctor(inp), "networks");
    assert.equal(broken.status, "warn");
    assert.match(broken.message, new RegExp(`^networks: \\d+ of \\d+ need attention \\(.*\\b${name}\\b`));
  } finally {
    if (net) await hookEventInProcess(roots, [name, "stopped", "end"], hookData(net));
    await world.destroy();
  }
  assert.equal(existsSync(`/run/netns/${kernelNames(name).netns}`), false);
});
