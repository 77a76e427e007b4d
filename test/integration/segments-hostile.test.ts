// Issue 19, hostile cases on the real kernel: a dual-stack network (its namespace sends
// router advertisements) with segments attached live (exec/change/segments-live.ts, what
// `vnat attach/detach` run).
// - A foreign bridge is a host interface: while attached, RAs from the network's LAN (the
//   namespace's, or any guest's) cross the veth pair into it, so vnat sets its accept_ra to 0
//   and puts the value back at detach (a host on the bridge still autoconfigures from them).
//   The bridge here never takes an address or a default route even if that fails
//   (accept_ra_defrtr and accept_ra_pinfo are 0): the host's IPv6 is never at risk.
// - A tap named like a keyword of ip(8) ("name": `ip link set name master BR` renames BR).
// - A tap already in the network's bridge (a guest's own, as libvirt's vnetN) is refused: a
//   detach would release it and cut the guest off.
// - The device that carries the host's default route is a host uplink, never a segment.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { roots } from "../../src/adapters/store/roots.ts";
import { readState, writeState } from "../../src/adapters/store/state.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { defaultRouteDevices } from "../../src/core/input/segments.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { kernelNames, segmentLinkNames } from "../../src/core/names.ts";
import { applySegmentsLocked } from "../../src/exec/change/segments-live.ts";
import { hostUplinkOf, masterOf, readSegmentRecords } from "../../src/exec/change/segments.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { netnsResolvConf } from "../support/inbound.ts";
import { needs } from "../support/needs.ts";
import { addTap, delLink } from "../support/segments.ts";
import { run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, TEST_CONFIG, worldUnavailable, type World } from "../support/world.ts";

const unmet = worldUnavailable();
const tag = randomBytes(2).toString("hex");
const FOREIGN = `vtf-${tag}`;
// a tap named like an ip(8) keyword: only in the host namespace while this file runs
const KEYWORD_TAP = "name";
let world: World;
let net: NetOpts;
const cleanups: Array<() => Promise<void>> = [];
const seg = (kind: string, name: string): string => `<vnat:segment kind="${kind}" name="${name}"/>`;
const conf = (dev: string, key: string): string => readFileSync(`/proc/sys/net/ipv6/conf/${dev}/${key}`, "utf8").trim();
const specWith = (segments: string) => {
  const config = parseConfig(TEST_CONFIG, readFileSync(TEST_CONFIG, "utf8"));
  return buildSpec(parseHookData(hookData({ ...net, extraMetadata: net.extraMetadata + segments })).network, config);
};

before(async () => {
  if (unmet) return;
  world = await createWorld();
  const lan = await world.addLanBridge();
  // a bridge as the host makes one by default: IPv6 on, taking RAs (but never a route or an address here)
  await run("ip", ["link", "add", FOREIGN, "type", "bridge", "stp_state", "0", "forward_delay", "0"]);
  cleanups.push(() => delLink(FOREIGN));
  for (const [k, v] of [
    ["accept_ra_defrtr", "0"],
    ["accept_ra_pinfo", "0"],
    ["accept_ra", "1"],
    ["disable_ipv6", "0"],
  ])
    writeFileSync(`/proc/sys/net/ipv6/conf/${FOREIGN}/${k}`, `${v}\n`);
  await run("ip", ["link", "set", FOREIGN, "up"]);
  net = {
    name: `t${tag}sh`,
    bridge: lan,
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.43/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::43/64"/>`,
  };
  cleanups.push(await netnsResolvConf(kernelNames(net.name).netns));
  for (const [op, sub] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(net.name, op, sub, hookData(net));
    assert.equal(r.exitCode, 0, r.stderr);
  }
});

