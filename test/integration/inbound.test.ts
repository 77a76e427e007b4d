// Issue 5: inbound traffic in real namespaces. Two networks share 10.0.0.0/24; both are
// started through hooks/network exactly as libvirt calls it, with forwards, a floating IP
// and static hosts in their metadata; live changes go through the live-apply module the
// CLI uses (src/exec/change/inbound.ts applyInboundLocked: under the network's lock).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { dnsmasqPid } from "../../src/adapters/dnsmasq.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import { claimOwner } from "../../src/adapters/store/state.ts";
import { kernelNames, uplinkMac } from "../../src/core/names.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { netPaths } from "../../src/core/paths.ts";
import { applyInboundLocked } from "../../src/exec/change/inbound.ts";
import { lockNetwork, readSeq } from "../../src/exec/netlock.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import {
  conntrackAddr,
  conntrackTo,
  fetchIn,
  netnsResolvConf,
  sources,
  specOf,
  startEcho,
  startTcpEcho,
  startUdpEcho,
  TcpClient,
  udpAsk,
  wanAddresses,
} from "../support/inbound.ts";
import { nsExec, sleep, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = worldUnavailable();
const tag = randomBytes(2).toString("hex");
const UP_A = "198.51.100.21";
const UP_B = "198.51.100.22";
const FLOAT = "198.51.100.30";
let world: World;
const cleanups: Array<() => Promise<void>> = [];
let netA: NetOpts;
let netB: NetOpts;
const g: Record<string, Guest> = {};
const logs: Record<string, string> = {};

const meta = (...els: string[]): string => els.join("");
const fwd = (proto: string, port: string, to: string, toPort?: string): string =>
  `<vnat:forward proto="${proto}" port="${port}" to="${to}"${toPort ? ` to-port="${toPort}"` : ""}/>`;
const host = (mac: string, ip: string, name?: string): string =>
  `<vnat:host mac="${mac}" ip="${ip}"${name ? ` name="${name}"` : ""}/>`;
const nsOf = (n: NetOpts): string => kernelNames(n.name).netns;

/** Changes N's inbound metadata and applies it live, as the CLI does after net-define (under N's lock). */
async function change(n: NetOpts, extraMetadata: string): Promise<string[]> {
  const next = { ...n, extraMetadata };
  const r = await applyInboundLocked(processRunner, roots(), specOf(next));
  assert.equal(r.live, "applied");
  n.extraMetadata = extraMetadata;
  return r.live === "applied" ? r.warnings : [];
}

const netOpts = (name: string, bridge: string, uplink: string, extraMetadata: string): NetOpts => ({
  name,
  bridge,
  uplinkBridge: world.providerBridge,
  uplink: `${uplink}/24`,
  gateway: world.providerGateway,
  dns: [world.upstreamDns],
  dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
  extraMetadata,
});

before(async () => {
  if (unmet) return;
  world = await createWorld();
  const [lanA, lanB] = [await world.addLanBridge(), await world.addLanBridge()];
  for (const [k, lan] of [
    ["a1", lanA],
    ["a2", lanA],
    ["a3", lanA],
    ["b1", lanB],
  ] as const)
    g[k] = await world.addGuest(lan);
  netA = netOpts(
    `t${tag}ia`,
    lanA,
    UP_A,
    meta(
      fwd("tcp", "8080", "10.0.0.5", "80"),
      fwd("tcp", "7000", "10.0.0.5"),
      `<vnat:floating address="${FLOAT}" to="10.0.0.7"/>`,
      host(await g.a1!.mac(), "10.0.0.5", "web"),
      host(await g.a3!.mac(), "10.0.0.7"),
    ),
  );
  netB = netOpts(
    `t${tag}ib`,
    lanB,
    UP_B,
    meta(fwd("tcp", "8080", "10.0.0.5", "80"), host(await g.b1!.mac(), "10.0.0.5")),
  );
  for (const n of [netA, netB]) cleanups.push(await netnsResolvConf(nsOf(n)));
});

after(async () => {
  if (unmet) return;
  for (const n of [netA, netB]) if (n) await runHook(n.name, "stopped", "end", hookData(n));
  for (const c of cleanups) await c();
  await world?.destroy();
  for (const n of [netA, netB]) if (n) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("inbound: forwards, NAT loopback, floating IPs, static hosts", {}, () => {
  test("the hook starts both networks with their inbound metadata", async () => {
    for (const n of [netA, netB]) {
      for (const [op, sub] of [
        ["start", "begin"],
        ["started", "begin"],
      ] as const) {
        const r = await runHook(n.name, op, sub, hookData(n));
        assert.equal(r.exitCode, 0, `${op} ${sub}: ${r.stderr}`);
      }
    }
    assert.deepEqual(await wanAddresses(nsOf(netA)), [`${UP_A}/24`, `${FLOAT}/24`]);
    assert.equal(await claimOwner(roots(), world.providerBridge, FLOAT), netA.name);
    // the floating address is announced with the uplink's MAC
    const entry = await waitFor(
      async () => (await world.routerNeighbours()).find((e) => e.ip === FLOAT),
      4000,
      `router neighbour entry for ${FLOAT}`,
    );
    assert.equal(entry.mac, uplinkMac(parseIp(UP_A)!));
  });

  test("static hosts get their fixed addresses", async () => {
    assert.equal((await g.a1!.dhcp()).ip, "10.0.0.5");
    assert.equal((await g.a3!.dhcp()).ip, "10.0.0.7");
    assert.equal((await g.b1!.dhcp()).ip, "10.0.0.5");
    const a2 = await g.a2!.dhcp();
    assert.ok(parseIp(a2.ip)! >= parseIp("10.0.0.100")!, `a2 leased ${a2.ip} from the range`);
    assert.equal(await g.a2!.resolve("web", "10.0.0.1"), "10.0.0.5", "the static host's name is in DNS");
    for (const k of ["a1", "a3", "b1"]) logs[k] = await startEcho(world, g[k]!, 80);
    logs.a3_8443 = await startEcho(world, g.a3!, 8443);
  });

  test("from the internet, each uplink:8080 reaches its own network's 10.0.0.5:80", async () => {
    for (const [up, k] of [
      [UP_A, "a1"],
      [UP_B, "b1"],
    ] as const) {
      const r = await fetchIn(world.internetNs, `http://${up}:8080/`);
      assert.equal(r.exitCode, 0, `fetch ${up}:8080: ${r.stderr}`);
      assert.equal(r.stdout.trim(), world.internetIp, "the guest sees the client's real address");
      assert.deepEqual(await sources(logs[k]!), [world.internetIp]);
    }
  });

  test("NAT loopback: a guest on the same network reaches uplink:8080", async () => {
    for (let i = 0; i < 3; i++) {
      const body = await g.a2!.fetch(`http://${UP_A}:8080/`);
      assert.equal(body.trim(), "10.0.0.1", "looped-back traffic is SNATed to the gateway");
    }
    assert.equal((await sources(logs.a1!)).length, 4);
    assert.deepEqual(await sources(logs.b1!), [world.internetIp], "network B saw none of it");
  });

  test("a floating IP reaches its guest on any port, and the guest leaves with it", async () => {
    for (const [port, k] of [
      [80, "a3"],
      [8443, "a3_8443"],
    ] as const) {
      const r = await fetchIn(world.internetNs, `http://${FLOAT}:${port}/`);
      assert.equal(r.exitCode, 0, `fetch ${FLOAT}:${port}: ${r.stderr}`);
      assert.deepEqual(await sources(logs[k]!), [world.internetIp]);
    }
    assert.equal((await g.a3!.fetch(`http://${world.internetIp}/`)).trim(), FLOAT);
    assert.equal((await g.a1!.fetch(`http://${world.internetIp}/`)).trim(), UP_A, "other guests keep the uplink");
    assert.equal((await g.a2!.fetch(`http://${FLOAT}/`)).trim(), "10.0.0.1", "loopback to a floating IP");
    assert.equal(await world.privateSourcePackets(), 0);
  });

  test("live: removing a forward closes it and deletes its conntrack entries; other flows go on", async () => {
    await startTcpEcho(world, g.a1!, 7000);
    const client = TcpClient.open(world.internetNs, UP_A, 7000);
    try {
      await client.roundTrip("before");
      assert.ok((await conntrackTo(nsOf(netA), "tcp", 8080)).length > 0, "earlier fetches left entries");
      const warnings = await change(
        netA,
        netA.extraMetadata!.replace(fwd("tcp", "8080", "10.0.0.5", "80"), fwd("tcp", "9090", "10.0.0.5", "80")),
      );
      assert.deepEqual(warnings, []);
      assert.deepEqual(await conntrackTo(nsOf(netA), "tcp", 8080), []);
      await client.roundTrip("after", 3000);
    } finally {
      client.close();
    }
    const gone = await fetchIn(world.internetNs, `http://${UP_A}:8080/`, 2);
    assert.notEqual(gone.exitCode, 0, "uplink:8080 must no longer answer");
    assert.deepEqual(await conntrackTo(nsOf(netA), "tcp", 8080), []);
    assert.equal((await fetchIn(world.internetNs, `http://${UP_A}:9090/`)).stdout.trim(), world.internetIp);
    assert.equal(
      (await fetchIn(world.internetNs, `http://${UP_B}:8080/`)).stdout.trim(),
      world.internetIp,
      "B untouched",
    );
  });

  test("live: a UDP range mapped to other ports; removing it deletes every port's entries", async () => {
    await startUdpEcho(world, g.a1!, [6000, 6001, 6002]);
    const udp = fwd("udp", "5000-5002", "10.0.0.5", "6000");
    assert.deepEqual(await change(netA, netA.extraMetadata! + udp), []);
    assert.equal(await udpAsk(world.internetNs, UP_A, 5001, "hi"), "6001:hi");
    assert.equal(await udpAsk(world.internetNs, UP_A, 5002, "hi"), "6002:hi");
    assert.equal(await udpAsk(g.a2!.ns, UP_A, 5000, "loop"), "6000:loop", "NAT loopback for UDP");
    for (const p of [5000, 5001, 5002]) assert.ok((await conntrackTo(nsOf(netA), "udp", p)).length > 0);
    assert.deepEqual(await change(netA, netA.extraMetadata!.replace(udp, "")), []);
    for (const p of [5000, 5001, 5002]) assert.deepEqual(await conntrackTo(nsOf(netA), "udp", p), []);
    assert.equal(await udpAsk(world.internetNs, UP_A, 5001, "hi"), "", "the range no longer answers");
  });

  test("live: a static host added to a running network is served without dropping leases", async () => {
    const paths = netPaths(roots(), netA.name);
    const pid = await dnsmasqPid(paths.pidFile);
    const leasesBefore = await readFile(paths.leases, "utf8");
    for (const k of ["a1", "a2", "a3"]) assert.match(leasesBefore, new RegExp(await g[k]!.mac()));
    const warnings = await change(netA, netA.extraMetadata! + host(await g.a2!.mac(), "10.0.0.60", "db"));
    assert.deepEqual(warnings, []);
    assert.equal((await g.a2!.dhcp()).ip, "10.0.0.60");
    assert.equal(await dnsmasqPid(paths.pidFile), pid, "dnsmasq was reloaded, not restarted");
    const leases = await readFile(paths.leases, "utf8");
    for (const k of ["a1", "a3"]) assert.match(leases, new RegExp(await g[k]!.mac()), `${k}'s lease is kept`);
    assert.match(leases, /10\.0\.0\.60/);
  });

  test("live: a floating IP held by one network is refused to another, then moves after removal", async () => {
    const float = `<vnat:floating address="${FLOAT}" to="10.0.0.5"/>`;
    await assert.rejects(change(netB, netB.extraMetadata! + float), /already used by active vnat network/);
    assert.deepEqual(await wanAddresses(nsOf(netB)), [`${UP_B}/24`], "nothing changed on B");

    const withoutFloat = netA.extraMetadata!.replace(`<vnat:floating address="${FLOAT}" to="10.0.0.7"/>`, "");
    assert.deepEqual(await change(netA, withoutFloat), []);
    assert.deepEqual(await wanAddresses(nsOf(netA)), [`${UP_A}/24`]);
    assert.deepEqual(await conntrackAddr(nsOf(netA), FLOAT), []);
    assert.equal((await g.a3!.fetch(`http://${world.internetIp}/`)).trim(), UP_A, "a3 now leaves with the uplink");

    assert.deepEqual(await change(netB, netB.extraMetadata! + float), []);
    assert.equal(await claimOwner(roots(), world.providerBridge, FLOAT), netB.name);
    const r = await fetchIn(world.internetNs, `http://${FLOAT}/`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(await sources(logs.b1!), [world.internetIp, world.internetIp, world.internetIp]);
  });

  test("live, as the CLI: an edit waits for the network's lock; the sequence moves by one per edit", async () => {
    const ns = nsOf(netB);
    const seq = async (): Promise<number> => (await readSeq(roots(), netB.name)).seq;
    const forwarded = async (): Promise<boolean> =>
      /\b9191 : 10\.0\.0\.5 \. 80\b/.test((await nsExec(ns, "nft", ["list", "ruleset"], { check: true })).stdout);
    const port = fwd("tcp", "9191", "10.0.0.5", "80");
    const withPort: NetOpts = { ...netB, extraMetadata: netB.extraMetadata! + port };
    const seq0 = await seq();

    // another holder of the lock (a hook event of the network, a repair): the edit waits
    const held = (await lockNetwork(roots(), netB.name, { wait: false }))!;
    assert.ok(held, "nothing else holds the lock");
    let settled = false;
    const edit = applyInboundLocked(processRunner, roots(), specOf(withPort));
    edit.then(
      () => (settled = true),
      () => (settled = true),
    );
    try {
      await sleep(300);
      assert.equal(settled, false, "the edit returned while another process held the network's lock");
      assert.equal(await forwarded(), false, "nothing applied while the lock was held");
      assert.equal(await seq(), seq0);
    } finally {
      await held.release();
    }
    const r = await edit;
    assert.equal(r.live, "applied");
    assert.equal(await forwarded(), true);
    assert.equal((await fetchIn(world.internetNs, `http://${UP_B}:9191/`)).stdout.trim(), world.internetIp);
    assert.deepEqual(await readSeq(roots(), netB.name), { seq: seq0 + 1, event: "edit", outcome: "ok" });

    // the namespace runs this spec already (a start built it from the new definition): nothing to do
    assert.deepEqual(await applyInboundLocked(processRunner, roots(), specOf(withPort)), { live: "current" });
    assert.equal(await seq(), seq0 + 1, "an edit that changed nothing is no event");

    assert.equal((await applyInboundLocked(processRunner, roots(), specOf(netB))).live, "applied");
    assert.equal(await forwarded(), false);
    assert.equal(await seq(), seq0 + 2);

    // a failed edit is an event too, and changes nothing: FLOAT is B's now
    const seqA = (await readSeq(roots(), netA.name)).seq;
    const clash: NetOpts = {
      ...netA,
      extraMetadata: netA.extraMetadata! + `<vnat:floating address="${FLOAT}" to="10.0.0.7"/>`,
    };
    await assert.rejects(
      applyInboundLocked(processRunner, roots(), specOf(clash)),
      /already used by active vnat network/,
    );
    assert.deepEqual(await readSeq(roots(), netA.name), { seq: seqA + 1, event: "edit", outcome: "failed" });
    assert.deepEqual(await wanAddresses(nsOf(netA)), [`${UP_A}/24`], "nothing changed on A");
  });

  test("stopped removes everything, floating claims included", async () => {
    for (const n of [netA, netB]) {
      const r = await runHook(n.name, "stopped", "end", hookData(n));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(vnatDebris(n.name), []);
    }
    assert.equal(await claimOwner(roots(), world.providerBridge, FLOAT), undefined);
  });
});
