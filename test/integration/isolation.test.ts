// Isolation, both ways: through its namespace a guest reaches the outside world and the
// provider's gateway, but by default neither the host's own addresses nor anything else on
// the provider network (another vnat network's uplink and port forwards live there);
// <vnat:isolation host="open" provider="open"/> opens each. The "host" is a provider-side
// namespace standing in for it (VNAT_HOST_NETNS): a test never adds an address to, or
// sends a packet to, the real host. Replies to connections that came IN through a port
// forward must flow whatever the isolation.
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { healthOf } from "../support/health.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { nsExec, run, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type Guest, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const HOST_IP = "198.51.100.77"; // the stand-in for the host's own address
const NEIGHBOUR_IP = "198.51.100.50"; // some other machine on the provider network
let world: World;
let a: NetOpts; // the network under test
let b: NetOpts; // another vnat network, with a port forward to its guest
let guestA: Guest;
let hostNs: Guest;
let env: Record<string, string>;

async function start(n: NetOpts): Promise<void> {
  for (const [op, subop] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(n.name, op, subop, hookData(n), env);
    assert.equal(r.exitCode, 0, `${n.name} ${op}: ${r.stderr}`);
  }
}

async function restartA(isolation: string): Promise<void> {
  await runHook(a.name, "stopped", "end", hookData(a), env);
  a = { ...a, extraMetadata: isolation };
  await start(a);
  assert.equal(await healthOf({ name: a.name, xml: networkXml(a), active: true }), "healthy");
  // the new namespace's lan0 has a new MAC: forget the old gateway's, as a guest would after a while
  await run("ip", ["-n", guestA.ns, "neigh", "flush", "all"]);
}

/** What guest A reaches: the internet, the gateway, a provider neighbour, the host, network B's forward. */
async function reach(): Promise<Record<string, boolean>> {
  const fetchOk = (url: string) =>
    guestA.fetch(url, 3).then(
      () => true,
      () => false,
    );
  return {
    internet: await fetchOk(`http://${world.internetIp}/`),
    gateway: await guestA.ping(world.providerGateway),
    neighbour: await guestA.ping(NEIGHBOUR_IP),
    host: await guestA.ping(HOST_IP),
    otherVnat: await fetchOk(`http://${b.uplink!.split("/")[0]}:8080/`),
  };
}

before(async () => {
  world = await createWorld();
  hostNs = await world.addProviderHost(HOST_IP);
  await world.addProviderHost(NEIGHBOUR_IP);
  env = { VNAT_HOST_NETNS: hostNs.ns };
  process.env.VNAT_HOST_NETNS = hostNs.ns; // for the in-process status probe
  const common = { uplinkBridge: world.providerBridge, gateway: world.providerGateway, dns: [world.upstreamDns] };
  a = { name: `t${tag}ia`, bridge: await world.addLanBridge(), uplink: "198.51.100.11/24", ...common };
  b = {
    name: `t${tag}ib`,
    bridge: await world.addLanBridge(),
    uplink: "198.51.100.12/24",
    ...common,
    extraMetadata: `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>`,
  };
  await start(b);
  const guestB = await world.addGuest(b.bridge);
  await guestB.addStaticAddress("10.0.0.5/24", "10.0.0.1");
  const echo = "src/demo/http-echo-server.mjs";
  const p = await world.startProcess(guestB.ns, "echo-b", process.execPath, [
    echo,
    `${world.tmpDir}/echo-b.jsonl`,
    "80",
  ]);
  await waitFor(
    async () => (await nsExec(guestB.ns, "cat", [p.logFile])).stdout.includes("listening"),
    5000,
    "echo server in guest B",
  );
  await start(a);
  guestA = await world.addGuest(a.bridge);
  await guestA.dhcp();
});

after(async () => {
  delete process.env.VNAT_HOST_NETNS;
  for (const n of [a, b]) if (n) await runHook(n.name, "stopped", "end", hookData(n), env);
  await world?.destroy();
  for (const n of [a, b]) if (n) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

describe("isolation", () => {
  test("by default: the internet and the gateway, nothing else", async () => {
    assert.equal(await healthOf({ name: a.name, xml: networkXml(a), active: true }), "healthy");
    assert.deepEqual(await reach(), { internet: true, gateway: true, neighbour: false, host: false, otherVnat: false });
  });

  test("replies to a connection that came in through a port forward still flow", async () => {
    const neighbour = world.addProviderHost("198.51.100.51");
    const body = await (await neighbour).fetch(`http://${b.uplink!.split("/")[0]}:8080/`, 5);
    assert.equal(body.trim(), "198.51.100.51");
  });

  test('provider="open": the provider network and other vnat networks, still not the host', async () => {
    await restartA(`<vnat:isolation provider="open"/>`);
    assert.deepEqual(await reach(), { internet: true, gateway: true, neighbour: true, host: false, otherVnat: true });
  });

  test('host="open" provider="open": everything', async () => {
    await restartA(`<vnat:isolation host="open" provider="open"/>`);
    assert.deepEqual(await reach(), { internet: true, gateway: true, neighbour: true, host: true, otherVnat: true });
  });

  test('host="open" alone: the host, but no other machine of the provider network', async () => {
    await restartA(`<vnat:isolation host="open"/>`);
    // the host stand-in sits on the provider subnet, so provider isolation still covers it
    assert.deepEqual(await reach(), { internet: true, gateway: true, neighbour: false, host: false, otherVnat: false });
  });

  test("without the stand-in, the set holds exactly the real host's addresses (nothing is sent to them)", async () => {
    const plain = {
      ...a,
      name: `t${tag}ic`,
      bridge: await world.addLanBridge(),
      uplink: "198.51.100.13/24",
      extraMetadata: "",
    };
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const)
      assert.equal((await runHook(plain.name, op, subop, hookData(plain))).exitCode, 0);
    const netns = kernelNames(plain.name).netns;
    // a namespace a test runs a command in gets its own resolv.conf first (FACTS.md)
    const etc = `/etc/netns/${netns}`;
    await mkdir(etc, { recursive: true });
    await writeFile(`${etc}/resolv.conf`, "# vnat isolation test: no resolver\n");
    try {
      const set = await run("ip", ["netns", "exec", netns, "nft", "-j", "list", "set", "ip", "vnat", "host_addrs"]);
      const elems =
        (JSON.parse(set.stdout) as { nftables: Array<{ set?: { elem?: string[] } }> }).nftables.find((x) => x.set)?.set
          ?.elem ?? [];
      const host = JSON.parse((await run("ip", ["-j", "-4", "addr", "show"])).stdout) as Array<{
        addr_info: Array<{ local: string }>;
      }>;
      const want = host.flatMap((l) => l.addr_info.map((i) => i.local)).filter((ip) => !ip.startsWith("127."));
      assert.deepEqual([...elems].sort(), [...new Set(want)].sort());
    } finally {
      await rm(etc, { recursive: true, force: true });
      await runHook(plain.name, "stopped", "end", hookData(plain));
      assert.deepEqual(vnatDebris(plain.name), []);
    }
  });
});
