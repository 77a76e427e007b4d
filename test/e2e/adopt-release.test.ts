// `vnat net adopt` and `vnat net release` on a real libvirt NAT network with a real guest
// (virt-install, TCG) holding a DHCP reservation: the guest gets the same address from
// libvirt's dnsmasq, then (adopted, restarted with the guest running) from vnat's, then
// (released) from libvirt's again. Each time the running guest's tap is back on the bridge
// and its port back in libvirt, and the guest answers from its side of the network.
//
// The NAT network is libvirt's own: while it runs, libvirt puts the gateway on the host's
// bridge and adds its iptables rules (removed at its net-destroy; any it keeps for this
// bridge are removed at the end). It uses a 10.251.N.0/24 no host route uses, and the guest
// only ever talks to its gateway (its URL is the gateway's discard port): nothing leaves the
// machine.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  netDebris,
  pidsOf,
  removeLibvirtKeptRules,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { run, sh, waitFor } from "../support/sh.ts";
import { ensureGuestImage, virtInstallArgs, type GuestImage } from "../support/vm/image.ts";
import { readSerialState, waitForSerial, type GuestLease } from "../support/vm/serial.ts";
import { createWorld, worldUnavailable, type World } from "../support/world.ts";

const unmet =
  libvirtUnavailable() ??
  worldUnavailable() ??
  ((await sh("virt-install", ["--version"])).exitCode === 0
    ? undefined
    : "virt-install missing (apt-get install virtinst)");

/** A 10.251.N.0/24 that no host route touches (libvirt puts this one on the host). */
async function freeSubnet(): Promise<string> {
  const routes = (await run("ip", ["-4", "route", "show", "table", "all"])).stdout;
  for (let i = 0; i < 64; i++) {
    const n = 1 + (randomBytes(1)[0]! % 250);
    if (!routes.includes(`10.251.${n}.`)) return `10.251.${n}`;
  }
  throw new Error("no free 10.251.N.0/24 on this host");
}

