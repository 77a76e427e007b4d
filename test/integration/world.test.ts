// Tests of the sandbox world itself (test/support/world.ts): before vnat's tests trust
// it, it must route, resolve, serve, count and clean up exactly as it claims.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { run, waitFor } from "../support/sh.ts";
import {
  UDHCPC_SCRIPT,
  assertNoWorldDebris,
  createWorld,
  listDebris,
  withWorld,
  worldUnavailable,
  type BuildStep,
  type World,
} from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = worldUnavailable();

async function hostResolvConfHash(): Promise<string> {
  return createHash("sha256")
    .update(await readFile("/etc/resolv.conf"))
    .digest("hex");
}

/** The host namespace must never get an address on a world's links (not even IPv6 link-local). */
async function assertNoHostAddresses(w: World): Promise<void> {
  const r = await run("ip", ["-j", "addr", "show"]);
  const links = JSON.parse(r.stdout) as Array<{ ifname: string; addr_info: unknown[] }>;
  const mine = links.filter((l) => l.ifname.includes(w.tag));
  assert.ok(mine.length > 0, `expected links of world ${w.tag} in the host namespace`);
  for (const l of mine) assert.deepEqual(l.addr_info, [], `host link ${l.ifname} has addresses`);
}

/** No IPv6 address, route or neighbour of a world's ranges in the host namespace; its links have IPv6 off. */
async function assertNoHostIpv6(w: World): Promise<void> {
  const routes = (await run("ip", ["-6", "route", "show", "table", "all"])).stdout;
  assert.doesNotMatch(routes, /2001:db8:[12]00:/, "host IPv6 routes");
  const addrs = (await run("ip", ["-6", "addr", "show"])).stdout;
  assert.doesNotMatch(addrs, /2001:db8:/, "host IPv6 addresses");
  const links = JSON.parse((await run("ip", ["-j", "link", "show"])).stdout) as Array<{ ifname: string }>;
  for (const l of links.filter((x) => x.ifname.includes(w.tag)))
    assert.equal(
      (await readFile(`/proc/sys/net/ipv6/conf/${l.ifname}/disable_ipv6`, "utf8")).trim(),
      "1",
      `disable_ipv6 on host link ${l.ifname}`,
    );
}

needs(unmet).test("a provider host resolves and fetches from the internet through the router", {}, async () => {
  const resolvBefore = await hostResolvConfHash();
  await withWorld(async (w) => {
    const h = await w.addProviderHost("198.51.100.50");
    assert.deepEqual(await h.address(), { ip: "198.51.100.50", prefix: 24 });

    assert.equal(await h.resolve(w.dnsName, w.upstreamDns), w.internetIp);
    assert.equal(await h.resolve(w.dnsName), w.internetIp, "via the host's own resolv.conf");
    assert.equal(await h.fetch(`http://${w.dnsName}/`), "198.51.100.50\n");
    assert.deepEqual(await w.serverSources(), ["198.51.100.50"]);

    const neigh = await w.routerNeighbours();
    assert.ok(
      neigh.some((n) => n.ip === "198.51.100.50" && n.mac !== undefined),
      `router should know 198.51.100.50: ${JSON.stringify(neigh)}`,
    );
    assert.equal(await w.privateSourcePackets(), 0);
    await assertNoHostAddresses(w);
  });
  assert.equal(await hostResolvConfHash(), resolvBefore, "the host's /etc/resolv.conf changed");
});

needs(unmet).test(
  "IPv6: a provider host and a routed guest reach [2001:db8:200::10]:80 through the router",
  {},
  async () => {
    await withWorld(async (w) => {
      const h = await w.addProviderHost("198.51.100.50", "2001:db8:100::50");
      assert.deepEqual(await h.address6(), { ip: "2001:db8:100::50", prefix: 64 });
      assert.equal(await h.fetch(`http://[${w.internetIp6}]/`), "2001:db8:100::50\n");
      assert.equal(await h.fetch(`http://${w.internetIp}/`), "198.51.100.50\n", "IPv4 still logged without ::ffff:");
      assert.equal(await h.resolve(w.dnsName), w.internetIp, "A records as before");
      const aaaa = await h.exec("timeout", ["10", "busybox", "nslookup", "-type=aaaa", w.dnsName, w.internetIp6]);
      assert.match(aaaa.stdout, /2001:db8:200::10/, `AAAA over IPv6: ${aaaa.stdout} ${aaaa.stderr}`);

      // A guest on a plain LAN bridge, behind a plain IPv6 router namespace (no vnat, no NAT):
      // its /64 reaches the internet because the upstream router has a route for it.
      const lan = await w.addLanBridge();
      const gw = await w.addGuest(lan);
      await gw.addStaticAddress6("2001:db8:300::1/64");
      await gw.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"], { check: true });
      const up = await w.addGuest(w.providerBridge);
      await run("ip", ["-n", up.ns, "link", "set", "eth0", "netns", gw.ns, "name", "up0"]);
      await gw.exec("ip", ["link", "set", "up0", "up"], { check: true });
      await gw.exec("ip", ["-6", "addr", "add", "2001:db8:100::30/64", "dev", "up0", "nodad"], { check: true });
      await gw.exec("ip", ["-6", "route", "add", "default", "via", w.providerGateway6, "dev", "up0"], { check: true });
      await w.addUpstreamRoute6("2001:db8:300::/64", "2001:db8:100::30");

      const g = await w.addGuest(lan);
      await g.addStaticAddress6("2001:db8:300::50/64", "2001:db8:300::1");
      assert.equal(await g.fetch(`http://[${w.internetIp6}]/`), "2001:db8:300::50\n");
      assert.deepEqual(await w.serverSources(), ["2001:db8:100::50", "198.51.100.50", "2001:db8:300::50"]);
      assert.ok(
        (await w.routerNeighbours6()).some((n) => n.ip === "2001:db8:100::30"),
        "the router resolved the next hop on its provider side",
      );
      assert.equal(await w.ulaSourcePackets(), 0);
      await assertNoHostAddresses(w);
      await assertNoHostIpv6(w);
    });
  },
);

