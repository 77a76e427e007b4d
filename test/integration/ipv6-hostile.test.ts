// Issue 17, hostile guests on the real kernel: an ICMPv6 error that belongs to no flow is not
// tracked, so NAT never rewrites it; the namespace's forward chain must not let one a guest
// sends leave on the provider network (it would carry the guest's ULA source, or any source
// the guest cares to spoof). Errors about a flow are "related" and still pass (a fetch works).
// And hostile metadata: a network whose nptv6 or routed /64 is one a live network already
// translates onto or routes is refused at `start begin` (it would take the other's replies,
// or send as its guests).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { formatIp6, eui64, parseCidr6 } from "../../src/core/ipv6.ts";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook } from "../support/hook.ts";
import { netnsResolvConf } from "../support/inbound.ts";
import { nsExec } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type Guest, type World } from "../support/world.ts";
import { vnatDebris } from "../support/hook.ts";

const tag = randomBytes(2).toString("hex");
let world: World;
let net: NetOpts;
let g: Guest;
const more: NetOpts[] = [];
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  world = await createWorld();
  const lan = await world.addLanBridge();
  g = await world.addGuest(lan, { slaac: true });
  net = {
    name: `t${tag}ic`,
    bridge: lan,
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.44/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::44/64"/>`,
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
  for (const n of [net, ...more]) await runHook(n.name, "stopped", "end", hookData(n));
  for (const c of cleanups.reverse()) await c();
  await world?.destroy();
  for (const n of [net, ...more]) assert.deepEqual(vnatDebris(n.name), []);
  await assertNoWorldDebris(world.tag);
});
test("a guest's unsolicited ICMPv6 errors do not leave with its ULA source; its flows still work", async () => {
  const ip = (await g.waitForAddress6(20_000)).ip;
  assert.equal(ip, formatIp6(eui64(parseCidr6("fd00:a::1/64")!, await g.mac())));
  const before0 = await world.ulaSourcePackets();
  const py = `
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
emb = bytes([0x60,0,0,0, 0,8,17,64]) + socket.inet_pton(socket.AF_INET6, "${world.internetIp6}") + socket.inet_pton(socket.AF_INET6, "${ip}") + bytes([0,53,0x30,0x39,0,8,0,0])
for t in (1, 2, 3):
  body = bytes([t,0,0,0]) + ((1280).to_bytes(4,"big") if t == 2 else bytes(4)) + emb
  for i in range(5): s.sendto(body, ("${world.internetIp6}", 0))
print("sent")
`;
  assert.equal((await nsExec(g.ns, "python3", ["-c", py], { check: true })).stdout.trim(), "sent");
  // a flow's own traffic (and any error about it) still passes; by then the errors would have arrived
  assert.equal((await g.fetch(`http://[${world.internetIp6}]/`)).trim(), "2001:db8:100::44");
  assert.equal(await world.ulaSourcePackets(), before0);
});

test("a /64 another live network translates onto (nptv6) is refused as a routed lan6, and as an nptv6 prefix", async () => {
  const mk = async (suffix: string, i: number, v6: string): Promise<NetOpts> => {
    const n = {
      ...net,
      name: `t${tag}${suffix}`,
      bridge: await world.addLanBridge(),
      uplink: `198.51.100.${45 + i}/24`,
      extraMetadata: v6,
    };
    more.push(n);
    return n;
  };
  const P = "2001:db8:301::/64";
  const a = await mk(
    "pa",
    0,
    `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::45/64" mode="nptv6" prefix="${P}"/>`,
  );
  cleanups.push(await netnsResolvConf(kernelNames(a.name).netns));
  for (const [op, sub] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(a.name, op, sub, hookData(a));
    assert.equal(r.exitCode, 0, r.stderr);
  }
  const routed = await mk(
    "pr",
    1,
    `<vnat:lan6 address="2001:db8:301::1/64"/><vnat:uplink6 address="2001:db8:100::46/64" mode="routed"/>`,
  );
  const nptv6 = await mk(
    "pn",
    2,
    `<vnat:lan6 address="fd00:b::1/64"/><vnat:uplink6 address="2001:db8:100::47/64" mode="nptv6" prefix="${P}"/>`,
  );
  for (const [n, mode] of [
    [routed, "routed"],
    [nptv6, "nptv6"],
  ] as const) {
    const r = await runHook(n.name, "start", "begin", hookData(n));
    assert.equal(r.exitCode, 3, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `vnat: network "${n.name}": ${mode} prefix ${P} on bridge "${world.providerBridge}" is already used by active vnat network "${a.name}"`,
    );
    assert.deepEqual(vnatDebris(n.name), []);
  }
});