needs(unmet).describe(
  "adopt and release a libvirt NAT network under a running guest (virt-install, TCG)",
  { timeout: 600_000 },
  () => {
    const tracker = new LibvirtTracker();
    let world: World;
    let hook: Awaited<ReturnType<typeof useHook>>;
    let dir: string;
    let cfg: string;
    let image: GuestImage;
    let name: string;
    let bridge: string;
    let domain: string;
    let log: string;
    let net: string; // 10.251.N
    let mac: string;
    let reserved: string;

    before(async () => {
      await ensureDaemons();
      await buildBundles();
      [hook, world, image] = await Promise.all([useHook(), createWorld(), ensureGuestImage()]);
      dir = await mkdtemp(join(tmpdir(), `vnat-e2e-adopt-${world.tag}-`));
      await chmod(dir, 0o755); // qemu runs as libvirt-qemu and writes the serial log here
      cfg = join(dir, "config.json");
      const r = await addSandboxProvider(cfg, world, "198.51.100.20-198.51.100.29");
      assert.equal(r.exitCode, 0, r.stderr);
      name = tracker.network(`vna-${world.tag}`);
      bridge = `vnb-${world.tag}a`;
      domain = `vna-${world.tag}-vm`;
      log = join(dir, "serial.log");
      net = await freeSubnet();
      mac = `52:54:00:${randomBytes(3)
        .toString("hex")
        .replace(/(..)(?=.)/g, "$1:")}`;
      reserved = `${net}.50`;
    });

    after(async () => {
      await closeE2e({
        tracker,
        world,
        hook,
        dir,
        // libvirt removes its NAT rules at net-destroy; any it kept for this bridge go here
        extra: [async () => void (await removeLibvirtKeptRules([bridge]))],
      });
      const kept = (await run("iptables-save", [])).stdout.split("\n").filter((l) => l.includes(bridge));
      assert.deepEqual(kept, [], "iptables rules left for the test bridge");
    });

    /** Reboots the guest and waits for the lease its fresh DHCP exchange gets. */
    async function rebootAndLease(): Promise<GuestLease> {
      const seen = (await readSerialState(log)).leases.length;
      await virsh(["reset", domain], { check: true });
      return waitForSerial(log, (s) => s.leases.length > seen && s.leases.at(-1), {
        timeoutMs: 180_000,
        what: `${domain} lease after reset`,
      });
    }

    /** The guest's tap is on the bridge and its port is in libvirt again. */
    async function guestPlugged(): Promise<void> {
      const tap = /^\s*(vnet\d+)\s+network\s/m.exec((await virsh(["domiflist", domain], { check: true })).stdout)?.[1];
      assert.ok(tap, "the guest's tap in virsh domiflist");
      assert.equal(readFileSync(`/sys/class/net/${tap}/master/uevent`, "utf8").match(/INTERFACE=(\S+)/)?.[1], bridge);
      const ports = (await virsh(["net-port-list", name, "--uuid"], { check: true })).stdout.trim().split(/\s+/);
      assert.equal(ports.length, 1, "one port in virsh net-port-list");
      const port = (await virsh(["net-port-dumpxml", name, ports[0]!], { check: true })).stdout;
      assert.match(port, new RegExp(`<mac address='${mac}'/>`));
      assert.match(port, new RegExp(`<name>${domain}</name>`));
    }

    /** libvirt's own dnsmasq for this network (its config file names the network). */
    const libvirtDnsmasq = (): number[] =>
      pidsOf("dnsmasq").filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`/var/lib/libvirt/dnsmasq/${name}.conf`);
        } catch {
          return false;
        }
      });

    const ping = async (netns: string | undefined, ip: string): Promise<boolean> => {
      const cmd = ["busybox", "ping", "-c", "1", "-W", "2", ip];
      const r = netns ? await sh("ip", ["netns", "exec", netns, ...cmd]) : await sh(cmd[0]!, cmd.slice(1));
      return r.exitCode === 0;
    };

    test("1. a libvirt NAT network with a reservation: the guest gets its reserved address from libvirt", async () => {
      const xml = join(dir, "nat.xml");
      await writeFile(
        xml,
        [
          "<network>",
          `  <name>${name}</name>`,
          "  <forward mode='nat'/>",
          `  <bridge name='${bridge}' stp='on' delay='0'/>`,
          `  <ip address='${net}.1' netmask='255.255.255.0'>`,
          "    <dhcp>",
          `      <range start='${net}.100' end='${net}.199'/>`,
          `      <host mac='${mac}' name='guest' ip='${reserved}'/>`,
          "    </dhcp>",
          "  </ip>",
          "</network>",
          "",
        ].join("\n"),
      );
      await virsh(["net-define", xml], { check: true });
      await virsh(["net-start", name], { check: true });
      tracker.domain(domain);
      const args = virtInstallArgs({
        name: domain,
        network: name,
        kernel: image.kernel,
        initrd: image.initrd,
        serialLog: log,
        // the gateway's discard port: whatever answers, the guest never talks past its gateway
        url: `http://${net}.1:9/`,
        mac,
      });
      await run("virt-install", ["--connect", "qemu:///system", ...args], { timeoutMs: 120_000 });
      const lease = await waitForSerial(log, (s) => s.leases[0], { timeoutMs: 180_000, what: `${domain} lease` });
      assert.equal(lease.ip, reserved);
      assert.deepEqual(lease.router, [`${net}.1`]);
      // dnsmasq and its helper for the lease script
      assert.ok(libvirtDnsmasq().length >= 1, "libvirt's dnsmasq serves the network");
      assert.match(
        (await virsh(["net-dhcp-leases", name], { check: true })).stdout,
        new RegExp(`${mac}\\s+ipv4\\s+${reserved}/24`),
      );
      await guestPlugged();
    });

    test("1b. adopt --restart whose start the hook refuses: the network runs as before, its guest back on it", async () => {
      // a provider only this CLI's config lists: the hook (the host's config) refuses the uplink at start begin
      const file = JSON.parse(readFileSync(cfg, "utf8")) as { providers: object[] };
      const stranger = `vnb-${world.tag}x`;
      file.providers.push({ bridge: stranger, gateway: "198.51.100.1/24" });
      const other = join(dir, "other.json");
      await writeFile(other, JSON.stringify(file));
      const r = await vnat(other, [
        "net",
        "adopt",
        name,
        "--provider",
        stranger,
        "--uplink",
        "198.51.100.77",
        "--restart",
      ]);
      assert.notEqual(r.exitCode, 0, r.stdout);
      assert.match(
        r.stderr,
        new RegExp(
          `^vnat: network "${name}": the restart failed, so it runs as before \\(its previous definition, guests back on it\\): virsh net-start: .*hook: vnat: network "${name}": provider bridge "${stranger}" does not exist`,
        ),
      );
      assert.match((await virsh(["net-dumpxml", "--inactive", name], { check: true })).stdout, /<forward mode='nat'/);
      assert.match((await virsh(["net-info", name], { check: true })).stdout, /Active:\s+yes/);
      await guestPlugged();
      await waitFor(() => ping(undefined, reserved), 10_000, "the guest to answer from the host's bridge");
    });

    test("2. adopt: refused while active without --restart; --dry-run changes nothing; --restart moves the guest to vnat's dnsmasq, same address", async () => {
      const refused = await vnat(cfg, ["net", "adopt", name, "--provider", world.providerBridge]);
      assert.equal(refused.exitCode, 3, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^vnat: network "${name}": is active; add --restart`));

      const dry = await vnat(cfg, ["net", "adopt", name, "--provider", world.providerBridge, "--dry-run"]);
      assert.equal(dry.exitCode, 0, dry.stderr);
      assert.match(dry.stdout, new RegExp(`<vnat:host mac="${mac}" ip="${reserved}" name="guest"/>`));
      assert.match(dry.stdout, new RegExp(`<vnat:lan address="${net}.1/24">`));
      assert.match((await virsh(["net-dumpxml", "--inactive", name], { check: true })).stdout, /<forward mode='nat'/);

      const t0 = Date.now();
      const r = await vnat(cfg, ["net", "adopt", name, "--provider", world.providerBridge, "--restart", "--json"]);
      assert.equal(r.exitCode, 0, r.stderr);
      const out = JSON.parse(r.stdout) as {
        adopted: boolean;
        restarted: boolean;
        hosts: number;
        guests: Array<{ mac: string }>;
      };
      console.log(`# adopt --restart with one running guest: ${Date.now() - t0} ms`);
      assert.deepEqual([out.adopted, out.restarted, out.hosts, out.guests.map((g) => g.mac)], [true, true, 1, [mac]]);
      assert.equal(r.stderr, "", "no warnings");

      const def = (await virsh(["net-dumpxml", "--inactive", name], { check: true })).stdout;
      assert.doesNotMatch(def, /<forward|<ip /);
      assert.match(def, /urn:vnat:network:1/);
      const netns = kernelNames(name).netns;
      assert.ok(existsSync(`/run/netns/${netns}`), "vnat's namespace runs");
      assert.deepEqual(libvirtDnsmasq(), [], "libvirt's dnsmasq is gone");
      await guestPlugged();
      // the re-created port ran the hook's port-created: vnat records the guest for its status
      assert.equal(readdirSync(`/run/vnat/net/${name}/ports`).length, 1, "vnat recorded the guest's port");
      // a vnat network like any other: status finds it healthy, with its guest
      const st = await vnat(cfg, ["status", name, "--json"]);
      assert.equal(st.exitCode, 0, st.stderr);
      const doc = JSON.parse(st.stdout) as { networks: Array<{ name: string; health: string; reasons: unknown[] }> };
      const mine = doc.networks.find((n) => n.name === name);
      assert.deepEqual([mine?.health, mine?.reasons], ["healthy", []], st.stdout);
      assert.match(st.stdout, new RegExp(`"mac": "${mac}"`), "vnat status lists the guest");
      // the running guest, on its old lease, is reachable from vnat's gateway side at once
      await waitFor(() => ping(netns, reserved), 10_000, "the guest to answer from vnat's namespace");

      const lease = await rebootAndLease();
      assert.equal(lease.ip, reserved, "the same address from vnat's dnsmasq");
      assert.deepEqual(lease.router, [`${net}.1`]);
      const leases = readFileSync(`/run/vnat/net/${name}/dnsmasq.leases`, "utf8");
      assert.match(leases, new RegExp(` ${mac} ${reserved.replace(/\./g, "\\.")} `), "vnat's dnsmasq handed it out");
    });

    test("3. release --restart: the guest is back on libvirt's NAT and dnsmasq with the same address; vnat leaves nothing", async () => {
      const r = await vnat(cfg, ["net", "release", name, "--restart"]);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^released network "${name}"`));
      assert.equal(r.stderr, "", "no warnings");
      const def = (await virsh(["net-dumpxml", "--inactive", name], { check: true })).stdout;
      assert.match(def, /<forward mode='nat'/);
      assert.match(def, new RegExp(`<host mac='${mac}' name='guest' ip='${reserved}'/>`));
      assert.doesNotMatch(def, /urn:vnat:network:1/);
      assert.deepEqual(await netDebris(name), [], "vnat's namespace and state are gone");
      assert.ok(libvirtDnsmasq().length >= 1, "libvirt's dnsmasq serves the network again");
      await guestPlugged();
      await waitFor(() => ping(undefined, reserved), 10_000, "the guest to answer from the host's bridge");

      const lease = await rebootAndLease();
      assert.equal(lease.ip, reserved, "the same address from libvirt's dnsmasq");
      assert.match(
        (await virsh(["net-dhcp-leases", name], { check: true })).stdout,
        new RegExp(`${mac}\\s+ipv4\\s+${reserved}/24`),
      );
    });

    test("4. the guest and the network go; libvirt's route and bridge with them", async () => {
      await virsh(["destroy", domain], { check: true });
      await virsh(["net-destroy", name], { check: true });
      await virsh(["net-undefine", name], { check: true });
      assert.ok(!existsSync(`/sys/class/net/${bridge}`));
      assert.doesNotMatch((await run("ip", ["-4", "route"])).stdout, new RegExp(`${net.replace(/\./g, "\\.")}\\.`));
    });
  },
);
