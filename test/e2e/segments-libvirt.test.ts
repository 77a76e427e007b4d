// Issue 19 with real libvirt, the whole proof in one network: `vnat attach NET bridge:BR` and
// `vnat attach NET tap:TAP` on an active vnat network (live, under the network's lock); a
// libvirt VM (TCG) on the network, a namespace host on the attached bridge and a QEMU guest
// run by hand on the tap all lease from vnat, reach each other and the sandbox internet
// through the one uplink; a port forward reaches the host on the attached bridge; `vnat
// status` shows the segments; `vnat detach` and `virsh net-destroy` leave both bridges and
// the tap as they were. Refusals are one line.
import assert from "node:assert/strict";
import { chmod, mkdtemp } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { attachSegment, detachSegment } from "../../src/cli/attach/actions.ts";
import { segmentLinkNames } from "../../src/core/names.ts";
import { masterOf } from "../../src/exec/change/segments.ts";
import {
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
import { needs } from "../support/needs.ts";
import { addTap, delLink, linkSnapshot, startTapGuest, type TapGuest } from "../support/segments.ts";
import { fetchIn, sources, startEcho } from "../support/inbound.ts";
import { run, sh } from "../support/sh.ts";
import { ensureGuestImage, virtInstallArgs, type GuestImage } from "../support/vm/image.ts";
import { waitForSerial } from "../support/vm/serial.ts";
import { createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";

const unmet =
  libvirtUnavailable() ??
  worldUnavailable() ??
  ((await sh("virt-install", ["--version"])).exitCode === 0
    ? undefined
    : "virt-install missing (apt-get install virtinst)");

needs(unmet).describe(
  "segments on a libvirt vnat network (vnat attach/detach, a VM, TCG)",
  { timeout: 600_000 },
  () => {
    const tracker = new LibvirtTracker();
    let world: World;
    let hook: Awaited<ReturnType<typeof useHook>>;
    let dir: string;
    let cfg: string;
    let image: GuestImage;
    let name: string;
    let bridge: string;
    let uplink: string;
    let foreign: string;
    let host1: Guest;
    let foreignBefore: unknown;
    let bridgeBefore: unknown;
    let tapBefore: unknown;
    let tap: string;
    let qemu: TapGuest | undefined;
    const serial = (): string => join(dir, "vm.serial.log");

    before(async () => {
      await ensureDaemons();
      await buildBundles();
      [hook, world, image] = await Promise.all([useHook(), createWorld(), ensureGuestImage()]);
      dir = await mkdtemp(join(tmpdir(), `vnat-e2e-seg-${world.tag}-`));
      await chmod(dir, 0o755); // qemu runs as libvirt-qemu and writes the serial log here
      cfg = join(dir, "config.json");
      const add = ["provider", "add", world.providerBridge, "--gateway", `${world.providerGateway}/24`];
      assert.equal(
        (await vnat(cfg, [...add, "--pool", "198.51.100.50-198.51.100.59", "--dns", world.upstreamDns])).exitCode,
        0,
      );
      name = tracker.network(`vns-${world.tag}`);
      bridge = `vnb-${world.tag}s`;
      const r = await createSandboxNet(cfg, world, name, { bridge });
      assert.equal(r.exitCode, 0, r.stderr);
      uplink = /uplink\s+(\S+)\//.exec(r.stdout)?.[1] ?? "";
      await virsh(["net-start", name], { check: true });
      foreign = await world.addLanBridge();
      host1 = await world.addGuest(foreign);
      foreignBefore = await linkSnapshot(foreign);
      bridgeBefore = await linkSnapshot(bridge);
      // a QEMU guest run by hand on a tap: the tap exists before vnat knows it
      tap = `vtq-${world.tag}`;
      await addTap(tap);
      qemu = await startTapGuest(tap, dir, `http://${world.internetIp}/`, `52:54:00:19:${world.tag.slice(0, 2)}:01`);
      tapBefore = await linkSnapshot(tap);
    });

    after(async () => {
      await qemu?.stop();
      if (tap) await delLink(tap);
      await closeE2e({ tracker, world, hook, dir });
    });

    test("refusals are one line: the network's own bridge, the provider bridge, a bad name, a device of the wrong kind", async () => {
      for (const [seg, msg] of [
        [`bridge:${bridge}`, `segment bridge:${bridge} is the network's own bridge "${bridge}"`],
        [`bridge:${world.providerBridge}`, `is the provider bridge "${world.providerBridge}"`],
        ["bridge:a;b", `segment bridge "a;b": not an interface name`],
        ["vlan:x", `expected bridge:BRIDGE, tap:DEVICE or docker:NETWORK`],
        // there, and of the wrong kind: refused before the definition changes (not stored as a warning)
        [`tap:${foreign}`, `segment tap:${foreign}: "${foreign}" is not a tap device`],
      ] as const) {
        const r = await vnat(cfg, ["attach", name, seg]);
        assert.equal(r.exitCode, 2, r.stderr);
        assert.ok(r.stderr.includes(msg), r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
      const xml = (await virsh(["net-dumpxml", name, "--inactive"], { check: true })).stdout;
      assert.doesNotMatch(xml, /vnat:segment/);
    });

    test("vnat attach on the active network applies live and is stored in its definition", async () => {
      const r = await vnat(cfg, ["attach", name, `bridge:${foreign}`, "--json"]);
      assert.equal(r.exitCode, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { live: string; segment: { device: string } };
      assert.deepEqual([doc.live, doc.segment.device], ["applied", foreign]);
      const t = await vnat(cfg, ["attach", name, `tap:${tap}`]);
      assert.equal(t.exitCode, 0, t.stderr);
      assert.equal(t.stdout.trim(), `network "${name}": segment tap:${tap} attached (applied live)`);
      assert.equal(masterOf(tap), bridge);
      const { lan, peer } = segmentLinkNames(name, foreign);
      assert.equal(masterOf(lan), bridge);
      assert.equal(masterOf(peer), foreign);
      const xml = (await virsh(["net-dumpxml", name, "--inactive"], { check: true })).stdout;
      assert.match(xml, new RegExp(`<vnat:segment kind="bridge" name="${foreign}"/>`));
    });

    test("a libvirt VM on the network and a host on the attached bridge lease from vnat, reach each other and the internet", async () => {
      tracker.domain(name);
      const args = virtInstallArgs({
        name,
        network: name,
        kernel: image.kernel,
        initrd: image.initrd,
        serialLog: serial(),
        url: `http://${world.internetIp}/`,
      });
      await run("virt-install", ["--connect", "qemu:///system", ...args], { timeoutMs: 120_000 });
      const h = await host1.dhcp();
      assert.deepEqual([h.router, h.dns], ["10.0.0.1", ["10.0.0.1"]]);
      const vm = await waitForSerial(serial(), (s) => s.leases[0], { timeoutMs: 180_000, what: "VM lease" });
      assert.deepEqual(vm.router, ["10.0.0.1"]);
      assert.ok(await host1.ping(vm.ip), `the bridge host reaches the VM at ${vm.ip}`);
      const q = await waitForSerial(qemu!.serialLog, (s) => s.leases.at(-1), {
        timeoutMs: 120_000,
        what: "QEMU lease",
      });
      assert.deepEqual(q.router, ["10.0.0.1"]);
      assert.ok(await host1.ping(q.ip), `the bridge host reaches the QEMU guest on the tap at ${q.ip}`);
      const qf = await waitForSerial(qemu!.serialLog, (s) => s.fetches.find((x) => x.ok), {
        timeoutMs: 60_000,
        what: "QEMU fetch",
      });
      assert.equal(qf.body.trim(), uplink);
      assert.equal((await host1.fetch(`http://${world.internetIp}/`)).trim(), uplink);
      const f = await waitForSerial(serial(), (s) => s.fetches.find((x) => x.ok), {
        timeoutMs: 60_000,
        what: "VM fetch",
      });
      assert.equal(f.body.trim(), uplink);
      assert.deepEqual([...new Set(await world.serverSources())], [uplink]);
    });

    test("vnat doctor has a line for each segment", async () => {
      const r = await vnat(cfg, ["doctor", "--json"]);
      const doc = JSON.parse(r.stdout) as { checks: Array<{ id: string; status: string; message: string }> };
      const mine = doc.checks.filter((c) => c.id.startsWith(`segment-${name}-`));
      assert.deepEqual(
        mine.map((c) => [c.id, c.status]),
        [
          [`segment-${name}-bridge:${foreign}`, "ok"],
          [`segment-${name}-tap:${tap}`, "ok"],
        ],
        JSON.stringify(mine),
      );
    });

    test("a forward on the uplink reaches the host on the attached bridge", async () => {
      assert.equal((await vnat(cfg, ["host", "add", name, await host1.mac(), "10.0.0.5"])).exitCode, 0);
      assert.equal((await host1.dhcp()).ip, "10.0.0.5");
      assert.equal((await vnat(cfg, ["forward", "add", name, "tcp", "8080", "10.0.0.5:80"])).exitCode, 0);
      const log = await startEcho(world, host1, 80);
      const r = await fetchIn(world.internetNs, `http://${uplink}:8080/`);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), world.internetIp);
      assert.deepEqual(await sources(log), [world.internetIp]);
    });

    test("vnat status shows the segments", async () => {
      const r = await vnat(cfg, ["status", name, "--json"]);
      assert.equal(r.exitCode === 0 || r.exitCode === 1, true, r.stderr);
      const doc = JSON.parse(r.stdout) as {
        networks: Array<{ segments: unknown[]; reasons: Array<{ code: string }> }>;
      };
      assert.deepEqual(doc.networks[0]!.segments, [
        { kind: "bridge", name: foreign, device: foreign, present: true, attached: true },
        { kind: "tap", name: tap, device: tap, present: true, attached: true },
      ]);
      assert.deepEqual(
        doc.networks[0]!.reasons.filter((x) => x.code.startsWith("segment-")),
        [],
      );
      const human = await vnat(cfg, ["status", name]);
      assert.match(human.stdout, new RegExp(`segment\\s+bridge:${foreign}: attached`));
    });

    test("vnat detach applies live and leaves both bridges and the tap as they were; attach again, then net-destroy does too", async () => {
      const r = await vnat(cfg, ["detach", name, `bridge:${foreign}`]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), `network "${name}": segment bridge:${foreign} detached (applied live)`);
      assert.equal((await vnat(cfg, ["detach", name, `tap:${tap}`])).exitCode, 0);
      assert.deepEqual(await linkSnapshot(tap), tapBefore);
      assert.deepEqual(await linkSnapshot(bridge), bridgeBefore, "the network's own bridge as before the attach");
      const { lan, peer } = segmentLinkNames(name, foreign);
      assert.equal(existsSync(`/sys/class/net/${lan}`) || existsSync(`/sys/class/net/${peer}`), false);
      assert.deepEqual(await linkSnapshot(foreign), foreignBefore);
      const again = await vnat(cfg, ["detach", name, `bridge:${foreign}`]);
      assert.equal(again.exitCode, 2);
      assert.equal(
        again.stderr.trim(),
        `vnat: network "${name}": segment bridge:${foreign} is not attached (attached: none)`,
      );
      // the actions module itself (the CLI runs it): attach again, then stop the network
      process.env.VNAT_CONFIG = cfg;
      await attachSegment(name, `bridge:${foreign}`, { json: false });
      await attachSegment(name, `tap:${tap}`, { json: false });
      assert.equal(masterOf(peer), foreign);
      assert.equal(masterOf(tap), bridge);
      await virsh(["destroy", name]);
      await virsh(["net-destroy", name], { check: true });
      assert.equal(existsSync(`/sys/class/net/${peer}`), false);
      assert.deepEqual(await linkSnapshot(foreign), foreignBefore);
      assert.deepEqual(await linkSnapshot(tap), tapBefore);
      // inactive: the definition changes, nothing live
      await detachSegment(name, `bridge:${foreign}`, { json: false });
      await detachSegment(name, `tap:${tap}`, { json: false });
      delete process.env.VNAT_CONFIG;
    });
  },
);