needs(unmet).test(
  "IPv6: only a SLAAC guest takes router advertisements; every other world namespace ignores them",
  {},
  async () => {
    await withWorld(async (w) => {
      const lan = await w.addLanBridge();
      // a stand-in router advertising 2001:db8:300::/64 (vnat's dnsmasq plays this part)
      const rtr = await w.addGuest(lan);
      await rtr.addStaticAddress6("2001:db8:300::1/64");
      await rtr.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"], { check: true });
      const plain = await w.addGuest(lan);
      const slaac = await w.addGuest(lan, { slaac: true });
      const p = await w.startProcess(rtr.ns, "dnsmasq-ra", "dnsmasq", [
        "--keep-in-foreground",
        "--log-facility=-",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        "--enable-ra",
        "--dhcp-range=::,constructor:eth0,ra-only,64,1h",
      ]);
      const t0 = Date.now();
      const a = await slaac.waitForAddress6(15000);
      const ms = Date.now() - t0;
      assert.match(a.ip, /^2001:db8:300:0:/, `SLAAC address ${a.ip}`);
      assert.equal(a.prefix, 64);
      assert.match((await slaac.defaultGateway6()) ?? "", /^fe80:/, "default route via the router's link-local");
      assert.ok(ms < 10000, `SLAAC took ${ms} ms`);
      assert.ok(await slaac.ping("2001:db8:300::1"));
      // the RA reached the other guest too (same bridge), which must not have used it
      assert.match(await readFile(p.logFile, "utf8"), /router advertisement/i);
      assert.equal(await plain.address6(), undefined);
      assert.equal(await plain.defaultGateway6(), undefined);
      await assertNoHostIpv6(w);
    });
  },
);

needs(unmet).test("a guest on a LAN bridge gets a lease with udhcpc, in its own resolv.conf", {}, async () => {
  const resolvBefore = await hostResolvConfHash();
  await withWorld(async (w) => {
    const lan = await w.addLanBridge();
    // A stand-in DHCP server on the LAN (vnat's namespace will play this part).
    const server = await w.addGuest(lan);
    await server.addStaticAddress("10.0.0.1/24");
    const p = await w.startProcess(server.ns, "dnsmasq-lan", "dnsmasq", [
      "--keep-in-foreground",
      "--log-facility=-",
      "--conf-file=/dev/null",
      "--no-resolv",
      "--no-hosts",
      "--port=0",
      "--interface=eth0",
      "--bind-interfaces",
      "--no-ping",
      "--dhcp-range=10.0.0.100,10.0.0.199,255.255.255.0,1h",
      "--dhcp-option=option:router,10.0.0.1",
      "--dhcp-option=option:dns-server,10.0.0.1",
      `--dhcp-leasefile=${join(w.tmpDir, "lan.leases")}`,
    ]);
    await waitFor(
      async () => (await readFile(p.logFile, "utf8")).includes("DHCP, IP range"),
      5000,
      "LAN dnsmasq to start",
    );

    const g = await w.addGuest(lan);
    const t0 = Date.now();
    const lease = await g.dhcp(10000);
    const ms = Date.now() - t0;
    assert.match(lease.ip, /^10\.0\.0\.1\d\d$/);
    assert.deepEqual(
      { prefix: lease.prefix, router: lease.router, dns: lease.dns },
      { prefix: 24, router: "10.0.0.1", dns: ["10.0.0.1"] },
    );
    assert.ok(ms < 5000, `lease took ${ms} ms`);
    assert.ok(await g.ping("10.0.0.1"));
    await assertNoHostAddresses(w);
  });
  assert.equal(await hostResolvConfHash(), resolvBefore, "the host's /etc/resolv.conf changed");
});