after(async () => {
  if (unmet) return;
  if (net) await runHook(net.name, "stopped", "end", hookData(net));
  for (const c of cleanups.reverse()) await c();
  await world?.destroy();
  if (net) assert.deepEqual(vnatDebris(net.name), []);
  assert.equal(existsSync(`/sys/class/net/${KEYWORD_TAP}`), false);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("segments: hostile devices", {}, () => {
  test("a start that fails after its segments step puts the attached bridge's accept_ra back", async () => {
    const n2: NetOpts = {
      ...net,
      name: `t${tag}sf`,
      bridge: await world.addLanBridge(),
      uplink: "198.51.100.49/24",
      extraMetadata: seg("bridge", FOREIGN),
    };
    for (const step of ["segments", "dnsmasq"]) {
      assert.equal((await runHook(n2.name, "start", "begin", hookData(n2))).exitCode, 0);
      const r = await runHook(n2.name, "started", "begin", hookData(n2), { VNAT_FAILPOINT: step });
      assert.match(r.stderr, /injected failure \(VNAT_FAILPOINT\) \(everything undone\)/, step);
      assert.equal(conf(FOREIGN, "accept_ra"), "1", step);
      assert.equal(existsSync(`/sys/class/net/${segmentLinkNames(n2.name, FOREIGN).lan}`), false, step);
      assert.deepEqual(vnatDebris(n2.name), [], step);
    }
  });

  test("an attached bridge takes no RA while attached (a host on it still autoconfigures); detach puts accept_ra back", async () => {
    const host = await world.addGuest(FOREIGN, { slaac: true });
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith(seg("bridge", FOREIGN))), {
      live: "applied",
    });
    assert.equal(masterOf(segmentLinkNames(net.name, FOREIGN).peer), FOREIGN);
    assert.equal(conf(FOREIGN, "accept_ra"), "0");
    // the namespace's RAs do reach the bridge: a host on it forms its address from them
    assert.match((await host.waitForAddress6(20_000)).ip, /^fd00:a::/);
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith("")), { live: "applied" });
    assert.equal(conf(FOREIGN, "accept_ra"), "1");
  });

  test("a tap named like an ip(8) keyword is attached and released; the network's bridge keeps its name", async () => {
    await addTap(KEYWORD_TAP);
    try {
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith(seg("tap", KEYWORD_TAP))), {
        live: "applied",
      });
      assert.equal(existsSync(`/sys/class/net/${net.bridge}`), true);
      assert.equal(masterOf(KEYWORD_TAP), net.bridge);
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith("")), { live: "applied" });
      assert.equal(masterOf(KEYWORD_TAP), undefined);
      assert.equal(readFileSync(`/sys/class/net/${KEYWORD_TAP}/operstate`, "utf8").trim(), "down");
    } finally {
      await run("ip", ["link", "del", "dev", KEYWORD_TAP]); // "dev": the name is a keyword
    }
  });

  test("a tap already in the network's bridge (a guest's own) is refused, and stays where it is", async () => {
    const tap = `vtq-${tag}`;
    await addTap(tap);
    try {
      await run("ip", ["link", "set", tap, "master", net.bridge]);
      await assert.rejects(applySegmentsLocked(processRunner, roots(), specWith(seg("tap", tap))), {
        message: `network "${net.name}": segment tap:${tap}: tap "${tap}" is in the network's bridge already (a guest's own interface? vnat attaches taps that are in no bridge) (nothing attached)`,
      });
      assert.equal(masterOf(tap), net.bridge);
    } finally {
      await delLink(tap);
    }
  });

  test("the device with the host's default route is a host uplink (read only: nothing is attached)", () => {
    const uplinks = defaultRouteDevices(
      readFileSync("/proc/net/route", "utf8"),
      readFileSync("/proc/net/ipv6_route", "utf8"),
    );
    for (const dev of uplinks) assert.equal(hostUplinkOf(dev, false), dev);
    assert.equal(hostUplinkOf(FOREIGN, true), undefined);
  });

  test("an attach killed after the pair was made but before the running spec was written: detach still takes it back", async () => {
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith(seg("bridge", FOREIGN))), {
      live: "applied",
    });
    // what a SIGKILL between the journal and the state write leaves: the record, not the running spec
    const st = (await readState(roots(), net.name))!;
    await writeState(roots(), { ...st, spec: { ...st.spec!, segments: undefined } });
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith("")), { live: "applied" });
    assert.equal(existsSync(`/sys/class/net/${segmentLinkNames(net.name, FOREIGN).lan}`), false);
    assert.equal(conf(FOREIGN, "accept_ra"), "1");
    assert.deepEqual(await readSegmentRecords(roots(), net.name), []);
  });

  test("a bridge deleted and made again while attached gets nothing of the old one's put back at detach", async () => {
    const br = `vtg-${tag}x`;
    const addrs = async (): Promise<string[]> =>
      (
        JSON.parse((await run("ip", ["-j", "-4", "addr", "show", "dev", br])).stdout) as Array<{
          addr_info: Array<{ local: string; prefixlen: number }>;
        }>
      )[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`) ?? []; // -4: a link without one is not listed
    const make = async (cidr: string): Promise<void> => {
      await run("ip", ["link", "add", br, "type", "bridge"]);
      await run("ip", ["addr", "add", cidr, "dev", br]);
    };
    await make("10.253.250.1/24");
    try {
      const taking = `<vnat:segment kind="bridge" name="${br}" take-addresses="yes"/>`;
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith(taking)), { live: "applied" });
      assert.deepEqual(await addrs(), []);
      // its owner deletes it and makes it again, with another address
      await delLink(br);
      await make("10.253.251.1/24");
      assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith("")), { live: "applied" });
      assert.deepEqual(await addrs(), ["10.253.251.1/24"]);
      assert.deepEqual(await readSegmentRecords(roots(), net.name), []);
    } finally {
      await delLink(br);
    }
  });

  test("a stop with the bridge attached puts its accept_ra back too", async () => {
    assert.deepEqual(await applySegmentsLocked(processRunner, roots(), specWith(seg("bridge", FOREIGN))), {
      live: "applied",
    });
    assert.equal(conf(FOREIGN, "accept_ra"), "0");
    const r = await runHook(net.name, "stopped", "end", hookData(net));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(conf(FOREIGN, "accept_ra"), "1");
    assert.equal(existsSync(`/sys/class/net/${segmentLinkNames(net.name, FOREIGN).lan}`), false);
  });
});
