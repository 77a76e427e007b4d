// vnat as a user drives it, against the real libvirt daemon: `vnat provider add`,
// `vnat net create`, `virsh net-start` (the hook in /etc/libvirt/hooks/network.d), guest
// namespaces on the libvirt bridges, `virsh net-destroy`, `vnat net delete`.
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  netDebris,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { cacheEntries } from "../support/hook.ts";
import { run } from "../support/sh.ts";
import { createWorld, worldUnavailable, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();

interface ListedNet {
  name: string;
  state: string;
  bridge: string;
  lan: string;
  uplink: string;
  provider: string;
}

async function uplinkIn(name: string): Promise<string | undefined> {
  const r = await run("ip", ["-n", kernelNames(name).netns, "-4", "-j", "addr", "show", "dev", "wan0"]);
  return (JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string }> }>)[0]?.addr_info[0]?.local;
}

needs(unmet).describe("vnat CLI + virsh + hook (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let cfgDir: string;
  let cfg: string;
  let tag: string;
  const net = (s: string): string => tracker.network(`vne-${tag}-${s}`);
  const create = async (name: string, bridgeSuffix: string, ...extra: string[]): Promise<string> => {
    const r = await createSandboxNet(cfg, world, name, { bridge: `vnb-${tag}${bridgeSuffix}`, extra });
    assert.equal(r.exitCode, 0, `vnat net create ${name}: ${r.stderr}`);
    return r.stdout;
  };
  const list = async (): Promise<ListedNet[]> =>
    (JSON.parse((await vnat(cfg, ["net", "list", "--json"])).stdout) as ListedNet[]).filter((n) =>
      n.name.includes(tag),
    );

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    tag = world.tag;
    cfgDir = await mkdtemp(join(tmpdir(), `vnat-e2e-${tag}-`));
    cfg = join(cfgDir, "config.json");
    const r = await addSandboxProvider(cfg, world, "198.51.100.10-198.51.100.40");
    assert.equal(r.exitCode, 0, r.stderr);
    console.log(`# world ${tag}; hook ${hook.path} (${hook.installedByTest ? "put there by the tests" : "installed"})`);
  });

  after(async () => {
    await closeE2e({ tracker, world, hook, dir: cfgDir });
  });

  test("1+3. two networks on 10.0.0.0/24: guests lease, resolve, fetch from distinct uplinks; net-destroy leaves nothing", async () => {
    const [a, b] = [net("a"), net("b")];
    assert.match(await create(a, "a"), /uplink\s+198\.51\.100\.10\/24 on vtp-\w+ \(auto\)/);
    assert.match(await create(b, "b"), /uplink\s+198\.51\.100\.11\/24 on vtp-\w+ \(auto\)/);
    const listed = await list();
    assert.deepEqual(
      listed.map((n) => [n.name, n.state, n.bridge, n.lan, n.uplink]),
      [
        [a, "inactive", `vnb-${tag}a`, "10.0.0.1/24", "198.51.100.10/24"],
        [b, "inactive", `vnb-${tag}b`, "10.0.0.1/24", "198.51.100.11/24"],
      ],
    );
    // `vnat net create` remembered the document libvirt sends at `start begin` (src/core/hookcache.ts):
    // the entry the hook writes at the start has the same key, so the guess was byte-exact
    const remembered = [a, b].map(cacheEntries);
    for (const r of remembered) assert.equal(r.length, 1);
    for (const n of [a, b]) await virsh(["net-start", n], { check: true });
    assert.deepEqual([a, b].map(cacheEntries), remembered);

    const sources: string[] = [];
    for (const [n, uplink] of [
      [a, "198.51.100.10"],
      [b, "198.51.100.11"],
    ] as const) {
      const guest = await world.addGuest(`vnb-${tag}${n.slice(-1)}`);
      const lease = await guest.dhcp();
      assert.equal(lease.prefix, 24);
      assert.match(lease.ip, /^10\.0\.0\.\d+$/);
      assert.equal(lease.router, "10.0.0.1");
      assert.deepEqual(lease.dns, ["10.0.0.1"]);
      assert.equal(await guest.resolve(world.dnsName), world.internetIp);
      const body = await guest.fetch(`http://${world.dnsName}/`);
      assert.equal(body.trim(), uplink, `${n}: the internet saw ${body.trim()}`);
      sources.push(body.trim());
      console.log(`# ${n}: guest leased ${lease.ip}/24, fetched as ${body.trim()}`);
    }
    assert.deepEqual((await world.serverSources()).slice(-2), ["198.51.100.10", "198.51.100.11"]);
    assert.equal(await world.privateSourcePackets(), 0, "a 10.x source reached the provider network");

    for (const n of [a, b]) await virsh(["net-destroy", n], { check: true });
    for (const s of ["a", "b"]) assert.deepEqual(await netDebris(`vne-${tag}-${s}`, `vnb-${tag}${s}`), []);
    for (const n of [a, b]) assert.equal((await vnat(cfg, ["net", "delete", n])).exitCode, 0);
    assert.deepEqual([a, b].map(cacheEntries), [[], []]);
    assert.deepEqual(await list(), []);
  });

  test("4. bad metadata: net-start fails, the error names the problem, nothing is left (libvirt's bridge included)", async () => {
    const name = net("bad");
    const bridge = `vnb-${tag}x`;
    const file = tracker.file(join(cfgDir, "bad.xml"));
    await writeFile(
      file,
      `<network><name>${name}</name><bridge name="${bridge}"/><metadata>
  <vnat:network xmlns:vnat="urn:vnat:network:1">
    <vnat:lan address="10.0.0.1/24"/>
    <vnat:uplink bridge="${world.providerBridge}" address="198.51.100.300/24" gateway="198.51.100.1"/>
  </vnat:network></metadata></network>\n`,
    );
    await virsh(["net-define", file], { check: true });
    const r = await virsh(["net-start", name]);
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /uplink address "198\.51\.100\.300\/24": not an IPv4 address with prefix/);
    console.log(`# the user sees: ${r.stderr.trim().split("\n").join(" | ")}`);
    assert.deepEqual(await netDebris(name, bridge), []);
    assert.equal((await vnat(cfg, ["net", "delete", name])).exitCode, 0);
  });

  test("7. --dry-run validates and defines nothing; --json says what was done (the uplink auto chose)", async () => {
    const name = net("j");
    const bridge = `vnb-${tag}j`;
    const dry = await createSandboxNet(cfg, world, name, { bridge, extra: ["--dry-run", "--json"] });
    assert.equal(dry.exitCode, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout) as {
      network: string;
      bridge: string;
      uplink: { address: string; auto: boolean };
      dryRun?: boolean;
      xml: string;
    };
    assert.equal(planned.network, name);
    assert.equal(planned.bridge, bridge);
    assert.equal(planned.dryRun, true);
    assert.equal(planned.uplink.auto, true);
    assert.match(planned.uplink.address, /^198\.51\.100\.\d+\/24$/);
    assert.match(planned.xml, new RegExp(`<name>${name}</name>`));
    assert.notEqual((await virsh(["net-info", name])).exitCode, 0, "a dry run defines nothing");
    assert.deepEqual(await netDebris(name, bridge), []);

    // the same checks as a real create: a wrong prefix is named as such, and nothing is defined
    const wrong = await createSandboxNet(cfg, world, name, {
      bridge,
      uplink: "198.51.100.50/16",
      extra: ["--dry-run"],
    });
    assert.equal(wrong.exitCode, 2);
    assert.equal(
      wrong.stderr,
      `vnat: network "${name}": uplink 198.51.100.50/16: provider "${world.providerBridge}" is a /24 (give 198.51.100.50/24, or the bare address)\n`,
    );

    // and what the network's start begin would refuse: another host answering on the uplink address
    const intruder = await world.addProviderHost("198.51.100.45/24");
    try {
      const taken = await createSandboxNet(cfg, world, name, { bridge, uplink: "198.51.100.45", extra: ["--dry-run"] });
      assert.equal(taken.exitCode, 3, taken.stderr);
      assert.match(
        taken.stderr,
        new RegExp(
          `^vnat: network "${name}": uplink 198\\.51\\.100\\.45 on bridge "${world.providerBridge}" is already answered for by `,
        ),
      );
    } finally {
      await run("ip", ["-n", intruder.ns, "addr", "flush", "dev", intruder.ifname]);
    }

    const made = await createSandboxNet(cfg, world, name, { bridge, extra: ["--json"] });
    assert.equal(made.exitCode, 0, made.stderr);
    const done = JSON.parse(made.stdout) as { network: string; uplink: { address: string; auto: boolean } };
    assert.equal(done.network, name);
    assert.equal("dryRun" in done, false);
    assert.equal(done.uplink.address, planned.uplink.address, "nothing took the planned address meanwhile");
    assert.equal((await list()).find((n) => n.name === name)?.uplink, done.uplink.address);

    const del = await vnat(cfg, ["net", "delete", name, "--json"]);
    assert.equal(del.exitCode, 0, del.stderr);
    assert.deepEqual(JSON.parse(del.stdout), { network: name, deleted: true, stopped: false });
    assert.notEqual((await virsh(["net-info", name])).exitCode, 0);
  });

  test("6. two --uplink auto networks created and started in parallel get distinct uplinks", async () => {
    const [c, d] = [net("c"), net("d")];
    const outs = await Promise.all([create(c, "c"), create(d, "d")]);
    const picked = outs.map((o) => /uplink\s+(\S+)\//.exec(o)?.[1]);
    assert.notEqual(picked[0], picked[1]);
    const starts = await Promise.all([c, d].map((n) => virsh(["net-start", n])));
    assert.deepEqual(
      starts.map((s) => s.exitCode),
      [0, 0],
      starts.map((s) => s.stderr).join(" | "),
    );
    const live = [await uplinkIn(c), await uplinkIn(d)];
    assert.deepEqual(live, picked);
    console.log(`# parallel: ${c} → ${live[0]}, ${d} → ${live[1]}`);

    const refused = await vnat(cfg, ["net", "delete", c]);
    assert.equal(refused.exitCode, 3);
    assert.equal(
      refused.stderr.trim(),
      `vnat: network "${c}": is active (stop it with virsh net-destroy ${c}, or use --force)`,
    );
    for (const n of [c, d]) assert.equal((await vnat(cfg, ["net", "delete", n, "--force"])).exitCode, 0);
    for (const s of ["c", "d"]) assert.deepEqual(await netDebris(`vne-${tag}-${s}`, `vnb-${tag}${s}`), []);
  });
});
