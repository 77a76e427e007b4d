// Hostile network names against the REAL virsh and libvirt daemon (issue 13.1). libvirt
// forbids only "/" (and a line feed) in a network name; vnat reads libvirt through virsh,
// many commands in one process, so a name once quoted for a shell instead of for virsh's
// own tokenizer ran as virsh commands: `a';net-list;#` made `vnat status` call every vnat
// network an orphan and `vnat reconcile` tear down the ones sorting after it.
//
// Every hostile network here is defined (never started) from plain XML with no vnat
// metadata, with a UUID the test chose: they are removed by UUID, since a name such as
// "--x" or one that reads as another network's UUID cannot be handed to virsh by name.
// Beside them runs one vnat network; none of them may change what vnat says about it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadConfig } from "../../src/adapters/store/config-file.ts";
import { probeNetworks } from "../../src/adapters/libvirt/host-view.ts";
import { readLibvirtNetworks, type LibvirtNetwork } from "../../src/adapters/libvirt/view.ts";
import { dumpNetworks, listNetworks, setAutostart, undefineNetwork } from "../../src/adapters/libvirt/virsh.ts";
import type { StatusDoc } from "../../src/core/observe/status-doc.ts";
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
  virshRaw,
  vnat,
} from "../support/libvirt.ts";
import { createWorld, worldUnavailable, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();

/** Every ASCII punctuation character but "/", which libvirt refuses in a name. */
const PUNCTUATION = [..."!\"#$%&'()*+,-.:;<=>?@[\\]^_`{|}~"];

interface Hostile {
  name: string;
  uuid: string;
  bridge: string;
  /** undefined by the test itself (through vnat's undefineNetwork) */
  removed?: boolean;
}

/** XML text: the five markup characters, and control characters as references (a literal CR would be read as LF). */
const xmlText = (s: string): string => s.replace(/[&<>"'\x00-\x1f\x7f]/g, (c) => `&#${c.codePointAt(0)};`);

/** `<network><name>` is the first thing libvirt writes; the name exactly, as libvirt escapes it. */
const xmlName = (xml: string): string | undefined => {
  const m = /<name>([^<]*)<\/name>/.exec(xml);
  if (!m) return undefined;
  return m[1]!.replace(/&(?:#(\d+)|#x([0-9a-f]+)|(lt|gt|amp|apos|quot));/gi, (_x, d, h, n) =>
    d !== undefined
      ? String.fromCodePoint(Number(d))
      : h !== undefined
        ? String.fromCodePoint(Number.parseInt(h as string, 16))
        : { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' }[(n as string).toLowerCase() as "lt"],
  );
};

needs(unmet).describe("hostile libvirt network names (real virsh)", {}, () => {
  const tracker = new LibvirtTracker();
  const hostile: Hostile[] = [];
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let dir: string;
  let cfg: string;
  let tag: string;
  let vnet: string;
  let bridgeNo = 0;

  /** Defines a network with no vnat metadata; returns false when libvirt refuses the name. */
  const define = async (name: string, uuid = randomUUID()): Promise<boolean> => {
    const bridge = `vxq${tag}${bridgeNo++}`;
    const file = join(dir, `net-${bridgeNo}.xml`);
    await writeFile(
      file,
      `<network><name>${xmlText(name)}</name><uuid>${uuid}</uuid><bridge name='${bridge}'/></network>\n`,
    );
    const r = await virshRaw(["net-define", file]);
    if (r.exitCode !== 0) return false;
    hostile.push({ name, uuid, bridge });
    return true;
  };

  /** Each hostile network, exactly once, with its own definition, stopped. */
  const assertHostileSeen = (nets: LibvirtNetwork[]): void => {
    for (const h of hostile) {
      const found = nets.filter((n) => n.xml.includes(`<uuid>${h.uuid}</uuid>`));
      assert.equal(found.length, 1, `network ${JSON.stringify(h.name)}: ${found.length} entries`);
      const n = found[0]!;
      assert.equal(n.name, h.name, `network ${JSON.stringify(h.name)} was read as ${JSON.stringify(n.name)}`);
      assert.equal(xmlName(n.xml), h.name);
      assert.match(n.xml, new RegExp(`<bridge name='${h.bridge}'`));
      assert.deepEqual(
        [n.active, n.persistent, n.autostart, n.persistentXml],
        [false, true, false, undefined],
        JSON.stringify(h.name),
      );
    }
    const byName = nets.filter((n) => n.name === vnet);
    assert.equal(byName.length, 1, `vnat network ${vnet}: ${byName.length} entries`);
    assert.deepEqual([byName[0]!.active, byName[0]!.persistent], [true, true]);
    assert.match(byName[0]!.xml, /urn:vnat:network/);
    assert.match(byName[0]!.persistentXml ?? "", /urn:vnat:network/);
  };

  /** `vnat status` and `vnat reconcile --dry-run` see the vnat network healthy and plan nothing. */
  const assertVnatUntouched = async (): Promise<void> => {
    const one = await vnat(cfg, ["status", vnet, "--json"]);
    assert.equal(one.exitCode, 0, one.stderr);
    const doc = JSON.parse(one.stdout) as StatusDoc;
    assert.equal(doc.networks[0]?.health, "healthy", JSON.stringify(doc.networks[0]?.reasons));
    // the whole host: other tests' networks may be anything, this one is healthy
    const all = await vnat(cfg, ["status", "--json"]);
    assert.equal(all.exitCode, 0, all.stderr);
    const mine = (JSON.parse(all.stdout) as StatusDoc).networks.filter((n) => n.name === vnet);
    assert.deepEqual(
      mine.map((n) => n.health),
      ["healthy"],
    );
    for (const h of hostile)
      assert.ok(!(JSON.parse(all.stdout) as StatusDoc).networks.some((n) => n.name === h.name), h.name);
    const dry = await vnat(cfg, ["reconcile", "--dry-run", vnet]);
    assert.equal(dry.exitCode, 0, dry.stdout + dry.stderr);
    assert.doesNotMatch(dry.stdout, new RegExp(`${vnet}: (would|cannot)`));
    assert.match(dry.stdout, /reconcile: 1 network\(s\) checked, 0 would repair, 0 with problems left/);
    assert.equal((await virshRaw(["net-info", vnet])).stdout.match(/^Active:\s+(\S+)/m)?.[1], "yes");
  };

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    tag = world.tag;
    dir = await mkdtemp(join(tmpdir(), `vnat-e2e-names-${tag}-`));
    cfg = join(dir, "config.json");
    assert.equal((await addSandboxProvider(cfg, world)).exitCode, 0);
    // sorts after every hostile name (virsh lists by name)
    vnet = tracker.network(`vxr-${tag}`);
    const r = await createSandboxNet(cfg, world, vnet, { bridge: `vxb-${tag}`, uplink: "198.51.100.71/24" });
    assert.equal(r.exitCode, 0, r.stderr);
    await virsh(["net-start", vnet], { check: true });
  });

  after(async () => {
    const errors: string[] = [];
    for (const h of hostile.filter((x) => !x.removed).reverse()) {
      const r = await virshRaw(["net-undefine", h.uuid]);
      if (r.exitCode !== 0) errors.push(`net-undefine ${h.uuid}: ${r.stderr.trim()}`);
    }
    try {
      await closeE2e({ tracker, world, hook, dir });
    } finally {
      // nothing of this test is left in libvirt: no UUID it chose, no bridge it named
      const uuids = (await virshRaw(["net-list", "--all", "--uuid"])).stdout.split("\n").map((l) => l.trim());
      for (const h of hostile) if (uuids.includes(h.uuid)) errors.push(`network ${JSON.stringify(h.name)} left`);
      for (const u of uuids.filter(Boolean)) {
        const xml = (await virshRaw(["net-dumpxml", u])).stdout;
        if (tag && new RegExp(`<bridge name='vx(q|b-)${tag}`).test(xml)) errors.push(`network ${u} left`);
      }
    }
    if (errors.length) throw new Error(`virsh-names cleanup: ${errors.join("; ")}`);
  });

  test("the issue's name `a';net-list;#` (defined, never started) changes nothing vnat sees", async () => {
    assert.ok(await define(`vxq-${tag}a';net-list;#`));
    await assertVnatUntouched();
    assertHostileSeen(await readLibvirtNetworks());
  });

  test("every punctuation character, quotes, backslashes, spaces, dashes, control and non-ASCII text", async () => {
    for (const c of PUNCTUATION) assert.ok(await define(`vxq-${tag}${c}x`), `a name with ${c}`);
    const twin = randomUUID();
    const names = [
      `vxq-${tag} with spaces`,
      ` vxq-${tag} leading and trailing spaces `,
      `-vxq-${tag}`,
      `--vxq-${tag}`,
      `--vxq-${tag}-all`,
      `vxq-${tag}trailing\\`,
      `vxq-${tag}\\'\\"\\\\ '' "" \\`,
      `vxq-${tag}"double;net-list;#"`,
      `vxq-${tag}'single'\\;echo x`,
      `vxq-${tag}\ttab\rcr\x7fdel`,
      `vxq-${tag}vnat-split-7f3a`,
      `réseau-网络-${tag}`,
      `#vxq-${tag}`,
      // the UUID of another network (virsh looks a 36-character argument up as a UUID first)
      twin,
    ];
    assert.ok(await define(`vxq-${tag}-twin`, twin));
    for (const n of names) assert.ok(await define(n), `name ${JSON.stringify(n)}`);
    // libvirt refuses a line feed in a name; if it ever allows one, vnat must read it too
    await define(`vxq-${tag}line\nfeed`);
    const t0 = performance.now();
    const nets = await readLibvirtNetworks();
    console.log(`# readLibvirtNetworks, ${nets.length} networks: ${Math.round(performance.now() - t0)} ms`);
    assertHostileSeen(nets);

    // the other readers: net create's host view, and the name-based list/dump
    const rows = await probeNetworks(await loadConfig(cfg));
    for (const h of hostile) {
      const row = rows.filter((r) => r.state.uuid === h.uuid);
      assert.equal(row.length, 1, JSON.stringify(h.name));
      assert.deepEqual([row[0]!.name, row[0]!.bridge, row[0]!.vnat], [h.name, h.bridge, undefined]);
    }
    assert.equal(rows.find((r) => r.name === vnet)?.vnat !== undefined, true);
    const list = await listNetworks();
    for (const h of hostile) assert.equal(list.filter((n) => n.name === h.name).length, 1, JSON.stringify(h.name));
    const docs = await dumpNetworks(hostile.map((h) => h.name));
    for (const h of hostile) assert.match(docs.get(h.name) ?? "", new RegExp(`<uuid>${h.uuid}</uuid>`), h.name);

    await assertVnatUntouched();
    const listed = await vnat(cfg, ["net", "list", "--json"]);
    assert.equal(listed.exitCode, 0, listed.stderr);
    const mine = (JSON.parse(listed.stdout) as Array<{ name: string; state: string }>).filter((n) =>
      n.name.includes(tag),
    );
    assert.deepEqual(mine, [{ ...mine[0]!, name: vnet, state: "active" }]);

    // the commands on one network find it by its exact name: "--x" is no option, a UUID-like name no UUID
    const targets = hostile.filter((h) => h.name === twin || h.name.startsWith("-") || /['"\\ ]/.test(h.name));
    assert.ok(targets.length >= 8, String(targets.length));
    for (const h of targets) await setAutostart(h.name, true);
    const flagged = await readLibvirtNetworks();
    for (const h of hostile)
      assert.equal(
        flagged.find((n) => n.xml.includes(`<uuid>${h.uuid}</uuid>`))?.autostart,
        targets.includes(h),
        h.name,
      );
    for (const h of targets) {
      await undefineNetwork(h.name);
      h.removed = true;
    }
    const left = new Set((await listNetworks()).map((n) => n.uuid));
    for (const h of hostile) assert.equal(left.has(h.uuid), !h.removed, JSON.stringify(h.name));
    await assertVnatUntouched();
  });
});
