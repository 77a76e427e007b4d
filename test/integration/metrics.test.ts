// Issue 18 on the real kernel: a network started through hooks/network exactly as libvirt
// calls it, with a forward and a floating IP; vnat's metrics collected as `vnat metrics`
// and the exporter collect them (src/exec/probe/metrics.ts). A guest fetching a page moves
// the network's uplink and NAT transmit bytes; a connection through the forward moves the
// forward's named counter; one through the floating IP its own. promtool accepts the text.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { after, before, test } from "node:test";
import { loadConfig } from "../../src/adapters/store/config-file.ts";
import { hookCachedPath } from "../../src/adapters/store/event-stats.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import { kernelNames } from "../../src/core/names.ts";
import { cachedReferences, collectMetrics } from "../../src/exec/probe/metrics.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { fetchIn, netnsResolvConf, startEcho } from "../support/inbound.ts";
import { needs } from "../support/needs.ts";
import {
  assertNoWorldDebris,
  createWorld,
  TEST_CONFIG,
  worldUnavailable,
  type Guest,
  type World,
} from "../support/world.ts";

const unmet = worldUnavailable();
const tag = randomBytes(2).toString("hex");
const UPLINK = "198.51.100.41";
const FLOAT = "198.51.100.42";
let world: World;
let net: NetOpts;
let web: Guest;
let client: Guest;
const cleanups: Array<() => Promise<void>> = [];

/** One collection, as the exporter makes it (libvirt's view given: the network is active with this XML). */
async function scrape(): Promise<string> {
  const r = { ...roots(), config: TEST_CONFIG };
  return collectMetrics({
    runner: processRunner,
    roots: r,
    config: await loadConfig(TEST_CONFIG),
    networks: [{ name: net.name, active: true, autostart: false, persistent: false, xml: networkXml(net) }],
    references: cachedReferences(),
  });
}

/** The value of the sample NAME{LABELS} (labels as rendered), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

before(async () => {
  if (unmet) return;
  world = await createWorld();
  const lan = await world.addLanBridge();
  web = await world.addGuest(lan);
  client = await world.addGuest(lan);
  net = {
    name: `t${tag}mx`,
    bridge: lan,
    uplinkBridge: world.providerBridge,
    uplink: `${UPLINK}/24`,
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.149" lease="1h"/>`,
    extraMetadata:
      `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
      `<vnat:floating address="${FLOAT}" to="10.0.0.5"/>` +
      `<vnat:host mac="${await web.mac()}" ip="10.0.0.5"/>`,
  };
  cleanups.push(await netnsResolvConf(kernelNames(net.name).netns));
});

after(async () => {
  if (unmet) return;
  if (net) await runHook(net.name, "stopped", "end", hookData(net));
  for (const c of cleanups) await c();
  await world?.destroy();
  if (net) assert.deepEqual(vnatDebris(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("metrics on the real kernel", {}, () => {
  test("a started network: up, healthy, its hook events counted; promtool accepts the text", async () => {
    for (const [op, sub] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await runHook(net.name, op, sub, hookData(net));
      assert.equal(r.exitCode, 0, `${op} ${sub}: ${r.stderr}`);
    }
    assert.equal((await web.dhcp()).ip, "10.0.0.5");
    await client.dhcp();
    await startEcho(world, web, 80);
    const text = await scrape();
    const n = `network="${net.name}"`;
    assert.equal(sample(text, `vnat_network_up{${n}}`), 1, text);
    assert.equal(sample(text, `vnat_network_health{${n},health="healthy"}`), 1);
    assert.equal(sample(text, `vnat_dhcp_leases{${n}}`), 2);
    assert.equal(sample(text, `vnat_dhcp_pool_size{${n}}`), 50);
    assert.ok((sample(text, `vnat_conntrack_limit{${n}}`) ?? 0) > 0);
    assert.ok((sample(text, 'vnat_hook_events_total{event="started-begin",result="ok"}') ?? 0) >= 1);
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), "", "no lint findings");
  });

  test("a guest fetches a page: the uplink's and NAT's transmit bytes rise", async () => {
    const n = `network="${net.name}"`;
    const before = await scrape();
    const body = await client.fetch(`http://${world.internetIp}/`);
    assert.equal(body.trim(), UPLINK);
    const after = await scrape();
    for (const m of [
      "vnat_uplink_transmit_bytes_total",
      "vnat_nat_transmit_bytes_total",
      "vnat_nat_receive_bytes_total",
    ]) {
      const [a, b] = [sample(before, `${m}{${n}}`), sample(after, `${m}{${n}}`)];
      assert.ok(a !== undefined && b !== undefined && b > a, `${m}: ${a} → ${b}`);
    }
  });

  test("a connection through the forward moves its counter, both directions; the floating IP's stays", async () => {
    const fwd = `vnat_forward_bytes_total{network="${net.name}",proto="tcp",port="8080"}`;
    const fwdP = `vnat_forward_packets_total{network="${net.name}",proto="tcp",port="8080"}`;
    const fip = `vnat_floating_ip_bytes_total{network="${net.name}",address="${FLOAT}"}`;
    const before = await scrape();
    assert.equal(sample(before, fwd), 0);
    const r = await fetchIn(world.internetNs, `http://${UPLINK}:8080/`);
    assert.equal(r.exitCode, 0, r.stderr);
    const after = await scrape();
    // a TCP exchange: handshake, request, response, close in both directions
    assert.ok((sample(after, fwdP) ?? 0) >= 6, `packets ${sample(after, fwdP)}`);
    assert.ok((sample(after, fwd) ?? 0) > r.stdout.length, `bytes ${sample(after, fwd)}`);
    assert.equal(sample(after, fip), sample(before, fip), "the floating IP saw none of it");
  });

  test("a connection to the floating IP moves the floating IP's counter", async () => {
    const fip = `vnat_floating_ip_packets_total{network="${net.name}",address="${FLOAT}"}`;
    const before = sample(await scrape(), fip) ?? 0;
    const r = await fetchIn(world.internetNs, `http://${FLOAT}/`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok((sample(await scrape(), fip) ?? 0) >= before + 6);
  });

  test("a start begin the shell hook answers from its cache is counted as cached (one byte in NAME.cached)", async () => {
    const series = 'vnat_hook_events_total{event="start-begin",result="cached"}';
    const before = sample(await scrape(), series) ?? 0;
    // stopped (a running uplink answers the shell's ARP probe, which sends the event to Node), started again
    assert.equal((await runHook(net.name, "stopped", "end", hookData(net))).exitCode, 0);
    const r = await runHook(net.name, "start", "begin", hookData(net));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(statSync(hookCachedPath(roots(), net.name)).size, 1, "answered by the shell from its cache");
    assert.ok((sample(await scrape(), series) ?? 0) >= before + 1);
  });
});
