// Issue 5 as a user drives it, against the real libvirt daemon: `vnat forward|floating|host`
// on inactive and active networks (net-define + live apply), validation errors as the
// user sees them, the settings surviving a restart (virsh net-destroy + net-start), and a
// live edit waiting for the network's lock while libvirt is asked outside it.
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { roots } from "../../src/adapters/store/roots.ts";
import { kernelNames } from "../../src/core/names.ts";
import { lockNetwork, readSeq } from "../../src/exec/netlock.ts";
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
import { conntrackTo, fetchIn, netnsResolvConf, sources, startEcho, wanAddresses } from "../support/inbound.ts";
import { nsExec, run, sleep, waitFor } from "../support/sh.ts";
import { createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const UP_A = "198.51.100.21";
const UP_B = "198.51.100.22";
const FLOAT = "198.51.100.30";

needs(unmet).describe("vnat forward|floating|host (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  const cleanups: Array<() => Promise<void>> = [];
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let cfgDir: string;
  let cfg: string;
  let a: string;
  let b: string;
  const g: Record<string, Guest> = {};
  const logs: Record<string, string> = {};
  const cli = async (args: string[], exit = 0): Promise<string> => {
    const r = await vnat(cfg, args);
    assert.equal(r.exitCode, exit, `vnat ${args.join(" ")}: ${r.stderr}`);
    return exit === 0 ? r.stdout : r.stderr;
  };
  const bridgeOf = (s: string): string => `vnib${world.tag}${s}`;

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    cfgDir = await mkdtemp(join(tmpdir(), `vnat-e2e-inbound-${world.tag}-`));
    cfg = join(cfgDir, "config.json");
    const p = await addSandboxProvider(cfg, world);
    assert.equal(p.exitCode, 0, `vnat provider add: ${p.stderr}`);
    [a, b] = ["a", "b"].map((s) => tracker.network(`vni-${world.tag}-${s}`)) as [string, string];
    for (const [n, s, up] of [
      [a, "a", UP_A],
      [b, "b", UP_B],
    ] as const) {
      const r = await createSandboxNet(cfg, world, n, { uplink: up, bridge: bridgeOf(s) });
      assert.equal(r.exitCode, 0, `vnat net create ${n}: ${r.stderr}`);
      cleanups.push(await netnsResolvConf(kernelNames(n).netns));
    }
  });

  after(async () => {
    await closeE2e({ tracker, world, hook, dir: cfgDir, extra: cleanups });
  });

  test("on an inactive network: changes are defined, and bad ones refused with one line", async () => {
    assert.match(
      await cli(["forward", "add", a, "tcp", "8080", "10.0.0.5:80"]),
      /\(network inactive: applies at its next start\)/,
    );
    await cli(["floating", "add", a, FLOAT, "10.0.0.7"]);
    const xml = (await virsh(["net-dumpxml", "--inactive", a], { check: true })).stdout;
    assert.match(xml, /<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"\/>/);
    const refusals: Array<[string[], string]> = [
      [
        ["forward", "add", a, "tcp", "8080", "10.0.0.6"],
        `vnat: network "${a}": forward tcp 8080: port already forwarded (tcp 8080 to 10.0.0.5)`,
      ],
      [
        ["forward", "add", a, "udp", "53", "10.1.0.5"],
        `vnat: network "${a}": forward udp 53: target 10.1.0.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
      ],
      [
        ["floating", "add", b, FLOAT, "10.0.0.5"],
        `vnat: network "${b}": floating ${FLOAT}: already used by vnat network "${a}" on bridge "${world.providerBridge}"`,
      ],
      [
        ["floating", "add", b, UP_A, "10.0.0.5"],
        `vnat: network "${b}": floating ${UP_A}: already used by vnat network "${a}" on bridge "${world.providerBridge}"`,
      ],
      [
        ["floating", "add", a, "198.51.101.5", "10.0.0.5"],
        `vnat: network "${a}": floating 198.51.101.5: outside the provider subnet 198.51.100.0/24 (or not a host address)`,
      ],
      [
        ["host", "add", a, "52:54:00:00:00:01", "10.0.1.5"],
        `vnat: network "${a}": host 52:54:00:00:00:01: ip 10.0.1.5 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
      ],
      [
        ["forward", "remove", a, "tcp", "8081"],
        `vnat: network "${a}": forward tcp 8081: not forwarded (forwards: tcp 8080)`,
      ],
    ];
    for (const [args, line] of refusals) assert.equal((await cli(args, 2)).trim(), line);
    assert.equal(
      (await virsh(["net-dumpxml", "--inactive", a], { check: true })).stdout,
      xml,
      "refusals changed nothing",
    );
  });

  test("--json: one object saying what changed; a list with nothing in it says so on stderr only", async () => {
    const empty = await vnat(cfg, ["host", "list", b]);
    assert.equal(empty.exitCode, 0, empty.stderr);
    assert.deepEqual([empty.stdout, empty.stderr], ["", `no static hosts on network "${b}"\n`]);
    const added = JSON.parse(await cli(["host", "add", b, "52:54:00:AA:00:01", "10.0.0.9", "jsonhost", "--json"]));
    assert.deepEqual(added, {
      network: b,
      change: "host add",
      host: { mac: "52:54:00:aa:00:01", ip: "10.0.0.9", name: "jsonhost" },
      live: "inactive",
    });
    const removed = JSON.parse(await cli(["host", "remove", b, "52:54:00:aa:00:01", "--json"]));
    assert.deepEqual(removed, {
      network: b,
      change: "host remove",
      host: { mac: "52:54:00:aa:00:01" },
      live: "inactive",
    });
    assert.equal(await cli(["host", "list", b]), "");
  });

  test("after net-start: live hosts and forwards; each uplink reaches its own 10.0.0.5; loopback; floating", async () => {
    for (const n of [a, b]) await virsh(["net-start", n], { check: true });
    assert.deepEqual(
      await wanAddresses(kernelNames(a).netns),
      [`${UP_A}/24`, `${FLOAT}/24`],
      "floating applied at start",
    );
    for (const [k, s] of [
      ["a1", "a"],
      ["a2", "a"],
      ["a3", "a"],
      ["b1", "b"],
    ] as const)
      g[k] = await world.addGuest(bridgeOf(s));
    assert.match(await cli(["host", "add", a, await g.a1!.mac(), "10.0.0.5", "web"]), /\(applied live\)/);
    await cli(["host", "add", a, (await g.a3!.mac()).toUpperCase(), "10.0.0.7"]);
    await cli(["host", "add", b, await g.b1!.mac(), "10.0.0.5"]);
    assert.match(await cli(["forward", "add", b, "tcp", "8080", "10.0.0.5:80"]), /\(applied live\)/);
    for (const [k, ip] of [
      ["a1", "10.0.0.5"],
      ["a3", "10.0.0.7"],
      ["b1", "10.0.0.5"],
    ] as const) {
      assert.equal((await g[k]!.dhcp()).ip, ip);
      logs[k] = await startEcho(world, g[k]!, 80);
    }
    await g.a2!.dhcp();
    for (const [up, k] of [
      [UP_A, "a1"],
      [UP_B, "b1"],
    ] as const) {
      assert.equal((await fetchIn(world.internetNs, `http://${up}:8080/`)).stdout.trim(), world.internetIp);
      assert.deepEqual(await sources(logs[k]!), [world.internetIp]);
    }
    assert.equal((await g.a2!.fetch(`http://${UP_A}:8080/`)).trim(), "10.0.0.1");
    assert.equal((await fetchIn(world.internetNs, `http://${FLOAT}/`)).stdout.trim(), world.internetIp);
    assert.equal((await g.a3!.fetch(`http://${world.internetIp}/`)).trim(), FLOAT);
  });

  test("list shows what each network has", async () => {
    const fw = JSON.parse(await cli(["forward", "list", "--json"])) as Array<Record<string, string>>;
    assert.deepEqual(
      fw.filter((f) => f.network === a || f.network === b),
      [
        { network: a, proto: "tcp", port: "8080", to: "10.0.0.5:80" },
        { network: b, proto: "tcp", port: "8080", to: "10.0.0.5:80" },
      ],
    );
    assert.match(
      await cli(["floating", "list", a]),
      new RegExp(`${a}\\s+${FLOAT.replace(/\./g, "\\.")}\\s+10\\.0\\.0\\.7`),
    );
    assert.match(await cli(["host", "list", a]), /10\.0\.0\.5\s+web/);
  });

  test("remove live: the port closes and its conntrack entries go; the floating IP leaves wan0", async () => {
    assert.match(await cli(["forward", "remove", a, "tcp", "8080"]), /\(applied live\)/);
    assert.deepEqual(await conntrackTo(kernelNames(a).netns, "tcp", 8080), []);
    assert.notEqual((await fetchIn(world.internetNs, `http://${UP_A}:8080/`, 2)).exitCode, 0);
    assert.equal((await fetchIn(world.internetNs, `http://${UP_B}:8080/`)).stdout.trim(), world.internetIp);
    await cli(["floating", "remove", a, FLOAT]);
    assert.deepEqual(await wanAddresses(kernelNames(a).netns), [`${UP_A}/24`]);
    await cli(["forward", "add", a, "tcp", "9090", "10.0.0.5:80"]);
  });

  test("a restart keeps the forwards and static hosts", async () => {
    await virsh(["net-destroy", a], { check: true });
    await virsh(["net-start", a], { check: true });
    // libvirt made a new bridge: plug the guest back in (as it would have to for a VM's tap)
    await run("ip", ["link", "set", g.a1!.hostIfname, "master", bridgeOf("a")]);
    assert.equal((await g.a1!.dhcp()).ip, "10.0.0.5");
    assert.equal((await fetchIn(world.internetNs, `http://${UP_A}:9090/`)).stdout.trim(), world.internetIp);
    assert.notEqual((await fetchIn(world.internetNs, `http://${UP_A}:8080/`, 2)).exitCode, 0);
  });

  test("a live edit waits for the network's lock (libvirt asked outside it); the sequence moves by one per edit", async () => {
    const ns = kernelNames(b).netns;
    const seq = async (): Promise<number> => (await readSeq(roots(), b)).seq;
    const forwarded = async (): Promise<boolean> =>
      /\b9191 : 10\.0\.0\.5 \. 80\b/.test((await nsExec(ns, "nft", ["list", "ruleset"], { check: true })).stdout);
    const defined = async (): Promise<boolean> =>
      /port="9191"/.test((await virsh(["net-dumpxml", "--inactive", b], { check: true })).stdout);
    const seq0 = await seq();

    // the test holds b's lock, as a hook event of b or a repair would
    const held = await lockNetwork(roots(), b, { wait: false });
    assert.ok(held, "nothing else holds the lock");
    let exited = false;
    const edit = vnat(cfg, ["forward", "add", b, "tcp", "9191", "10.0.0.5:80"]);
    void edit.finally(() => (exited = true));
    try {
      // net-define is not held up by the lock: libvirt is asked before the lock is taken
      await waitFor(defined, 30_000, "the new definition of the network");
      await sleep(300);
      assert.equal(exited, false, "vnat returned while another process held the network's lock");
      assert.equal(await forwarded(), false, "nothing applied while the lock was held");
      assert.equal(await seq(), seq0);
    } finally {
      await held.release();
    }
    const r = await edit;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /\(applied live\)/);
    assert.equal(await forwarded(), true);
    assert.equal((await fetchIn(world.internetNs, `http://${UP_B}:9191/`)).stdout.trim(), world.internetIp);
    assert.deepEqual(await readSeq(roots(), b), { seq: seq0 + 1, event: "edit", outcome: "ok" });

    assert.match(await cli(["forward", "remove", b, "tcp", "9191"]), /\(applied live\)/);
    assert.equal(await forwarded(), false);
    assert.equal(await seq(), seq0 + 2);
    // an inactive network has no namespace to edit: no event
    await virsh(["net-destroy", b], { check: true });
    const seq1 = await seq();
    assert.match(await cli(["forward", "add", b, "tcp", "9191", "10.0.0.5:80"]), /network inactive/);
    assert.equal(await seq(), seq1);
  });
});
