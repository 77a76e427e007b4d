// `vnat status`, `vnat reconcile` and `vnat doctor` as an administrator runs them, against
// the real libvirt daemon and a network started by `virsh net-start` through the hook.
// Every reconcile names this test's networks: other tests' namespaces on this machine are
// not ours to sweep.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import type { NetworkDoc, StatusDoc } from "../../src/core/observe/status-doc.ts";
import { validate } from "../support/json-schema.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { run } from "../support/sh.ts";
import { createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../docs/status.schema.json", import.meta.url)), "utf8"),
);

needs(unmet).describe("vnat status / reconcile / doctor (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let cfgDir: string;
  let cfg: string;
  let a: string;
  let b: string;
  let guest: Guest;
  const uplinkA = "198.51.100.61";

  const status = async (name: string): Promise<NetworkDoc> => {
    const r = await vnat(cfg, ["status", name, "--json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as StatusDoc;
    assert.deepEqual(validate(SCHEMA, doc), []);
    assert.equal(doc.networks.length, 1);
    return doc.networks[0]!;
  };
  const reconcile = async (...args: string[]) => {
    const r = await vnat(cfg, ["reconcile", ...args]);
    assert.equal(r.exitCode, 0, `vnat reconcile ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return r;
  };

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    a = tracker.network(`vns-${world.tag}-a`);
    b = tracker.network(`vns-${world.tag}-b`);
    cfgDir = await mkdtemp(join(tmpdir(), `vnat-e2e-${world.tag}-`));
    cfg = join(cfgDir, "config.json");
    assert.equal((await addSandboxProvider(cfg, world)).exitCode, 0);
    for (const [n, uplink, br] of [
      [a, uplinkA, "a"],
      [b, "198.51.100.62", "b"],
    ] as const) {
      const r = await createSandboxNet(cfg, world, n, { uplink: `${uplink}/24`, bridge: `vsb-${world.tag}${br}` });
      assert.equal(r.exitCode, 0, r.stderr);
    }
    await virsh(["net-start", a], { check: true });
    guest = await world.addGuest(`vsb-${world.tag}a`);
    await guest.dhcp();
  });

  after(async () => {
    await closeE2e({ tracker, world, hook, dir: cfgDir });
  });

  test("status: the running network in detail, the defined one stopped; the table on a pipe has no colour", async () => {
    await guest.fetch(`http://${world.internetIp}/`);
    const n = await status(a);
    assert.equal(n.health, "healthy", JSON.stringify(n.reasons));
    assert.deepEqual(n.libvirt, { active: true, autostart: false, persistent: true });
    assert.deepEqual(
      [n.uplink?.address, n.uplink?.bridge, n.lan?.gateway],
      [`${uplinkA}/24`, world.providerBridge, "10.0.0.1/24"],
    );
    assert.equal(n.leases.length, 1);
    assert.ok(n.nat.out!.packets > 0 && n.nat.in!.packets > 0, JSON.stringify(n.nat));
    assert.equal((await status(b)).health, "stopped");
    const table = await vnat(cfg, ["status"]);
    assert.equal(table.exitCode, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`\\n${a} +active +healthy +${uplinkA}/24 `));
    assert.doesNotMatch(table.stdout, /\x1b\[/);
    assert.match(table.stdout, /^NETWORK +LIBVIRT +HEALTH .* NAT PKTS OUT\/IN /);
    const detail = await vnat(cfg, ["status", a]);
    assert.match(detail.stdout, /\nnat out +[1-9]\d* packets, \d+(\.\d)? (B|KiB|MiB)\n/);
    const t0 = performance.now();
    await vnat(cfg, ["status", "--json"]);
    console.log(`# vnat status --json, whole host: ${Math.round(performance.now() - t0)} ms`);
  });

  test("namespace deleted: status says so, --dry-run plans, reconcile recreates it", async () => {
    await run("ip", ["netns", "del", kernelNames(a).netns]);
    const n = await status(a);
    assert.equal(n.health, "down");
    assert.deepEqual(n.reasons, [{ code: "namespace-missing", message: "network active but namespace missing" }]);
    const dry = await reconcile("--dry-run", a, b);
    assert.match(dry.stdout, new RegExp(`^\\[1/1\\] ${a}: would create namespace vnat-${a}\\n`));
    assert.equal((await status(a)).health, "down", "a dry run changes nothing");
    const plan = JSON.parse((await reconcile("--dry-run", "--json", a, b)).stdout) as {
      networks: Array<{ network: string; repairs: string[] }>;
      dryRun?: boolean;
    };
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.networks.find((x) => x.network === a)?.repairs, [`create namespace vnat-${a}`]);
    assert.equal((await status(a)).health, "down", "a dry run changes nothing");
    const r = await reconcile(a, b);
    assert.match(r.stderr, new RegExp(`\\[1/1\\] ${a}: create namespace vnat-${a}: done`));
    assert.match(r.stdout, /reconcile: 2 network\(s\) checked, 1 repaired, 0 with problems left/);
    assert.equal((await status(a)).health, "healthy");
    await guest.dhcp();
    assert.equal((await guest.fetch(`http://${world.internetIp}/`)).trim(), uplinkA);
  });

  test("a port forward added live (persistent XML only) is desired state: healthy, and a ruleset repair keeps it", async () => {
    const add = await vnat(cfg, ["forward", "add", a, "tcp", "8080", "10.0.0.150:80"]);
    assert.equal(add.exitCode, 0, add.stderr);
    assert.equal((await status(a)).health, "healthy");
    const ns = kernelNames(a).netns;
    await run("ip", ["netns", "exec", ns, "nft", "flush", "ruleset"]);
    assert.equal((await status(a)).reasons[0]?.code, "ruleset-changed");
    await reconcile(a);
    assert.equal((await status(a)).health, "healthy");
    const rules = (await run("ip", ["netns", "exec", ns, "nft", "list", "ruleset"])).stdout;
    assert.match(rules, /tcp \. 8080 : 10\.0\.0\.150 \. 80\b/); // the forward, back in the fwd_port map
    assert.equal((await vnat(cfg, ["forward", "remove", a, "tcp", "8080"])).exitCode, 0);
    assert.equal((await status(a)).health, "healthy");
  });

  test("a namespace left without an active network is removed", async () => {
    const ns = kernelNames(b).netns;
    await run("ip", ["netns", "add", ns]);
    const n = await status(b);
    assert.equal(n.health, "orphan");
    assert.deepEqual(n.reasons, [
      { code: "namespace-orphan", message: `namespace left without an active network (${ns})` },
    ]);
    await reconcile(a, b);
    assert.equal((await status(b)).health, "stopped");
    assert.equal((await status(a)).health, "healthy");
  });

  test("doctor: the hook and the uplink pass; another host on the uplink address fails it", async () => {
    const okRun = await vnat(cfg, ["doctor"]);
    assert.match(okRun.stdout, /^ok {4}hook: \/etc\/libvirt\/hooks\/network\.d\/vnat installed and runs$/m);
    assert.match(okRun.stdout, new RegExp(`^ok {4}uplink ${uplinkA} of ${a}: no other host answers for it$`, "m"));
    assert.match(okRun.stdout, new RegExp(`^ok {4}provider bridge ${world.providerBridge}: present$`, "m"));
    const intruder = await world.addProviderHost(`${uplinkA}/24`);
    const bad = await vnat(cfg, ["doctor"]);
    assert.equal(bad.exitCode, 1);
    assert.match(
      bad.stdout,
      new RegExp(
        `^FAIL {2}uplink ${uplinkA} of ${a}: answered by another host \\(MAC ${await intruder.mac()}\\) on ${world.providerBridge}`,
        "m",
      ),
    );
    const probed = await vnat(cfg, ["status", a, "--probe", "--json"]);
    const n = (JSON.parse(probed.stdout) as StatusDoc).networks[0]!;
    assert.equal(n.reasons[0]?.code, "uplink-duplicate");
    await run("ip", ["-n", intruder.ns, "addr", "flush", "dev", intruder.ifname]);
  });

  test("doctor: a defined network whose metadata breaks the uplink policy is reported", async () => {
    const xml = (await virsh(["net-dumpxml", "--inactive", b], { check: true })).stdout;
    const open = xml.replace("</vnat:network>", `<vnat:isolation host="open"/></vnat:network>`);
    assert.notEqual(open, xml);
    const file = join(cfgDir, "b-open.xml");
    await writeFile(file, open);
    await virsh(["net-define", file], { check: true });
    try {
      const r = await vnat(cfg, ["doctor"]);
      assert.equal(r.exitCode, 1);
      assert.match(
        r.stdout,
        new RegExp(
          `^FAIL {2}policy: network "${b}": isolation host="open" needs "allowOpenIsolation": true in the config \\(guests would reach this host's own addresses\\)`,
          "m",
        ),
      );
    } finally {
      await writeFile(file, xml);
      await virsh(["net-define", file], { check: true });
    }
    // other tests' networks on this host may be judged against this test's config: only b is ours
    assert.doesNotMatch((await vnat(cfg, ["doctor"])).stdout, new RegExp(`policy: network "${b}"`));
  });
});
