// Issue 17's proof on the real kernel: three dual-stack networks driven through
// hooks/network as libvirt calls it. Two share the ULA fd00:a::/64 (nat66 and nptv6), the
// third routes a provider /64. Guests autoconfigure from the namespace's RAs, reach the
// internet namespace over IPv6, and the server sees the nat66 uplink, the nptv6-translated
// address and the routed guest's own. A forward over IPv6 reaches a guest; bad input is
// refused at `start begin` in one line; the host's IPv6 configuration is what it was; stop
// leaves nothing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { parseConfig } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { eui64, formatIp6, parseCidr6, parseIp6, translate6 } from "../../src/core/ipv6.ts";
import { kernelNames } from "../../src/core/names.ts";
import { START_STEPS } from "../../src/core/plan/start.ts";
import { preflight6 } from "../../src/hook/preflight6.ts";
import { parseIfInet6 } from "../../src/exec/probe/host-addrs6.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { cacheEntries, runHook, RUN_DIR, vnatDebris } from "../support/hook.ts";
import { nsExec, run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, TEST_CONFIG, type Guest, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const ULA = "fd00:a::1/64";
const ROUTED = "2001:db8:300::/64";
const NPT = "2001:db8:301::/64";
let world: World;
const nets: NetOpts[] = [];
const guests: Guest[] = [];
const guestIp6: string[] = [];
const floaters: Array<{ guest: Guest; ip: string; floating: string }> = [];

/** The host's own IPv6 addresses and routes, as text (what a dual-stack network must not change). */
async function hostIpv6(): Promise<{ addrs: string; routes: string }> {
  const addrs = (await run("ip", ["-6", "-o", "addr", "show"])).stdout;
  const routes = (await run("ip", ["-6", "route", "show", "table", "all"])).stdout;
  // only what a vnat network could add: test-range addresses and routes, and its own links' lines
  const ours = (text: string): string =>
    text
      .split("\n")
      .filter((l) => /2001:db8:|fd00:a:/.test(l) || nets.some((n) => l.includes(n.bridge)))
      .join("\n");
  return { addrs: ours(addrs), routes: ours(routes) };
}
let hostBefore: { addrs: string; routes: string };
let vethEnds = 0;

before(async () => {
  world = await createWorld();
  const v6: string[] = [
    `<vnat:lan6 address="${ULA}"/><vnat:uplink6 address="2001:db8:100::11/64"/>`,
    `<vnat:lan6 address="${ULA}" dhcp6="yes"/><vnat:uplink6 address="2001:db8:100::12/64" mode="nptv6" prefix="${NPT}"/>`,
    `<vnat:lan6 address="2001:db8:300::1/64"/><vnat:uplink6 address="2001:db8:100::13/64" mode="routed"/>`,
  ];
  for (let i = 0; i < v6.length; i++) {
    const bridge = await world.addLanBridge();
    const g = await world.addGuest(bridge, { slaac: true });
    guests.push(g);
    const lan = parseCidr6(i === 2 ? "2001:db8:300::1/64" : ULA)!;
    guestIp6.push(formatIp6(eui64(lan, await g.mac())));
    // the nat66 network forwards [uplink6]:8080 to its guest's port 80
    // and names its guest (a DHCPv4 host entry: ra-names gives the name an AAAA too)
    const fwd =
      i === 0
        ? `<vnat:forward6 proto="tcp" port="8080" to="${guestIp6[0]}" to-port="80"/><vnat:forward6 proto="tcp" port="8100-8101" to="${guestIp6[0]}"/><vnat:host mac="${await g.mac()}" ip="10.0.0.50" name="g6a"/>`
        : "";
    nets.push({
      name: `t${tag}v${i + 1}`,
      bridge,
      uplinkBridge: world.providerBridge,
      uplink: `198.51.100.${11 + i}/24`,
      gateway: world.providerGateway,
      dns: [world.upstreamDns],
      extraMetadata: v6[i]! + fwd,
    });
  }
  // a second guest on the nptv6 and on the routed network, each with a floating6
  for (const [k, i] of [1, 2].entries()) {
    const g = await world.addGuest(nets[i]!.bridge, { slaac: true });
    const ip = formatIp6(eui64(parseCidr6(i === 2 ? "2001:db8:300::1/64" : ULA)!, await g.mac()));
    floaters.push({ guest: g, ip, floating: `2001:db8:100::${22 + k}` });
    nets[i]!.extraMetadata += `<vnat:floating6 address="2001:db8:100::${22 + k}" to="${ip}"/>`;
  }
  // nptv6 and routed: the provider's router needs the /64 via the uplink6 (docs/ipv6.md)
  await world.addUpstreamRoute6(NPT, "2001:db8:100::12");
  await world.addUpstreamRoute6(ROUTED, "2001:db8:100::13");
  hostBefore = await hostIpv6();
});

after(async () => {
  for (const n of nets) await runHook(n.name, "stopped", "end", hookData(n));
  await world?.destroy();
  for (const n of nets) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

describe("dual stack: nat66, nptv6, routed", () => {
  test("start begin and started build each network", async () => {
    for (const n of nets) {
      const b = await runHook(n.name, "start", "begin", hookData(n));
      assert.equal(b.exitCode, 0, b.stderr);
      const r = await runHook(n.name, "started", "begin", hookData(n));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout + r.stderr, "");
    }
  });

  test("the namespace holds its IPv6 addresses (not tentative), route and ip6 table", async () => {
    for (const [i, n] of nets.entries()) {
      const ns = kernelNames(n.name).netns;
      const addrs = (await nsExec(ns, "ip", ["-6", "-o", "addr", "show", "scope", "global"])).stdout;
      assert.doesNotMatch(addrs, /tentative/);
      assert.match(addrs, new RegExp(`lan0\\s+inet6 ${i === 2 ? "2001:db8:300::1" : "fd00:a::1"}/64`));
      assert.match(addrs, new RegExp(`wan0\\s+inet6 2001:db8:100::${11 + i}/64`));
      const route = (await nsExec(ns, "ip", ["-6", "route", "show", "default"])).stdout;
      assert.match(route, /default via 2001:db8:100::1 dev wan0/);
      const table = (await nsExec(ns, "nft", ["list", "table", "ip6", "vnat"])).stdout;
      assert.match(
        table,
        [/snat to 2001:db8:100::11/, /snat prefix to 2001:db8:301::\/64/, /saddr 2001:db8:300::\/64 accept/][i]!,
      );
      const sysctl = (f: string) => readFileSync(`/proc/sys/net/ipv6/conf/${f}`, "utf8").trim();
      assert.equal(
        (await nsExec(ns, "sysctl", ["-n", "net.ipv6.conf.wan0.accept_ra"], { check: true })).stdout.trim(),
        "0",
      );
      assert.equal(
        (await nsExec(ns, "sysctl", ["-n", "net.ipv6.conf.all.forwarding"], { check: true })).stdout.trim(),
        "1",
      );
      // isolation: the host's own IPv6 addresses are in the set guests may not reach
      const hostSet = (await nsExec(ns, "nft", ["list", "set", "ip6", "vnat", "host6_addrs"])).stdout;
      for (const h of parseIfInet6(readFileSync("/proc/net/if_inet6", "utf8"))) assert.ok(hostSet.includes(h), h);
      // the host side: the LAN bridge takes no IPv6 (the namespace sends RAs on it)
      assert.equal(sysctl(`${n.bridge}/disable_ipv6`), "1");
      // and vnat's host-side veth ends (made where bridges pass frames to iptables) neither
      for (const end of [kernelNames(n.name).lanHost, kernelNames(n.name).uplinkHost])
        if (existsSync(`/proc/sys/net/ipv6/conf/${end}`)) {
          assert.equal(sysctl(`${end}/disable_ipv6`), "1", end);
          vethEnds++;
        }
    }
    // where br_netfilter is on, "auto" attaches by veth pairs: the check above saw them
    if (
      existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables") &&
      readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() === "1"
    )
      assert.ok(vethEnds > 0, "no host-side veth end was checked");
  });

  test("guests autoconfigure from the RA, with the namespace as their router", async () => {
    for (const [i, g] of guests.entries()) {
      const a = await g.waitForAddress6(15_000);
      assert.deepEqual(a, { ip: guestIp6[i], prefix: 64 });
      assert.match((await g.defaultGateway6()) ?? "", /^fe80::/);
    }
  });

  test("the RA says SLAAC, DNS at the lan6 gateway, and stateful DHCPv6 only where dhcp6 is on", async () => {
    for (const [i, g] of guests.entries()) {
      const r = await g.exec("timeout", ["10", "rdisc6", "-1", "-r", "3", "-w", "1500", "eth0"]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Stateful address conf\\.\\s*:\\s*${i === 1 ? "Yes" : "No"}`));
      assert.match(r.stdout, /Stateful other conf\.\s*:\s*Yes/);
      assert.match(r.stdout, new RegExp(`Prefix\\s*:\\s*${i === 2 ? "2001:db8:300::" : "fd00:a::"}/64`));
      assert.match(r.stdout, new RegExp(`Recursive DNS server\\s*:\\s*${i === 2 ? "2001:db8:300::1" : "fd00:a::1"}`));
    }
  });

  test("each reaches the internet over IPv6; the server sees the uplink6, the translated prefix, the guest", async () => {
    const expected = [
      "2001:db8:100::11",
      formatIp6(translate6(parseIp6(guestIp6[1]!)!, parseCidr6(NPT)!)),
      guestIp6[2]!,
    ];
    for (const [i, g] of guests.entries())
      assert.equal((await g.fetch(`http://[${world.internetIp6}]/`)).trim(), expected[i]);
    assert.deepEqual((await world.serverSources()).slice(-3), expected);
    // the shared ULA never reached the provider network
    assert.equal(await world.ulaSourcePackets(), 0);
  });

  test("names resolve over both families, asked over IPv6", async () => {
    const g = guests[0]!;
    const ask = async (type: string, name: string): Promise<string> =>
      (await g.exec("timeout", ["5", "busybox", "nslookup", `-type=${type}`, name, "fd00:a::1"])).stdout;
    assert.match(await ask("aaaa", world.dnsName), new RegExp(`Address:\\s*${world.internetIp6}`));
    assert.equal((await g.dhcp()).ip, "10.0.0.50");
    assert.match(await ask("a", "g6a"), /Address:\s*10\.0\.0\.50/);
    let aaaa = "";
    for (let t = 0; t < 60 && !aaaa.includes(guestIp6[0]!); t++) {
      aaaa = await ask("aaaa", "g6a");
      if (!aaaa.includes(guestIp6[0]!)) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(aaaa.includes(guestIp6[0]!), aaaa);
  });

  test("a forward over IPv6 reaches the guest; nothing else of the guests is reachable from outside", async () => {
    const dir = `${world.tmpDir}/www6`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/index.html`, "guest-over-ipv6\n");
    await world.startProcess(guests[0]!.ns, "httpd6", "busybox", ["httpd", "-f", "-p", "[::]:80", "-h", dir]);
    const outside = await world.addProviderHost("198.51.100.50", "2001:db8:100::50");
    let body = "";
    for (let t = 0; t < 40 && body === ""; t++) {
      body = await outside.fetch("http://[2001:db8:100::11]:8080/", 3).catch(() => "");
      if (body === "") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, "guest-over-ipv6\n");
    // a range keeps its ports
    await world.startProcess(guests[0]!.ns, "httpd6-8101", "busybox", ["httpd", "-f", "-p", "[::]:8101", "-h", dir]);
    let ranged = "";
    for (let t = 0; t < 40 && ranged === ""; t++) {
      ranged = await outside.fetch("http://[2001:db8:100::11]:8101/", 3).catch(() => "");
      if (ranged === "") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ranged, "guest-over-ipv6\n");
    // NAT loopback: the guest reaches itself through the forward too
    assert.equal(await guests[0]!.fetch("http://[2001:db8:100::11]:8080/", 5), "guest-over-ipv6\n");
    // default-deny inbound: the routed guest's own address and the nptv6 one are not open
    assert.equal(await outside.ping(guestIp6[2]!, 1), false);
    await assert.rejects(outside.fetch(`http://[${guestIp6[2]}]/`, 2));
  });

  test("floating6 (nptv6 and routed): the provider address reaches its guest, which leaves with it", async () => {
    const outside = await world.addProviderHost("198.51.100.51", "2001:db8:100::51");
    for (const [k, f] of floaters.entries()) {
      assert.equal((await f.guest.waitForAddress6(15_000)).ip, f.ip);
      const dir = `${world.tmpDir}/fip6-${k}`;
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${dir}/index.html`, `floating-${k}\n`);
      await world.startProcess(f.guest.ns, `httpd-fip6-${k}`, "busybox", ["httpd", "-f", "-p", "[::]:80", "-h", dir]);
      let body = "";
      for (let t = 0; t < 40 && body === ""; t++) {
        body = await outside.fetch(`http://[${f.floating}]/`, 3).catch(() => "");
        if (body === "") await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(body, `floating-${k}\n`);
      assert.equal((await f.guest.fetch(`http://[${world.internetIp6}]/`)).trim(), f.floating);
    }
  });

  test("bad input is refused at start begin in one line", async () => {
    const bad: Array<[string, RegExp]> = [
      [
        `<vnat:lan6 address="fd00:b::1/80"/><vnat:uplink6 address="2001:db8:100::21/64"/>`,
        /prefix \/80 is longer than \/64/,
      ],
      [
        `<vnat:lan6 address="fd00:b::1/64"/><vnat:uplink6 address="2001:db8:101::21/64"/>`,
        /is outside provider "vtp-[a-z0-9]+" IPv6 subnet 2001:db8:100::\/64/,
      ],
      [
        `<vnat:lan6 address="fd00:b::1/64"/><vnat:uplink6 address="2001:db8:100::21/64" mode="routed"/>`,
        /mode routed: lan6 fd00:b::\/64 is a unique local/,
      ],
      [
        `<vnat:lan6 address="fd00:b::1/64"/><vnat:uplink6 address="2001:db8:100::11/64"/>`,
        /uplink6 2001:db8:100::11 on bridge "vtp-[a-z0-9]+" is already used by active vnat network "t[0-9a-f]+v1"/,
      ],
    ];
    for (const [i, [extra, re]] of bad.entries()) {
      const n: NetOpts = { ...nets[0]!, name: `t${tag}x${i}`, uplink: `198.51.100.${30 + i}/24`, extraMetadata: extra };
      const r = await runHook(n.name, "start", "begin", hookData(n));
      assert.notEqual(r.exitCode, 0, extra);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
      assert.deepEqual(vnatDebris(n.name), []);
    }
  });

  test("a remembered start begin (the shell's cache) still refuses an uplink6 claimed since", async () => {
    const mk = (suffix: string, octet: number): NetOpts => ({
      ...nets[0]!,
      name: `t${tag}${suffix}`,
      uplink: `198.51.100.${octet}/24`,
      extraMetadata: `<vnat:lan6 address="fd00:c::1/64"/><vnat:uplink6 address="2001:db8:100::61/64"/>`,
    });
    const y = mk("cy", 61);
    const z = { ...mk("cz", 62), bridge: await world.addLanBridge() };
    const first = await runHook(y.name, "start", "begin", hookData(y));
    assert.equal(first.exitCode, 0, first.stderr);
    const entry = cacheEntries(y.name);
    assert.equal(entry.length, 1);
    assert.match(
      readFileSync(`${RUN_DIR}/hook-cache/${entry[0]}`, "utf8"),
      new RegExp(`^claim ${world.providerBridge}@2001:db8:100::61$`, "m"),
    );
    for (const op of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await runHook(z.name, op[0], op[1], hookData(z));
      assert.equal(r.exitCode, 0, r.stderr);
    }
    try {
      const again = await runHook(y.name, "start", "begin", hookData(y));
      assert.notEqual(again.exitCode, 0);
      assert.match(
        again.stderr.trim(),
        new RegExp(
          `uplink6 2001:db8:100::61 on bridge "${world.providerBridge}" is already used by active vnat network "${z.name}"$`,
        ),
      );
    } finally {
      await runHook(z.name, "stopped", "end", hookData(z));
    }
    assert.deepEqual(vnatDebris(z.name), []);
    assert.deepEqual(vnatDebris(y.name), []);
  });

  test("preflight6 refuses another network's uplink6 and lets the owner's own pass", async () => {
    const config = parseConfig(TEST_CONFIG, readFileSync(TEST_CONFIG, "utf8"));
    const roots = { run: RUN_DIR, config: TEST_CONFIG, log: "/var/log/vnat" };
    const mine = buildSpec(parseHookData(hookData(nets[0]!)).network, config);
    await preflight6(mine, roots);
    const other = buildSpec(parseHookData(hookData({ ...nets[0]!, name: `t${tag}y` })).network, config);
    await assert.rejects(
      preflight6(other, roots),
      /uplink6 2001:db8:100::11 on bridge .* already used by active vnat network/,
    );
  });

  test("a start failing after any step undoes its IPv6 side too (claims, addresses, table)", async () => {
    const n: NetOpts = {
      ...nets[1]!,
      name: `t${tag}f`,
      bridge: await world.addLanBridge(),
      uplink: "198.51.100.40/24",
      extraMetadata: `<vnat:lan6 address="${ULA}"/><vnat:uplink6 address="2001:db8:100::40/64" mode="nptv6" prefix="2001:db8:302::/64"/><vnat:floating6 address="2001:db8:100::41" to="fd00:a::10"/>`,
    };
    for (const step of START_STEPS) {
      const r = await runHook(n.name, "started", "begin", hookData(n), { VNAT_FAILPOINT: step });
      assert.notEqual(r.exitCode, 0, step);
      assert.match(r.stderr, new RegExp(`step "${step}" failed: injected failure .*\\(everything undone\\)`));
      assert.deepEqual(vnatDebris(n.name), [], step);
    }
    const ok = await runHook(n.name, "started", "begin", hookData(n));
    assert.equal(ok.exitCode, 0, ok.stderr);
    const claims = readdirSync(`${RUN_DIR}/claims`).filter(
      (c) => readFileSync(`${RUN_DIR}/claims/${c}`, "utf8").trim() === n.name,
    );
    assert.deepEqual(
      claims.sort(),
      [
        `${world.providerBridge}@198.51.100.40`,
        `${world.providerBridge}@2001:db8:100::40`,
        `${world.providerBridge}@2001:db8:100::41`,
        // the nptv6 /64, by its network address
        `${world.providerBridge}@2001:db8:302::`,
      ].sort(),
    );
    const s = await runHook(n.name, "stopped", "end", hookData(n));
    assert.equal(s.exitCode, 0, s.stderr);
    assert.deepEqual(vnatDebris(n.name), []);
  });

  test("the host's IPv6 addresses and routes are unchanged", async () => {
    assert.deepEqual(await hostIpv6(), hostBefore);
    for (const n of nets) {
      const own = (await run("ip", ["-6", "-o", "addr", "show", "dev", n.bridge])).stdout;
      assert.equal(own.trim(), "", `${n.bridge} has IPv6 addresses`);
    }
  });

  test("stop leaves nothing behind", async () => {
    for (const n of nets) {
      const r = await runHook(n.name, "stopped", "end", hookData(n));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(vnatDebris(n.name), []);
    }
    assert.deepEqual(await hostIpv6(), hostBefore);
  });
});
