// libvirt's lease API sees vnat networks' leases (issue 15.1), against the real daemon: the
// namespace's dnsmasq keeps /var/lib/libvirt/dnsmasq/BRIDGE.status through its dhcp-script,
// so `virsh net-dhcp-leases NET` lists a guest's lease at once, a renewal moves its expiry,
// a release and an expiry drop it, a dnsmasq restarted by reconcile replays it, and
// net-destroy removes the file. Two networks on 10.0.0.0/24 each list only their own lease,
// and another network's status file next to theirs is never touched.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { leaseStatusPath } from "../../src/core/plan/lease-status.ts";
import { kernelNames } from "../../src/core/names.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { sleep, waitFor } from "../support/sh.ts";
import { createWorld, UDHCPC_SCRIPT, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();

interface Row {
  mac: string;
  ip: string;
  prefix: string;
  hostname: string;
  expiry: string;
}

/** `virsh net-dhcp-leases NET` as rows (its table: expiry date and time, MAC, protocol, IP/prefix, hostname, client id). */
async function leases(net: string, mac?: string): Promise<Row[]> {
  const r = await virsh(["net-dhcp-leases", net, ...(mac ? ["--mac", mac] : [])], { check: true });
  const rows: Row[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = /^\s*(\S+ \S+)\s+([0-9a-f:]{17})\s+ipv4\s+([\d.]+)\/(\d+)\s+(\S+)/.exec(line);
    if (m) rows.push({ expiry: m[1]!, mac: m[2]!, ip: m[3]!, prefix: m[4]!, hostname: m[5]! });
  }
  return rows;
}

/** ROWS when there are any (for waitFor: an empty array would count as found) */
const listed = (rows: Row[]): Row[] | undefined => (rows.length ? rows : undefined);

/** The status file's entries (what libvirt parses). */
function statusEntries(bridge: string): Array<Record<string, unknown>> {
  return JSON.parse(readFileSync(leaseStatusPath(bridge), "utf8")) as Array<Record<string, unknown>>;
}

needs(unmet).describe("virsh net-dhcp-leases lists vnat networks' leases (real libvirt)", { timeout: 600_000 }, () => {
  const tracker = new LibvirtTracker();
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let dir: string;
  let cfg: string;
  /** another network's status file (a libvirt network on a neighbouring bridge): never touched */
  let decoy: { path: string; text: string; mtimeMs: number } | undefined;
  const nets: Record<"a" | "b" | "e", { name: string; bridge: string }> = {} as never;
  /** the 2-minute lease that must expire by the last test */
  let expiring: { mac: string; ip: string } | undefined;

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    dir = await mkdtemp(join(tmpdir(), `vnat-e2e-leases-${world.tag}-`));
    cfg = join(dir, "config.json");
    const p = await addSandboxProvider(cfg, world, "198.51.100.50-198.51.100.59");
    assert.equal(p.exitCode, 0, p.stderr);
    for (const s of ["a", "b", "e"] as const) {
      const name = tracker.network(`vnd-${world.tag}-${s}`);
      const bridge = `vndb${world.tag}${s}`;
      const r = await createSandboxNet(cfg, world, name, { bridge });
      assert.equal(r.exitCode, 0, r.stderr);
      nets[s] = { name, bridge };
    }
    // e: the shortest lease dnsmasq grants (2 minutes), so it can expire within the test
    const xml = (await virsh(["net-dumpxml", "--inactive", nets.e.name], { check: true })).stdout;
    const short = xml.includes("<vnat:dhcp")
      ? xml.replace(/<vnat:dhcp\b([^>]*?)\s*(\/?)>/, (_m, attrs: string, close: string) => {
          const rest = attrs.replace(/\s+lease="[^"]*"/, "");
          return `<vnat:dhcp${rest} lease="2m"${close ? "/" : ""}>`;
        })
      : xml.replace(/<vnat:lan\b([^>]*?)\s*\/>/, '<vnat:lan$1><vnat:dhcp lease="2m"/></vnat:lan>');
    assert.match(short, /lease="2m"/, short);
    await writeFile(join(dir, "e.xml"), short);
    await virsh(["net-define", join(dir, "e.xml")], { check: true });
    const text = `[{"ip-address":"10.0.0.123","mac-address":"52:54:00:de:c0:01","expiry-time":${Math.floor(Date.now() / 1000) + 3600},"hostname":"decoy"}]\n`;
    const path = leaseStatusPath(`vndb${world.tag}x`);
    await writeFile(path, text, { flag: "wx", mode: 0o600 });
    decoy = { path, text, mtimeMs: statSync(path).mtimeMs };
    for (const n of Object.values(nets)) await virsh(["net-start", n.name], { check: true });
  });

  after(async () => {
    const bridges = nets.a ? Object.values(nets).map((n) => n.bridge) : [];
    let failure: unknown;
    try {
      await closeE2e({ tracker, world, hook, dir });
    } catch (e) {
      failure = e;
    }
    const decoyNow = decoy && { text: readFileSync(decoy.path, "utf8"), mtimeMs: statSync(decoy.path).mtimeMs };
    if (decoy) await rm(decoy.path, { force: true });
    if (failure) throw failure;
    for (const b of bridges)
      for (const f of [leaseStatusPath(b), `${leaseStatusPath(b)}.vnat-new`]) assert.ok(!existsSync(f), `${f} left`);
    if (decoy)
      assert.deepEqual(decoyNow, { text: decoy.text, mtimeMs: decoy.mtimeMs }, "another network's file changed");
  });

  /** a guest namespace on NET's bridge */
  const guestOn = (n: { bridge: string }): Promise<Guest> => world.addGuest(n.bridge);

  test("a lease shows at once; nothing before it and no file at start", async () => {
    for (const n of Object.values(nets)) {
      assert.ok(!existsSync(leaseStatusPath(n.bridge)), `${n.name}: a status file before any lease`);
      assert.deepEqual(await leases(n.name), []);
    }
    const g = await guestOn(nets.e);
    const lease = await g.dhcp();
    const mac = await g.mac();
    // dnsmasq's helper runs the script right after the ACK, while udhcpc applies the address
    const rows = await waitFor(async () => listed(await leases(nets.e.name)), 2000, "the lease listed");
    assert.deepEqual(
      rows.map((r) => [r.mac, r.ip, r.prefix]),
      [[mac, lease.ip, "0"]],
    );
    const [entry] = statusEntries(nets.e.bridge);
    const expiry = Number(entry?.["expiry-time"]);
    assert.ok(expiry > Date.now() / 1000 + 100 && expiry <= Date.now() / 1000 + 121, `2m lease expires at ${expiry}`);
    expiring = { mac, ip: lease.ip };
  });

  test("a renewal moves the expiry; a release drops the lease", async () => {
    const g = await guestOn(nets.a);
    const mac = await g.mac();
    // a udhcpc that stays: SIGUSR1 renews, SIGTERM releases (-R) and exits
    const udhcpc = await world.startProcess(g.ns, `udhcpc-${g.ns}`, "env", [
      `VT_NETNS=${g.ns}`,
      ...["busybox", "udhcpc", "-i", g.ifname, "-f", "-R", "-t", "10", "-T", "1"],
      ...["-x", "hostname:guest-a", "-s", UDHCPC_SCRIPT],
    ]);
    const ip = (await waitFor(() => g.address(), 20_000, "the guest's lease")).ip;
    const [row] = await waitFor(async () => listed(await leases(nets.a.name, mac)), 5000, "the lease listed");
    assert.deepEqual([row?.ip, row?.hostname], [ip, "guest-a"]);
    const first = Number(statusEntries(nets.a.bridge)[0]?.["expiry-time"]);
    await sleep(1100);
    process.kill(udhcpc.pid, "SIGUSR1");
    await waitFor(() => Number(statusEntries(nets.a.bridge)[0]?.["expiry-time"]) > first, 10_000, "a later expiry");
    await waitFor(async () => (await leases(nets.a.name))[0]?.expiry !== row?.expiry, 5000, "virsh's expiry to move");
    process.kill(udhcpc.pid, "SIGTERM");
    await waitFor(async () => (await leases(nets.a.name)).length === 0, 10_000, "the released lease to go");
    assert.deepEqual(statusEntries(nets.a.bridge), [], "dropped from the file, not only hidden");
    await waitFor(() => !existsSync(`/proc/${udhcpc.pid}`), 5000, "udhcpc to exit");
  });

  test("two networks on 10.0.0.0/24: each lists only its own guest's lease, each in its bridge's file", async () => {
    const [ga, gb] = [await guestOn(nets.a), await guestOn(nets.b)];
    const [la, lb] = [await ga.dhcp(), await gb.dhcp()];
    const [ma, mb] = [await ga.mac(), await gb.mac()];
    assert.deepEqual(
      (await leases(nets.a.name)).map((r) => [r.mac, r.ip]),
      [[ma, la.ip]],
    );
    assert.deepEqual(
      (await leases(nets.b.name)).map((r) => [r.mac, r.ip]),
      [[mb, lb.ip]],
    );
    assert.deepEqual(await leases(nets.a.name, mb), []);
    assert.deepEqual(await leases(nets.b.name, ma), []);
    assert.deepEqual(
      statusEntries(nets.b.bridge).map((e) => e["mac-address"]),
      [mb],
    );
  });

  test("a dnsmasq restarted by vnat reconcile replays its leases into the file", async () => {
    const pidFile = `/run/vnat/net/${nets.b.name}/dnsmasq.pid`;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`--pid-file=${pidFile}`));
    const before = await leases(nets.b.name);
    assert.equal(before.length, 1);
    process.kill(pid, "SIGKILL"); // the dnsmasq this test's network runs
    await waitFor(() => !existsSync(`/proc/${pid}`), 5000, "dnsmasq gone");
    const r = await vnat(cfg, ["reconcile", nets.b.name]);
    assert.equal(r.exitCode, 0, r.stderr + r.stdout);
    await waitFor(async () => (await leases(nets.b.name)).length === 1, 10_000, "the lease back");
    assert.deepEqual(
      (await leases(nets.b.name)).map((x) => [x.mac, x.ip]),
      before.map((x) => [x.mac, x.ip]),
    );
    assert.notEqual(Number(readFileSync(pidFile, "utf8").trim()), pid, "a new dnsmasq");
  });

  test("net-destroy removes the file; the next start begins with no lease", async () => {
    await virsh(["net-destroy", nets.b.name], { check: true });
    assert.ok(!existsSync(leaseStatusPath(nets.b.bridge)));
    assert.ok(!existsSync(`/run/netns/${kernelNames(nets.b.name).netns}`));
    await virsh(["net-start", nets.b.name], { check: true });
    assert.deepEqual(await leases(nets.b.name), []);
    // the other network sharing the subnet kept its lease and its file
    assert.equal((await leases(nets.a.name)).length, 1);
  });

  test("an expired lease is dropped by dnsmasq from the file (2-minute lease, never renewed)", async () => {
    assert.ok(expiring, "the first test's lease");
    const expiry = Number(statusEntries(nets.e.bridge)[0]?.["expiry-time"]);
    assert.equal(statusEntries(nets.e.bridge)[0]?.["mac-address"], expiring.mac);
    const wait = expiry * 1000 - Date.now();
    console.log(`# waiting ${Math.round(wait / 1000)} s for ${expiring.ip}'s lease to expire`);
    await sleep(Math.max(0, wait));
    await waitFor(() => statusEntries(nets.e.bridge).length === 0, 15_000, "dnsmasq to drop the expired lease");
    assert.deepEqual(await leases(nets.e.name), []);
  });
});