needs(unmet).test("the udhcpc script refuses to run anywhere but the namespace it was given", {}, async () => {
  // Run inside a world namespace with a wrong VT_NETNS: if the guard failed, only that
  // namespace's own resolv.conf could be hit, never the host's.
  await withWorld(async (w) => {
    const g = await w.addGuest(w.providerBridge);
    const before = await readFile(g.resolvConf, "utf8");
    const env = { VT_NETNS: `${g.ns}x`, interface: "eth0", ip: "10.9.9.9", mask: "24", dns: "10.9.9.1" };
    const r = await g.exec(UDHCPC_SCRIPT, ["bound"], { env });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /refusing/);
    assert.equal(await readFile(g.resolvConf, "utf8"), before);
    assert.equal(await g.address(), undefined);
  });
});

needs(unmet).test("a gratuitous ARP on the provider network creates a router neighbour entry", {}, async () => {
  await withWorld(async (w) => {
    const h = await w.addProviderHost("198.51.100.50");
    await h.addStaticAddress("198.51.100.77/24");
    assert.ok(!(await w.routerNeighbours()).some((n) => n.ip === "198.51.100.77"));
    await h.exec("busybox", ["arping", "-U", "-c", "1", "-I", "eth0", "198.51.100.77"], { check: true });
    const mac = await h.mac();
    await waitFor(
      async () => (await w.routerNeighbours()).some((n) => n.ip === "198.51.100.77" && n.mac === mac),
      2000,
      "router neighbour 198.51.100.77 from gratuitous ARP",
    );
  });
});

needs(unmet).test("privateSourcePackets counts a private source that reaches the router", {}, async () => {
  await withWorld(async (w) => {
    // A misconfigured "leaky" host: a 10.x source sent straight at the router.
    const leaky = await w.addGuest(w.providerBridge);
    await leaky.addStaticAddress("10.0.0.5/24");
    await leaky.exec("ip", ["route", "add", "198.18.0.0/24", "via", w.providerGateway, "dev", "eth0", "onlink"], {
      check: true,
    });
    await leaky.ping(w.internetIp, 1);
    assert.ok((await w.privateSourcePackets()) >= 1);
  });
});

needs(unmet).test("two worlds run side by side and clean up independently", {}, async () => {
  const [a, b] = await Promise.all([createWorld(), createWorld()]);
  try {
    assert.notEqual(a.tag, b.tag);
    // The same addresses in both: nothing is shared between worlds.
    const [ha, hb] = await Promise.all([a.addProviderHost("198.51.100.50"), b.addProviderHost("198.51.100.50")]);
    assert.equal(await ha.fetch(`http://${a.internetIp}/`), "198.51.100.50\n");
    await a.destroy();
    await assertNoWorldDebris(a.tag);
    assert.equal(await hb.fetch(`http://${b.dnsName}/`), "198.51.100.50\n", "world b survives a's teardown");
    assert.deepEqual(await b.serverSources(), ["198.51.100.50"]);
    await a.destroy(); // twice is fine
  } finally {
    const errors: unknown[] = [];
    for (const w of [a, b]) {
      await w.destroy().catch((e: unknown) => errors.push(e));
      await assertNoWorldDebris(w.tag).catch((e: unknown) => errors.push(e));
    }
    if (errors.length > 0) throw errors[0];
  }
});

for (const step of ["provider-bridge", "router", "internet", "dns", "http"] as BuildStep[]) {
  needs(unmet).test(`a world that fails after step "${step}" removes everything it made`, {}, async () => {
    const err = await createWorld({ faultAfter: step }).then(
      () => assert.fail("createWorld should have failed"),
      (e: unknown) => e as Error,
    );
    assert.match(err.message, new RegExp(`injected fault after step "${step}"`));
    const tag = /createWorld (\w+):/.exec(err.message)?.[1];
    assert.ok(tag !== undefined);
    assert.deepEqual(await listDebris(tag), []);
  });
}

needs(unmet).test("destroy also ends processes it did not start itself inside its namespaces", {}, async () => {
  let pid = 0;
  await withWorld(async (w) => {
    const g = await w.addGuest(await w.addLanBridge());
    // Started behind the world's back, the way a test or vnat might leave one running.
    const child = spawn("ip", ["netns", "exec", g.ns, "sleep", "600"], { detached: true, stdio: "ignore" });
    child.unref();
    pid = child.pid ?? 0;
    await waitFor(
      async () => (await run("ip", ["netns", "pids", g.ns])).stdout.trim() !== "",
      2000,
      "sleep in the guest ns",
    );
  });
  assert.ok(pid > 0);
  // dead, and reaped by Node shortly after (a zombie still answers kill 0)
  await waitFor(
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === "ESRCH";
      }
    },
    1000,
    `pid ${pid} to be gone`,
  );
});
