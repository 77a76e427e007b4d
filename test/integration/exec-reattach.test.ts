// exec/change/reattach.ts: a guest's tap is put back on a bridge (`ip link set master`), and a
// gratuitous ARP for the gateway — from vnat's namespace or from the host's bridge —
// replaces the stale gateway MAC a guest holds, measured in a guest namespace's neighbour table.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { LAN_IF } from "../../src/core/names.ts";
import { announceGateway, attachTap } from "../../src/exec/change/reattach.ts";
import { processRunner } from "../../src/exec/run.ts";
import { run, waitFor } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
let br = "";
let gwNs = "";
let guestNs = "";
let guest2Ns = "";
let hostNs = "";
const MODULE = new URL("../../src/exec/change/reattach.ts", import.meta.url).href;
const OLD_MAC = "02:00:00:00:00:99";

before(async () => {
  br = await s.bridge("br");
  gwNs = await s.netns("gw");
  guestNs = await s.netns("g1");
  guest2Ns = await s.netns("g2");
  hostNs = await s.netns("hb");
});
after(() => s.cleanup());

const gatewayMac = async (ns: string): Promise<string | undefined> => {
  const out = (await run("ip", ["-n", ns, "-j", "neigh", "show", "to", "10.0.0.1"])).stdout;
  return (JSON.parse(out || "[]") as Array<{ lladdr?: string }>)[0]?.lladdr;
};

test("attachTap: the tap is enslaved to the bridge; a missing tap gives the error's first line", async () => {
  const tap = s.link("t0");
  await run("ip", ["link", "add", tap, "type", "veth", "peer", "name", s.link("t1")]);
  assert.equal(await attachTap(processRunner, tap, br), undefined);
  assert.match(readFileSync(`/sys/class/net/${tap}/master/uevent`, "utf8"), new RegExp(`INTERFACE=${br}\\n`));
  const err = await attachTap(processRunner, `${tap}x`, br);
  assert.match(err ?? "", /Cannot find device|does not exist/);
  assert.doesNotMatch(err ?? "", /\n/);
});

test("announceGateway from a namespace: the guest's stale entry for the gateway takes the namespace's MAC", async () => {
  await run("ip", ["-n", gwNs, "link", "add", LAN_IF, "type", "veth", "peer", "name", "eth0", "netns", guestNs]);
  await run("ip", ["-n", gwNs, "addr", "add", "10.0.0.1/24", "dev", LAN_IF]);
  await run("ip", ["-n", gwNs, "link", "set", LAN_IF, "up"]);
  await run("ip", ["-n", guestNs, "addr", "add", "10.0.0.50/24", "dev", "eth0"]);
  await run("ip", ["-n", guestNs, "link", "set", "eth0", "up"]);
  await run("ip", ["-n", guestNs, "neigh", "replace", "10.0.0.1", "lladdr", OLD_MAC, "dev", "eth0", "nud", "stale"]);
  const mac = readMac(gwNs, LAN_IF);
  assert.equal(await gatewayMac(guestNs), OLD_MAC);
  assert.equal(await announceGateway("10.0.0.1", { netns: gwNs }), true);
  await waitFor(async () => (await gatewayMac(guestNs)) === (await mac), 5000, "the guest to learn the new MAC");
});

test("announceGateway from a bridge holding the gateway (libvirt NAT): a guest on it takes the bridge's MAC", async () => {
  // libvirt's NAT bridge carries the gateway address: that bridge lives in a test namespace,
  // and the module runs there (a node process inside it), as the hook runs on the host
  await run("ip", ["-n", hostNs, "link", "add", "br0", "type", "bridge"]);
  await run("ip", ["-n", hostNs, "addr", "add", "10.0.0.1/24", "dev", "br0"]);
  await run("ip", ["-n", hostNs, "link", "set", "br0", "up"]);
  await run("ip", ["-n", hostNs, "link", "add", "port0", "type", "veth", "peer", "name", "eth0", "netns", guest2Ns]);
  await run("ip", ["-n", hostNs, "link", "set", "port0", "master", "br0"]);
  await run("ip", ["-n", hostNs, "link", "set", "port0", "up"]);
  await run("ip", ["-n", guest2Ns, "addr", "add", "10.0.0.51/24", "dev", "eth0"]);
  await run("ip", ["-n", guest2Ns, "link", "set", "eth0", "up"]);
  await run("ip", ["-n", guest2Ns, "neigh", "replace", "10.0.0.1", "lladdr", OLD_MAC, "dev", "eth0", "nud", "stale"]);
  const bridgeMac = await readMac(hostNs, "br0");
  const script =
    `const { announceGateway } = await import(${JSON.stringify(MODULE)});` +
    `process.stdout.write(String(await announceGateway("10.0.0.1", { bridge: "br0" })));`;
  const r = await run("ip", [
    "netns",
    "exec",
    hostNs,
    process.execPath,
    "--import",
    "tsx",
    "--input-type=module",
    "-e",
    script,
  ]);
  assert.equal(r.stdout, "true");
  await waitFor(async () => (await gatewayMac(guest2Ns)) === bridgeMac, 5000, "the guest to learn the bridge's MAC");
});

async function readMac(ns: string, ifname: string): Promise<string> {
  const out = (await run("ip", ["-n", ns, "-j", "link", "show", "dev", ifname])).stdout;
  return (JSON.parse(out) as Array<{ address: string }>)[0]!.address;
}
