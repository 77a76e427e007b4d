// Issue 19: segments, through hooks/network exactly as libvirt calls it. One vnat network
// (its bridge a stand-in for virbrN, with a guest namespace) gets a foreign bridge (a
// namespace host on it) and a tap (a real QEMU guest, TCG, run by hand on it) as segments:
// all three lease from the network's namespace, reach each other and the sandbox internet
// through its one uplink, and a forward reaches the host on the foreign bridge. A missing
// segment and a segment another network holds are refused at `start begin`; a live
// detach/attach (exec/change/segments-live.ts, what `vnat detach/attach` run) and the stop
// leave the bridge and the tap exactly as they were.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { roots } from "../../src/adapters/store/roots.ts";
import { readState } from "../../src/adapters/store/state.ts";
import { kernelNames, segmentLinkNames } from "../../src/core/names.ts";
import { applySegmentsLocked } from "../../src/exec/change/segments-live.ts";
import { masterOf, segmentsFile } from "../../src/exec/change/segments.ts";
import { processRunner } from "../../src/exec/run.ts";
import { refuseSegmentProblems } from "../../src/exec/probe/segments.ts";
import { sh, waitFor } from "../support/sh.ts";
import { loadConfig } from "../../src/adapters/store/config-file.ts";
import { evaluate } from "../../src/core/judge/health.ts";
import { networkDoc } from "../../src/core/observe/status-doc.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { reconcile } from "../../src/exec/reconcile.ts";
import { networkXml } from "../support/fixtures.ts";
import { TEST_CONFIG } from "../support/world.ts";
import { segmentFacts } from "../../src/exec/probe/doctor-segments.ts";
import { judgeSegment } from "../../src/core/judge/doctor-segments.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { fetchIn, netnsResolvConf, sources, specOf, startEcho } from "../support/inbound.ts";
import { needs } from "../support/needs.ts";
import { addTap, delLink, linkSnapshot, startTapGuest, type TapGuest } from "../support/segments.ts";
import { waitForSerial } from "../support/vm/serial.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";

const unmet =
  worldUnavailable() ?? (existsSync("/usr/bin/qemu-system-x86_64") ? undefined : "qemu-system-x86 is not installed");
const tag = randomBytes(2).toString("hex");
const UPLINK = "198.51.100.41";
const TAP = `vtq-${tag}`;
const TAP_MAC = `52:54:00:19:${tag.slice(0, 2)}:${tag.slice(2, 4)}`;
let world: World;
let net: NetOpts;
let foreign: string;
let host1: Guest;
let guest1: Guest;
let qemu: TapGuest | undefined;
const before0: Record<string, unknown> = {};
const cleanups: Array<() => Promise<void>> = [];

const seg = (kind: string, name: string): string => `<vnat:segment kind="${kind}" name="${name}"/>`;
const start = async (n: NetOpts) => {
  for (const [op, sub] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(n.name, op, sub, hookData(n));
    if (r.exitCode !== 0) return r;
  }
  return { exitCode: 0, stderr: "", stdout: "" };
};

