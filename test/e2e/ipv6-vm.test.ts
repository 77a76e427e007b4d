// A real VM on a dual-stack vnat network (issue 17): virt-install boots the tiny Debian-kernel
// + busybox guest (TCG) on a network made by `vnat net create --subnet6` on a provider made by
// `vnat provider add --gateway6 --pool6`. The guest's kernel autoconfigures an address from the
// namespace's router advertisements (SLAAC, EUI-64 of its MAC) and fetches
// http://[2001:db8:200::10]/ over IPv6: the server sees the network's uplink6 (nat66), never
// the guest's ULA. Destroying guest and network leaves nothing.
import assert from "node:assert/strict";
import { chmod, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { eui64, formatIp6, parseCidr6 } from "../../src/core/ipv6.ts";
import { kernelNames } from "../../src/core/names.ts";
import {
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  netDebris,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { run, sh, waitFor } from "../support/sh.ts";
import { ensureGuestImage, virtInstallArgs, type GuestImage } from "../support/vm/image.ts";
import { waitForSerial } from "../support/vm/serial.ts";
import { createWorld, worldUnavailable, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet =
  libvirtUnavailable() ??
  worldUnavailable() ??
  ((await sh("virt-install", ["--version"])).exitCode === 0
    ? undefined
    : "virt-install missing (apt-get install virtinst)");

const SUBNET6 = "fd00:e6::/64";

needs(unmet).describe(
  "a real VM gets IPv6 by RA on a dual-stack vnat network (virt-install, TCG)",
  { timeout: 600_000 },
  () => {
    const tracker = new LibvirtTracker();
    let world: World;
    let hook: Awaited<ReturnType<typeof useHook>>;
    let dir: string;
    let image: GuestImage;
    let name: string;
    let bridge: string;
    let domain: string;
    let uplink6 = "";
    let log: string;

    before(async () => {
      await ensureDaemons();
      await buildBundles();
      [hook, world, image] = await Promise.all([useHook(), createWorld(), ensureGuestImage()]);
      dir = await mkdtemp(join(tmpdir(), `vnat-e2e-vm6-${world.tag}-`));
      await chmod(dir, 0o755); // qemu runs as libvirt-qemu and writes the serial log here
      const cfg = join(dir, "config.json");
      const add = await vnat(cfg, [
        ...["provider", "add", world.providerBridge, "--gateway", `${world.providerGateway}/24`],
        ...["--pool", "198.51.100.20-198.51.100.29", "--dns", world.upstreamDns],
        ...["--gateway6", `${world.providerGateway6}/64`, "--pool6", "2001:db8:100::100-2001:db8:100::10f"],
      ]);
      assert.equal(add.exitCode, 0, add.stderr);
      name = tracker.network(`vn6-${world.tag}`);
      bridge = `vnb-${world.tag}v6`;
      domain = tracker.domain(`vn6-${world.tag}`);
      log = join(dir, "serial.log");
      const r = await createSandboxNet(cfg, world, name, { bridge, extra: ["--subnet6", SUBNET6] });
      assert.equal(r.exitCode, 0, r.stderr);
      uplink6 = /uplink6\s+([0-9a-f:]+)\/64 on \S+ \(auto\)/.exec(r.stdout)?.[1] ?? "";
      assert.equal(uplink6, "2001:db8:100::100", r.stdout);
      assert.match(r.stdout, /subnet6\s+fd00:e6::1\/64, router advertisements/);
      await virsh(["net-start", name], { check: true });
    });

    after(async () => {
      await closeE2e({ tracker, world, hook, dir });
    });

    test("the guest autoconfigures from RA and fetches over IPv6 from the network's uplink6", async () => {
      const t0 = Date.now();
      const args = virtInstallArgs({
        name: domain,
        network: name,
        kernel: image.kernel,
        initrd: image.initrd,
        serialLog: log,
        url: `http://[${world.internetIp6}]/`,
      });
      await run("virt-install", ["--connect", "qemu:///system", ...args], { timeoutMs: 120_000 });
      // the guest's IPv4 lease first (its init waits for one), then its fetch loop over IPv6
      const lease = await waitForSerial(log, (s) => s.leases[0], { timeoutMs: 180_000, what: `${domain} lease` });
      assert.match(lease.ip, /^10\.0\.0\.\d+$/);
      const fetch = await waitForSerial(log, (s) => s.fetches.find((f) => f.ok), {
        timeoutMs: 120_000,
        what: `${domain} IPv6 fetch`,
      });
      assert.equal(fetch.body.trim(), uplink6, `the internet saw ${fetch.body}`);
      console.log(
        `# ${domain}: virt-install → first IPv6 fetch seen from ${fetch.body.trim()} in ${Date.now() - t0} ms`,
      );
      assert.ok((await world.serverSources()).includes(uplink6));
      assert.equal(await world.ulaSourcePackets(), 0, "no ULA source reached the provider's router");

      // the address the guest used is the EUI-64 SLAAC address of its MAC in the network's /64,
      // as the namespace's neighbour table shows (the kernel formed it from vnat's RA)
      const mac = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/.exec(
        (await virsh(["domiflist", domain], { check: true })).stdout,
      )?.[1];
      assert.ok(mac, "no MAC in virsh domiflist");
      const slaac = formatIp6(eui64(parseCidr6(SUBNET6)!, mac));
      const ns = kernelNames(name).netns;
      await waitFor(
        async () => (await run("ip", ["-n", ns, "-6", "neigh", "show", "dev", "lan0"])).stdout.includes(`${slaac} `),
        10_000,
        `neighbour ${slaac} (the guest's SLAAC address) in ${ns}`,
      );
      const ct = await sh("ip", ["netns", "exec", ns, "conntrack", "-L", "-f", "ipv6", "-p", "tcp", "--dport", "80"]);
      assert.match(
        ct.stdout,
        new RegExp(`src=${slaac} dst=${world.internetIp6}.*src=${world.internetIp6} dst=${uplink6}`),
      );
    });

    test("destroying the guest and the network leaves nothing", async () => {
      await virsh(["destroy", domain]);
      await virsh(["net-destroy", name], { check: true });
      assert.deepEqual(await netDebris(name, bridge), []);
    });
  },
);
