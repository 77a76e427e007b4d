// Issue 16.1 as an operator drives it, against the real libvirt daemon: `vnat net set` on
// an inactive network (the definition only) and on an active one (DNS, DHCP and isolation
// applied live: dnsmasq's command line, its leases, the namespace's ruleset; the uplink at
// the next start), refusals and a failed live apply leaving definition and runtime as they
// were, `vnat net show --json`, and `vnat provider set` refusing to strand a running network.
import assert from "node:assert/strict";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { roots } from "../../src/adapters/store/roots.ts";
import { kernelNames } from "../../src/core/names.ts";
import { netPaths } from "../../src/core/paths.ts";
import { lockNetwork, readSeq } from "../../src/exec/netlock.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  REPO,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { wanAddresses } from "../support/inbound.ts";
import { nsExec, run, sh, sleep, waitFor } from "../support/sh.ts";
import { createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();
const POOL = "198.51.100.40-198.51.100.49";
const UP_A = "198.51.100.41";
const UP_B = "198.51.100.42";
const UP_A2 = "198.51.100.43";
const KEYS = "uplink, dns, dhcp, dhcp-range, dhcp-lease, isolation-host, isolation-provider";

interface ShowJson {
  name: string;
  libvirt: { active: boolean; autostart: boolean; persistent: boolean } | null;
  health: string | null;
  reasons: unknown[];
  configured: Record<string, unknown> & {
    uplink: { address: string };
    dns: string[];
    dhcp: Record<string, unknown>;
    isolation: Record<string, string>;
  };
  running: (Record<string, unknown> & { uplink: { address: string } }) | null;
  pending: string[];
  runtime: {
    namespace: { name: string; present: boolean };
    dnsmasq: { running: boolean; pid: number | null };
    uplinkAddresses: string[];
    leases: number;
  };
}

needs(unmet).describe("vnat net set|show, provider set (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  const cleanups: Array<() => Promise<void>> = [];
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let cfgDir: string;
  let cfg: string;
  let a: string;
  let b: string;
  let guest: Guest;
  const cli = async (args: string[], exit = 0, env?: Record<string, string>): Promise<string> => {
    const r = env ? await vnatEnv(args, env) : await vnat(cfg, args);
    assert.equal(r.exitCode, exit, `vnat ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return exit === 0 ? r.stdout : r.stderr;
  };
  const vnatEnv = (args: string[], env: Record<string, string>) =>
    sh(process.execPath, [join(REPO, "dist/cli.js"), ...args], {
      env: { VNAT_CONFIG: cfg, ...env },
      timeoutMs: 60_000,
    });
  const bridgeOf = (s: string): string => `vnsb${world.tag}${s}`;
  const definition = async (n: string): Promise<string> =>
    (await virsh(["net-dumpxml", "--inactive", n], { check: true })).stdout;
  const pidFile = (n: string): string => netPaths(roots(), n).pidFile;
  const dnsmasqPid = async (n: string): Promise<number> => Number((await readFile(pidFile(n), "utf8")).trim());
  const cmdline = async (pid: number): Promise<string[]> =>
    (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").filter(Boolean);
  const ruleset = async (n: string): Promise<string> =>
    (await nsExec(kernelNames(n).netns, "nft", ["list", "ruleset"], { check: true })).stdout;
  /** the isolation rule keeping guests off the provider subnet */
  const providerBlocked = async (n: string): Promise<boolean> =>
    /ip daddr 198\.51\.100\.0\/24 ip daddr != 198\.51\.100\.1 reject/.test(await ruleset(n));
  /**
   * The guest resolves through vnat's dnsmasq, asking up to three times as a resolver
   * would (on this shared machine a first answer was seen lost under load, before any
   * change too); a failure says what status saw.
   */
  const resolveOrExplain = async (): Promise<string> => {
    let last: unknown;
    for (let i = 0; i < 3; i++) {
      try {
        return await guest.resolve(world.dnsName);
      } catch (e) {
        last = e;
      }
    }
    const st = JSON.parse((await vnat(cfg, ["status", a, "--json"])).stdout || "{}") as {
      networks?: Array<{ health: string; reasons: unknown[] }>;
    };
    const n = st.networks?.[0];
    throw new Error(`${(last as Error).message}; status: ${n?.health} ${JSON.stringify(n?.reasons)}`);
  };
  const show = async (n: string): Promise<ShowJson> => JSON.parse(await cli(["net", "show", n, "--json"])) as ShowJson;

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    cfgDir = await mkdtemp(join(tmpdir(), `vnat-e2e-netset-${world.tag}-`));
    cfg = join(cfgDir, "config.json");
    const p = await addSandboxProvider(cfg, world, POOL);
    assert.equal(p.exitCode, 0, `vnat provider add: ${p.stderr}`);
    [a, b] = ["a", "b"].map((s) => tracker.network(`vns-${world.tag}-${s}`)) as [string, string];
    for (const [n, s, up] of [
      [a, "a", UP_A],
      [b, "b", UP_B],
    ] as const) {
      const r = await createSandboxNet(cfg, world, n, { uplink: up, bridge: bridgeOf(s) });
      assert.equal(r.exitCode, 0, `vnat net create ${n}: ${r.stderr}`);
    }
  });

  after(async () => {
    await closeE2e({ tracker, world, hook, dir: cfgDir, extra: cleanups });
  });

  test("inactive: --dry-run changes nothing; a change is defined; refusals leave the definition as it was", async () => {
    const xml0 = await definition(a);
    assert.match(await cli(["net", "set", a, "dns=198.18.0.11", "--dry-run"]), /dry run, nothing changed/);
    assert.equal(await definition(a), xml0);
    const res = JSON.parse(await cli(["net", "set", a, "dhcp-range=10.0.0.50-10.0.0.60", "dhcp-lease=2h", "--json"]));
    assert.deepEqual(res.changes, [
      { key: "dhcp-range", from: "10.0.0.128-10.0.0.254", to: "10.0.0.50-10.0.0.60", applies: "definition" },
      { key: "dhcp-lease", from: "1h", to: "2h", applies: "definition" },
    ]);
    assert.equal(res.live, "inactive");
    // every other key lands in the definition too (then back, before the network starts)
    await cli(["net", "set", a, "dns=198.18.0.10,198.18.0.11", "isolation-host=open", "dhcp=off"], 2);
    const cfgOpen = JSON.parse(await readFile(cfg, "utf8")) as Record<string, unknown>;
    await writeFile(cfg, JSON.stringify({ ...cfgOpen, allowOpenIsolation: true }));
    try {
      await cli(["net", "set", a, "dns=198.18.0.10,198.18.0.11", "isolation-host=open", "dhcp=off"]);
      const x = await definition(a);
      assert.match(x, /<vnat:dns upstream="198\.18\.0\.10"\/>\s*<vnat:dns upstream="198\.18\.0\.11"\/>/);
      assert.match(x, /<vnat:isolation host="open"\/>/);
      assert.match(x, /<vnat:dhcp start="10\.0\.0\.50" end="10\.0\.0\.60" lease="2h" enabled="no"\/>/);
      await cli(["net", "set", a, "dns=default", "isolation-host=blocked", "dhcp=on"]);
    } finally {
      await writeFile(cfg, JSON.stringify(cfgOpen));
    }
    const xml1 = await definition(a);
    assert.match(xml1, /<vnat:dhcp start="10\.0\.0\.50" end="10\.0\.0\.60" lease="2h"\/>/);
    const refusals: Array<[string[], number, string]> = [
      [["mtu=9000"], 2, `vnat: network "${a}": unknown key "mtu" (keys: ${KEYS})`],
      [["dhcp"], 2, `vnat: network "${a}": "dhcp": expected key=value (keys: ${KEYS})`],
      [["dhcp=maybe"], 2, `vnat: network "${a}": dhcp: "maybe": expected on or off`],
      [
        ["uplink=" + UP_B],
        3,
        `vnat: network "${a}": uplink ${UP_B} on "${world.providerBridge}" is already used by vnat network "${b}"`,
      ],
      [
        ["uplink=198.51.101.5"],
        2,
        `vnat: network "${a}": uplink address 198.51.101.5/24 is outside provider "${world.providerBridge}" subnet 198.51.100.0/24`,
      ],
      [
        ["dns=198.18.0.11", "dhcp-range=10.0.0.50-10.0.1.60"],
        2,
        `vnat: network "${a}": dhcp end 10.0.1.60 is outside the lan subnet 10.0.0.0/24 (or not a host address)`,
      ],
      [
        ["dhcp-lease=1m"],
        2,
        `vnat: network "${a}": dhcp lease "1m": expected a duration of at least 2m like 3600, 45m, 12h, 1d or "infinite"`,
      ],
    ];
    assert.equal(
      (await cli(["net", "set", `${a}-nosuch`, "dhcp=on"], 2)).trim(),
      `vnat: network "${a}-nosuch": not defined in libvirt (see vnat net list)`,
    );
    assert.equal(
      (await cli(["net", "show", `${a}-nosuch`], 2)).trim(),
      `vnat: network "${a}-nosuch": not defined in libvirt (see vnat net list)`,
    );
    for (const [words, exit, line] of refusals)
      assert.equal((await cli(["net", "set", a, ...words], exit)).trim(), line);
    assert.equal(await definition(a), xml1, "refusals changed nothing");
    // auto: the lowest pool address no network holds
    assert.match(await cli(["net", "set", a, "uplink=auto"]), /uplink: 198\.51\.100\.41\/24 -> 198\.51\.100\.40\/24/);
    await cli(["net", "set", a, `uplink=${UP_A}`]);
    const s = await show(a);
    assert.equal(s.running, null);
    assert.equal(s.runtime.namespace.present, false);
    assert.deepEqual(s.configured.dhcp, { enabled: true, start: "10.0.0.50", end: "10.0.0.60", lease: "2h" });
  });

  test("active: DNS and DHCP restart dnsmasq in the namespace with its leases; status stays healthy", async () => {
    await virsh(["net-start", a], { check: true });
    guest = await world.addGuest(bridgeOf("a"));
    const lease = await guest.dhcp();
    assert.match(lease.ip, /^10\.0\.0\.(5\d|60)$/, "the range set while inactive");
    const pid0 = await dnsmasqPid(a);
    const out = await cli(["net", "set", a, "dns=198.18.0.10,198.18.0.11", "dhcp-lease=3h"]);
    assert.match(out, /dns: 198\.18\.0\.10 -> 198\.18\.0\.10,198\.18\.0\.11 \(applied live\)/);
    assert.match(out, /dhcp-lease: 2h -> 3h \(applied live\)/);
    const pid1 = await dnsmasqPid(a);
    assert.notEqual(pid1, pid0, "dnsmasq was restarted");
    const args = await cmdline(pid1);
    assert.ok(args.includes("--server=198.18.0.11"), args.join(" "));
    assert.ok(args.includes("--dhcp-range=10.0.0.50,10.0.0.60,255.255.255.0,3h"), args.join(" "));
    const inNs = (await run("ip", ["netns", "pids", kernelNames(a).netns])).stdout.split("\n");
    assert.ok(inNs.includes(String(pid1)), "the new dnsmasq runs in the namespace");
    assert.match(await readFile(netPaths(roots(), a).leases, "utf8"), new RegExp(await guest.mac()), "leases kept");
    assert.equal(await resolveOrExplain(), world.internetIp, "DNS through the new dnsmasq");
    // the renewal keeps the address and gets the new lease time
    assert.equal((await guest.dhcp()).ip, lease.ip);
    // a reconcile keeps what was applied live: dnsmasq is not restarted with the old settings
    const { networks } = JSON.parse(await cli(["status", a, "--json"])) as {
      networks: Array<{ reasons: Array<{ code: string }> }>;
    };
    assert.deepEqual(
      networks[0]!.reasons.filter((r) => r.code.startsWith("dnsmasq")),
      [],
      JSON.stringify(networks[0]!.reasons),
    );
    await cli(["reconcile", a]);
    assert.equal(await dnsmasqPid(a), pid1, "reconcile left the new dnsmasq alone");
    // a wider range, live: the guest's address is still inside it and renews
    await cli(["net", "set", a, "dhcp-range=10.0.0.50-10.0.0.70"]);
    assert.ok((await cmdline(await dnsmasqPid(a))).includes("--dhcp-range=10.0.0.50,10.0.0.70,255.255.255.0,3h"));
    assert.equal((await guest.dhcp()).ip, lease.ip);
    // dhcp off: no DHCP arguments; on again: the same range
    await cli(["net", "set", a, "dhcp=off"]);
    assert.equal((await cmdline(await dnsmasqPid(a))).filter((x) => x.startsWith("--dhcp-range")).length, 0);
    await cli(["net", "set", a, "dhcp=on"]);
    assert.ok((await cmdline(await dnsmasqPid(a))).includes("--dhcp-range=10.0.0.50,10.0.0.70,255.255.255.0,3h"));
    assert.equal((await guest.dhcp()).ip, lease.ip, "the lease survived dhcp off/on");
  });

  test("active: isolation replaces the ruleset live; the policy refuses an open isolation the config does not allow", async () => {
    assert.equal(await providerBlocked(a), true);
    // the sandbox config (cfg) does not allow open isolation: refused before anything changes
    const xml0 = await definition(a);
    assert.equal(
      (await cli(["net", "set", a, "isolation-provider=open"], 2)).trim(),
      `vnat: network "${a}": isolation provider="open" needs "allowOpenIsolation": true in the config (guests would reach the provider network directly)`,
    );
    assert.equal(await definition(a), xml0);
    assert.equal(await providerBlocked(a), true);
    const file = JSON.parse(await readFile(cfg, "utf8")) as Record<string, unknown>;
    await writeFile(cfg, JSON.stringify({ ...file, allowOpenIsolation: true }));
    try {
      const pid = await dnsmasqPid(a);
      assert.match(await cli(["net", "set", a, "isolation-provider=open"]), /applied live/);
      assert.equal(await providerBlocked(a), false);
      assert.equal(await dnsmasqPid(a), pid, "dnsmasq untouched by an isolation change");
      await cli(["reconcile", a]);
      assert.equal(await providerBlocked(a), false, "a reconcile keeps the isolation set live");
      assert.match(await definition(a), /<vnat:isolation [^>]*provider="open"/);
      const s = await show(a);
      assert.deepEqual(
        [s.configured.isolation.provider, (s.running?.isolation as Record<string, string>).provider],
        ["open", "open"],
      );
      // host: the set of the host's addresses and its rule go, and come back
      assert.match(await ruleset(a), /ip daddr @host_addrs reject/);
      await cli(["net", "set", a, "isolation-host=open", "isolation-provider=blocked"]);
      assert.doesNotMatch(await ruleset(a), /host_addrs/);
      assert.equal(await providerBlocked(a), true);
      await cli(["net", "set", a, "isolation-host=blocked"]);
      assert.match(await ruleset(a), /ip daddr @host_addrs reject/);
    } finally {
      await writeFile(cfg, JSON.stringify(file));
    }
  });

  test("a failed live apply puts back the definition, the ruleset and dnsmasq", async () => {
    const xml0 = await definition(a);
    const rules0 = await ruleset(a);
    const err = await cli(["net", "set", a, "dns=198.18.0.12"], 4, { VNAT_FAILPOINT: "net-set" });
    assert.match(err, /injected failure .*the running network was put back as it was/);
    assert.equal(await definition(a), xml0);
    assert.equal(await ruleset(a), rules0);
    const args = await cmdline(await dnsmasqPid(a));
    assert.ok(args.includes("--server=198.18.0.11") && !args.includes("--server=198.18.0.12"), args.join(" "));
    assert.equal(await resolveOrExplain(), world.internetIp);
  });

  test("a live change waits for the network's lock (libvirt asked outside it); the sequence moves by one", async () => {
    const seq0 = (await readSeq(roots(), a)).seq;
    const pid0 = await dnsmasqPid(a);
    const held = await lockNetwork(roots(), a, { wait: false });
    assert.ok(held, "nothing else holds the lock");
    let exited = false;
    const edit = vnat(cfg, ["net", "set", a, "dns=198.18.0.10"]);
    void edit.finally(() => (exited = true));
    try {
      await waitFor(
        async () => !(await definition(a)).includes("198.18.0.11"),
        30_000,
        "the new definition of the network",
      );
      await sleep(300);
      assert.equal(exited, false, "vnat returned while another process held the network's lock");
      assert.equal(await dnsmasqPid(a), pid0, "nothing applied while the lock was held");
    } finally {
      await held.release();
    }
    const r = await edit;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /\(applied live\)/);
    assert.deepEqual(await readSeq(roots(), a), { seq: seq0 + 1, event: "edit", outcome: "ok" });
    assert.deepEqual(
      (await cmdline(await dnsmasqPid(a))).filter((x) => x.startsWith("--server=")),
      ["--server=198.18.0.10"],
    );
  });

  test("active: the uplink waits for the next start; net show tells configured from running", async () => {
    const out = await cli(["net", "set", a, `uplink=${UP_A2}`]);
    assert.match(out, new RegExp(`applies at next start: virsh net-destroy ${a} && virsh net-start ${a}`));
    assert.deepEqual(await wanAddresses(kernelNames(a).netns), [`${UP_A}/24`]);
    const s = await show(a);
    assert.equal(s.libvirt?.active, true);
    assert.equal(s.health, "healthy", JSON.stringify(s.reasons));
    assert.equal(s.configured.uplink.address, `${UP_A2}/24`);
    assert.equal(s.running?.uplink.address, `${UP_A}/24`);
    assert.deepEqual(s.pending, ["uplink"]);
    assert.deepEqual(s.configured.dns, ["198.18.0.10"]);
    assert.equal(s.runtime.dnsmasq.running, true);
    assert.equal(s.runtime.dnsmasq.pid, await dnsmasqPid(a));
    assert.deepEqual(s.runtime.uplinkAddresses, [`${UP_A}/24`]);
    assert.equal(s.runtime.leases, 1);
    const human = await cli(["net", "show", a]);
    assert.match(human, new RegExp(`uplink\\s+${UP_A2}/24 via 198\\.51\\.100\\.1\\s+\\(running: ${UP_A}/24`));
    assert.match(human, /pending\s+uplink/);
    // another network cannot take the address while a's definition holds it
    assert.equal(
      (await cli(["net", "set", b, `uplink=${UP_A2}`], 3)).trim(),
      `vnat: network "${b}": uplink ${UP_A2} on "${world.providerBridge}" is already used by vnat network "${a}"`,
    );
    await virsh(["net-destroy", a], { check: true });
    await virsh(["net-start", a], { check: true });
    assert.deepEqual(await wanAddresses(kernelNames(a).netns), [`${UP_A2}/24`]);
    assert.deepEqual((await show(a)).pending, []);
  });

  test("provider set: validated, written, and refused when it would strand a running network", async () => {
    const before = await readFile(cfg, "utf8");
    const br = world.providerBridge;
    assert.equal(
      (await cli(["provider", "set", br, "pool=198.51.100.100-198.51.100.110", "uplinksInPool=true"], 3)).trim(),
      `vnat: provider "${br}": would strand running network "${a}": network "${a}": uplink ${UP_A2} is outside provider "${br}" pool 198.51.100.100-198.51.100.110 (the provider allows only pool addresses)`,
    );
    assert.match(
      await cli(["provider", "set", br, "gateway=198.51.101.1", "pool=none"], 3),
      new RegExp(`would strand running network "${a}"`),
    );
    assert.match(await cli(["provider", "set", br, "attach=bond"], 2), /attach/);
    assert.match(await cli(["provider", "set", br, "mtu=9000"], 2), /unknown key "mtu"/);
    assert.equal(await readFile(cfg, "utf8"), before, "refusals left the config as it was");
    assert.match(await cli(["provider", "set", br, "pool=198.51.100.40-198.51.100.60", "--dry-run"]), /dry run/);
    assert.equal(await readFile(cfg, "utf8"), before);
    const res = JSON.parse(await cli(["provider", "set", br, "pool=198.51.100.40-198.51.100.60", "--json"]));
    assert.equal(res.after.pool, "198.51.100.40-198.51.100.60");
    const file = JSON.parse(await readFile(cfg, "utf8")) as { providers: Array<{ bridge: string; pool?: string }> };
    assert.equal(file.providers.find((p) => p.bridge === br)?.pool, "198.51.100.40-198.51.100.60");
  });
});
