// A vnat network keeps working while the HOST's conntrack is on, as it is once any ruleset
// of the host uses it: here a real libvirt NAT network (libvirt's own iptables MASQUERADE
// and conntrack rules), as on any host with a libvirt NAT network, Docker or a stateful
// firewall. Both of the world's bridges pass their frames to the host's iptables
// (br_netfilter: each bridge's nf_call_iptables is set, whatever the machine's global
// switch says), so the host's conntrack tracks every IP frame entering them. A macvlan
// side would receive those frames with the host's conntrack entry still attached (macvlan
// does not scrub them, a veth pair does), and the namespace's conntrack would take it for
// its own: dnsmasq's upstream replies dropped as new, guests' flows leaving un-NATed
// (core/input/attach.ts, docs/DESIGN.md). Run against the macvlans, this file failed: resolve,
// fetch and UDP all timed out. So "auto" attaches both sides with veth pairs there.
//
// The NAT network lives only as long as the checks (while it runs, the host's conntrack
// tracks every bridged frame on this machine, other tests' too); it is transient, on a
// 10.251.N.0/24 no host route uses, without DHCP, and nothing is sent to it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { attachmentOf, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { udpAsk } from "../support/inbound.ts";
import { ensureDaemons, libvirtUnavailable, removeLibvirtKeptRules, virsh } from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { run, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";

const UDP_PORT = 5353;

/** A 10.251.N.0/24 that no host route touches. */
async function freeSubnet(): Promise<string> {
  const routes = (await run("ip", ["-4", "route", "show", "table", "all"])).stdout;
  for (let i = 0; i < 64; i++) {
    const n = 1 + (randomBytes(1)[0]! % 250);
    if (!routes.includes(`10.251.${n}.`)) return `10.251.${n}`;
  }
  throw new Error("no free 10.251.N.0/24 on this host");
}

/** The host's conntrack entries from SRC to DST (conntrack -L prints one line each). */
async function hostEntries(src: string, dst: string): Promise<string[]> {
  const r = await run("conntrack", ["-L", "-s", src, "-d", dst]);
  return r.stdout.split("\n").filter((l) => l.includes(`src=${src}`));
}

needs(libvirtUnavailable() ?? worldUnavailable()).describe(
  "host conntrack on (a libvirt NAT network) and bridges that call iptables",
  { timeout: 180_000 },
  () => {
    const tag = randomBytes(2).toString("hex");
    let world: World;
    let net: NetOpts;
    let guest: Guest;
    const natName = `vtn-${tag}`;

    before(async () => {
      await ensureDaemons();
      world = await createWorld();
      net = await sandboxNet(world, `t${tag}ct`, "198.51.100.71/24", {
        dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`,
      });
      for (const bridge of [net.bridge, world.providerBridge])
        await run("ip", ["link", "set", "dev", bridge, "type", "bridge", "nf_call_iptables", "1"]);
      // a UDP echo on the internet host: "PORT:MESSAGE" back to the sender
      const script = `const s = require("dgram").createSocket("udp4"); s.on("message", (m, r) => s.send("${UDP_PORT}:" + m, r.port, r.address)); s.bind(${UDP_PORT}, () => console.log("listening"));`;
      const p = await world.startProcess(world.internetNs, "udp-echo", process.execPath, ["-e", script]);
      await waitFor(async () => (await readFile(p.logFile, "utf8")).includes("listening"), 5000, "udp echo");
      for (const [op, sub] of [
        ["start", "begin"],
        ["started", "begin"],
      ] as const) {
        const r = await runHook(net.name, op, sub, hookData(net));
        assert.equal(r.exitCode, 0, r.stderr);
      }
      guest = await world.addGuest(net.bridge);
      await guest.dhcp();
    });

    after(async () => {
      await virsh(["net-destroy", natName]);
      await virsh(["net-undefine", natName]);
      await removeLibvirtKeptRules([natName]);
      if (net) await runHook(net.name, "stopped", "end", hookData(net));
      await world?.destroy();
      if (net) assert.deepEqual(vnatDebris(net.name), []);
      if (world) await assertNoWorldDebris(world.tag);
      const kept = (await run("iptables-save", [])).stdout.split("\n").filter((l) => l.includes(natName));
      assert.deepEqual(kept, [], "iptables rules left for the NAT network's bridge");
    });

    test("auto attaches both sides with veth pairs when their bridges call iptables", () => {
      const ns = kernelNames(net.name).netns;
      assert.deepEqual(attachmentOf(ns, "lan0").kind, "veth");
      assert.deepEqual(attachmentOf(ns, "wan0").kind, "veth");
    });

    test("with a libvirt NAT network running: a guest resolves through dnsmasq, fetches over TCP, exchanges UDP", async () => {
      const subnet = await freeSubnet();
      const xml = `<network>
  <name>${natName}</name>
  <forward mode='nat'/>
  <bridge name='${natName}' stp='off' delay='0'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'/>
</network>
`;
      const file = `${world.tmpDir}/${natName}.xml`;
      await (await import("node:fs/promises")).writeFile(file, xml);
      const failures: string[] = [];
      let tracked: string[] = [];
      const ip = (await guest.address())!.ip;
      try {
        await virsh(["net-create", file], { check: true });
        const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
          try {
            await fn();
          } catch (e) {
            failures.push(`${what}: ${(e as Error).message}`);
          }
        };
        // the name is asked of the namespace's dnsmasq, which forwards it upstream
        await attempt("resolve", async () => assert.equal(await guest.resolve(world.dnsName), world.internetIp));
        await attempt("tcp", async () =>
          assert.equal((await guest.fetch(`http://${world.internetIp}/`, 5)).trim(), "198.51.100.71"),
        );
        await attempt("udp", async () =>
          assert.equal(await udpAsk(guest.ns, world.internetIp, UDP_PORT, "ping"), `${UDP_PORT}:ping`),
        );
        // the host's conntrack did see the guest's flows: the checks above ran with it on
        tracked = await hostEntries(ip, world.internetIp);
      } finally {
        await virsh(["net-destroy", natName]);
      }
      assert.deepEqual(failures, []);
      assert.ok(
        tracked.length > 0,
        `the host's conntrack tracked no flow of ${ip}: the NAT network did not turn it on`,
      );
      assert.equal(await world.privateSourcePackets(), 0, "a guest's 10.x source reached the provider network");
    });
  },
);