before(async () => {
  if (unmet) return;
  world = await createWorld();
  const lan = await world.addLanBridge();
  foreign = await world.addLanBridge();
  guest1 = await world.addGuest(lan);
  host1 = await world.addGuest(foreign);
  await addTap(TAP);
  cleanups.push(() => delLink(TAP));
  net = {
    name: `t${tag}sg`,
    bridge: lan,
    uplinkBridge: world.providerBridge,
    uplink: `${UPLINK}/24`,
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
    extraMetadata:
      `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
      `<vnat:host mac="${await host1.mac()}" ip="10.0.0.5" name="h1"/>` +
      seg("bridge", foreign) +
      seg("tap", TAP),
  };
  cleanups.push(await netnsResolvConf(kernelNames(net.name).netns));
  // QEMU holds the tap from before the network starts: its guest asks for a lease until it gets one
  qemu = await startTapGuest(TAP, world.tmpDir, `http://${world.internetIp}/`, TAP_MAC);
  before0.foreign = await linkSnapshot(foreign);
  before0.tap = await linkSnapshot(TAP);
});

after(async () => {
  if (unmet) return;
  if (net) await runHook(net.name, "stopped", "end", hookData(net));
  await qemu?.stop();
  for (const c of cleanups.reverse()) await c();
  await world?.destroy();
  if (net) assert.deepEqual(vnatDebris(net.name), []);
  assert.equal(existsSync(`/sys/class/net/${TAP}`), false);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("segments: a bridge and a tap on a vnat network's LAN", {}, () => {
  test("a missing segment is a clear error at start begin, and nothing is built", async () => {
    const missing = { ...net, name: `t${tag}sm`, extraMetadata: seg("bridge", `vtz-${tag}`) };
    const r = await runHook(missing.name, "start", "begin", hookData(missing));
    assert.notEqual(r.exitCode, 0);
    assert.equal(
      r.stderr.trim(),
      `vnat: network "${missing.name}": segment bridge:vtz-${tag}: interface "vtz-${tag}" does not exist (create it, or vnat detach it)`,
    );
    assert.deepEqual(vnatDebris(missing.name), []);
  });

  test("a tap another bridge holds, or a bridge that is not one, is refused before anything is done", async () => {
    const tap2 = `vtr${tag}x`;
    await addTap(tap2);
    try {
      await sh("ip", ["link", "set", tap2, "master", foreign]);
      const bad = { ...net, name: `t${tag}sx`, extraMetadata: seg("tap", tap2) };
      await assert.rejects(refuseSegmentProblems(specOf(bad), roots()), {
        message: `network "${bad.name}": segment tap:${tap2}: tap "${tap2}" is already in bridge "${foreign}" (release it: ip link set ${tap2} nomaster)`,
      });
      const notBridge = { ...bad, extraMetadata: seg("bridge", tap2) };
      await assert.rejects(refuseSegmentProblems(specOf(notBridge), roots()), {
        message: `network "${bad.name}": segment bridge:${tap2}: "${tap2}" is not a bridge`,
      });
      const notTap = { ...bad, extraMetadata: seg("tap", foreign) };
      await assert.rejects(refuseSegmentProblems(specOf(notTap), roots()), {
        message: `network "${bad.name}": segment tap:${foreign}: "${foreign}" is not a tap device`,
      });
    } finally {
      await delLink(tap2);
    }
  });

  test("a failure right after the segments step undoes them: the pair goes, the tap is released, both as they were", async () => {
    for (const step of ["segments", "dnsmasq"]) {
      assert.equal((await runHook(net.name, "start", "begin", hookData(net))).exitCode, 0);
      const r = await runHook(net.name, "started", "begin", hookData(net), { VNAT_FAILPOINT: step });
      assert.notEqual(r.exitCode, 0);
      assert.match(
        r.stderr,
        new RegExp(`step "${step}" failed: injected failure \\(VNAT_FAILPOINT\\) \\(everything undone\\)`),
      );
      const { lan, peer } = segmentLinkNames(net.name, foreign);
      assert.equal(existsSync(`/sys/class/net/${lan}`) || existsSync(`/sys/class/net/${peer}`), false, step);
      assert.equal(masterOf(TAP), undefined, step);
      assert.deepEqual(await linkSnapshot(foreign), before0.foreign, step);
      assert.deepEqual(await linkSnapshot(TAP), before0.tap, step);
      assert.deepEqual(vnatDebris(net.name), [], step);
    }
  });

  test("the hook starts the network with both segments attached", async () => {
    const r = await start(net);
    assert.equal(r.exitCode, 0, r.stderr);
    const { lan, peer } = segmentLinkNames(net.name, foreign);
    assert.equal(masterOf(lan), net.bridge);
    assert.equal(masterOf(peer), foreign);
    assert.equal(readFileSync(`/sys/class/net/${lan}/ifalias`, "utf8").trim(), `vnat:${net.name}`);
    assert.equal(masterOf(TAP), net.bridge);
    const st = await readState(roots(), net.name);
    assert.deepEqual(
      st?.spec?.segments?.map((s) => `${s.kind}:${s.name}`),
      [`bridge:${foreign}`, `tap:${TAP}`],
    );
  });

  test("another network cannot take a segment this one holds", async () => {
    const other = {
      ...net,
      name: `t${tag}so`,
      bridge: await world.addLanBridge(),
      uplink: "198.51.100.42/24",
      extraMetadata: seg("bridge", foreign),
    };
    const r = await runHook(other.name, "start", "begin", hookData(other));
    assert.notEqual(r.exitCode, 0);
    assert.equal(
      r.stderr.trim(),
      `vnat: network "${other.name}": segment bridge:${foreign}: "${foreign}" is already attached to vnat network "${net.name}" (as bridge:${foreign}; vnat detach ${net.name} bridge:${foreign} first)`,
    );
  });

  test("the host on the bridge, the guest on the network and the QEMU guest on the tap all lease from vnat", async () => {
    const h = await host1.dhcp();
    assert.deepEqual([h.ip, h.router, h.dns], ["10.0.0.5", "10.0.0.1", ["10.0.0.1"]]);
    const g = await guest1.dhcp();
    assert.equal(g.router, "10.0.0.1");
    const q = await waitForSerial(qemu!.serialLog, (s) => s.leases.at(-1), { timeoutMs: 90_000, what: "QEMU lease" });
    assert.deepEqual([q.router, q.dns], [["10.0.0.1"], ["10.0.0.1"]]);
    // one LAN: each reaches the others
    assert.ok(await host1.ping(g.ip), "bridge host -> guest");
    assert.ok(await host1.ping(q.ip), "bridge host -> QEMU guest on the tap");
    assert.ok(await guest1.ping(h.ip), "guest -> bridge host");
    assert.equal(await host1.resolve(world.dnsName), world.internetIp, "DNS from the namespace");
  });

  test("all of them reach the internet through the one uplink; a forward reaches the bridge host", async () => {
    assert.equal((await host1.fetch(`http://${world.internetIp}/`)).trim(), UPLINK);
    assert.equal((await guest1.fetch(`http://${world.internetIp}/`)).trim(), UPLINK);
    const f = await waitForSerial(qemu!.serialLog, (s) => s.fetches.find((x) => x.ok), {
      timeoutMs: 60_000,
      what: "QEMU fetch",
    });
    assert.equal(f.body.trim(), UPLINK);
    assert.deepEqual([...new Set(await world.serverSources())], [UPLINK]);
    assert.equal(await world.privateSourcePackets(), 0);
    const log = await startEcho(world, host1, 80);
    const r = await fetchIn(world.internetNs, `http://${UPLINK}:8080/`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), world.internetIp);
    assert.deepEqual(await sources(log), [world.internetIp]);
  });

  test("live detach leaves the tap as it was; live attach puts it back", async () => {
    const without = { ...net, extraMetadata: net.extraMetadata!.replace(seg("tap", TAP), "") };
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specOf(without)), { live: "applied" });
    assert.equal(masterOf(TAP), undefined);
    assert.deepEqual(await linkSnapshot(TAP), before0.tap);
    assert.deepEqual(
      (await readState(roots(), net.name))?.spec?.segments?.map((s) => s.name),
      [foreign],
    );
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specOf(net)), { live: "applied" });
    assert.equal(masterOf(TAP), net.bridge);
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specOf(net)), { live: "current" });
  });

  test("drift: a deleted veth end is segment-detached in status, and reconcile attaches it again", async () => {
    const config = await loadConfig(TEST_CONFIG);
    const networks = [{ name: net.name, active: true, autostart: false, persistent: true, xml: networkXml(net) }];
    const observe = async () =>
      (await probeAll({ runner: processRunner, roots: roots(), config, networks, only: [net.name] })).observations[0]!;
    const segCodes = (o: Awaited<ReturnType<typeof observe>>) =>
      evaluate(o)
        .reasons.filter((r) => r.code.startsWith("segment-"))
        .map((r) => r.message);
    assert.deepEqual(segCodes(await observe()), []);
    const { peer } = segmentLinkNames(net.name, foreign);
    await sh("ip", ["link", "del", peer]);
    const o = await observe();
    assert.deepEqual(segCodes(o), [`segment bridge:${foreign}: "${foreign}" is no longer patched into ${net.bridge}`]);
    assert.deepEqual(networkDoc(o).segments, [
      { kind: "bridge", name: foreign, device: foreign, present: true, attached: false },
      { kind: "tap", name: TAP, device: TAP, present: true, attached: true },
    ]);
    const lines: string[] = [];
    const report = await reconcile({
      runner: processRunner,
      roots: roots(),
      config,
      networks,
      only: [net.name],
      dryRun: false,
      progress: (l) => lines.push(l),
    });
    assert.ok(
      lines.some((l) => l.includes(`attach segment bridge:${foreign} again`)),
      lines.join(" | "),
    );
    assert.deepEqual(
      report.outcomes.flatMap((x) => x.failed),
      [],
    );
    assert.deepEqual(segCodes(await observe()), []);
    assert.equal(masterOf(peer), foreign);
    assert.ok(await host1.ping("10.0.0.1"), "the bridge host reaches the gateway again");
  });

  test("doctor names another DHCP server on the attached bridge", async () => {
    const facts = async () =>
      segmentFacts(processRunner, [specOf(net)], { iptables: "", nftForwardChains: [] }, [])
        .then((all) => all.map(judgeSegment).flat())
        .then((checks) => checks.filter((c) => c.id.startsWith(`segment-${net.name}-bridge:`)));
    assert.deepEqual(
      (await facts()).map((c) => c.status),
      ["ok"],
    );
    // a DHCP server configured for the bridge (it runs in a test namespace, where it serves nothing)
    const p = await world.startProcess(host1.ns, "other-dhcp", "dnsmasq", [
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      "--port=0",
      `--interface=${foreign}`,
      "--dhcp-range=10.98.0.10,10.98.0.20",
      `--pid-file=${world.tmpDir}/other-dhcp.pid`,
    ]);
    // its command line is there once `ip netns exec` has exec'd it
    const checks = await waitFor(
      async () => ((await facts())[0]?.status === "warn" ? facts() : undefined),
      5000,
      "doctor to see the other DHCP server",
    );
    assert.deepEqual(
      checks.map((c) => [c.status, c.message]),
      [
        [
          "warn",
          `segment bridge:${foreign} of ${net.name}: another DHCP server serves ${foreign} (dnsmasq (pid ${p.pid})); its hosts may lease from it instead of vnat`,
        ],
      ],
    );
    process.kill(p.pid, "SIGTERM");
  });

  test("drift: a segment whose bridge is deleted is segment-missing; created again, reconcile attaches it", async () => {
    const extra = `vtz${tag}m`;
    await sh("ip", ["link", "add", extra, "type", "bridge"]);
    const withExtra = { ...net, extraMetadata: net.extraMetadata! + seg("bridge", extra) };
    const config = await loadConfig(TEST_CONFIG);
    const networks = [{ name: net.name, active: true, autostart: false, persistent: true, xml: networkXml(withExtra) }];
    const reasons = async () =>
      evaluate(
        (await probeAll({ runner: processRunner, roots: roots(), config, networks, only: [net.name] }))
          .observations[0]!,
      )
        .reasons.filter((r) => r.code.startsWith("segment-"))
        .map((r) => r.code);
    try {
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specOf(withExtra)), { live: "applied" });
      assert.deepEqual(await reasons(), []);
      await sh("ip", ["link", "del", extra]);
      assert.deepEqual(await reasons(), ["segment-missing"]);
      const dry: string[] = [];
      await reconcile({
        runner: processRunner,
        roots: roots(),
        config,
        networks,
        only: [net.name],
        dryRun: true,
        progress: (l) => dry.push(l),
      });
      assert.deepEqual(dry, [], "nothing vnat can do about a device that is gone");
      await sh("ip", ["link", "add", extra, "type", "bridge"]);
      assert.deepEqual(await reasons(), ["segment-detached"]);
      await reconcile({
        runner: processRunner,
        roots: roots(),
        config,
        networks,
        only: [net.name],
        dryRun: false,
        progress: () => {},
      });
      assert.deepEqual(await reasons(), []);
      assert.equal(masterOf(segmentLinkNames(net.name, extra).peer), extra);
    } finally {
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specOf(net)), { live: "applied" });
      await delLink(extra);
    }
    assert.equal(existsSync(`/sys/class/net/${segmentLinkNames(net.name, extra).lan}`), false);
  });

  test("a segment veth pair of no known network is a stray link", async () => {
    const { lan, peer } = segmentLinkNames(`t${tag}gone`, foreign);
    await sh("ip", ["link", "add", lan, "type", "veth", "peer", "name", peer]);
    try {
      await sh("ip", ["link", "set", lan, "alias", `vnat:t${tag}gone`]);
      const config = await loadConfig(TEST_CONFIG);
      const networks = [{ name: net.name, active: true, autostart: false, persistent: true, xml: networkXml(net) }];
      const { strayLinks } = await probeAll({ runner: processRunner, roots: roots(), config, networks });
      assert.ok(strayLinks.includes(lan) && strayLinks.includes(peer), strayLinks.join(" "));
      const own = segmentLinkNames(net.name, foreign);
      assert.ok(
        !strayLinks.includes(own.lan) && !strayLinks.includes(own.peer),
        "the running network's pair is its own",
      );
    } finally {
      await delLink(lan);
    }
  });

  test("stop leaves the bridge and the tap as they were", async () => {
    const r = await runHook(net.name, "stopped", "end", hookData(net));
    assert.equal(r.exitCode, 0, r.stderr);
    const { lan, peer } = segmentLinkNames(net.name, foreign);
    assert.equal(existsSync(`/sys/class/net/${lan}`), false);
    assert.equal(existsSync(`/sys/class/net/${peer}`), false);
    assert.equal(existsSync(segmentsFile(roots(), net.name)), false);
    assert.deepEqual(await linkSnapshot(foreign), before0.foreign);
    assert.deepEqual(await linkSnapshot(TAP), before0.tap);
    assert.deepEqual(vnatDebris(net.name), []);
  });
});
