// Real VMs on dual-stack vnat networks (issue 17): virt-install boots the tiny Debian-kernel +
// busybox guest (TCG) on each of two networks made by `vnat net create --subnet6 fd00:e6::/64`
// (the same ULA /64 on both) on a provider made by `vnat provider add --gateway6 --pool6`. Each
// guest's kernel autoconfigures an address from its namespace's router advertisements (SLAAC,
// EUI-64 of its MAC) and fetches http://[2001:db8:200::10]/ over IPv6: the server sees each
// network's own uplink6 (nat66), never a ULA. Destroying guests and networks leaves nothing.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
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
  "real VMs get IPv6 by RA on two dual-stack vnat networks sharing one ULA /64 (virt-install, TCG)",
  { timeout: 600_000 },
  () => {
    const tracker = new LibvirtTracker();
    let world: World;
    let hook: Awaited<ReturnType<typeof useHook>>;
    let dir: string;
    let image: GuestImage;
    const nets: Array<{ name: string; bridge: string; domain: string; uplink6: string; log: string }> = [];

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
      for (const s of ["a", "b"]) {
        const name = tracker.network(`vn6-${world.tag}-${s}`);
        const bridge = `vnb-${world.tag}6${s}`;
        const r = await createSandboxNet(cfg, world, name, { bridge, extra: ["--subnet6", SUBNET6] });
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stdout, /subnet6\s+fd00:e6::1\/64, router advertisements/);
        const uplink6 = /uplink6\s+([0-9a-f:]+)\/64 on \S+ \(auto\)/.exec(r.stdout)?.[1] ?? "";
        nets.push({ name, bridge, domain: tracker.domain(name), uplink6, log: join(dir, `${s}.serial.log`) });
        await virsh(["net-start", name], { check: true });
      }
      // the pool6 hands each network its own uplink6, skipping the first one's
      assert.deepEqual(
        nets.map((n) => n.uplink6),
        ["2001:db8:100::100", "2001:db8:100::101"],
      );
    });

    after(async () => {
      await closeE2e({ tracker, world, hook, dir });
    });

    test("each guest autoconfigures from its network's RA and fetches over IPv6 from its own uplink6", async () => {
      await Promise.all(
        nets.map(async (n) => {
          const t0 = Date.now();
          const args = virtInstallArgs({
            name: n.domain,
            network: n.name,
            kernel: image.kernel,
            initrd: image.initrd,
            serialLog: n.log,
            url: `http://[${world.internetIp6}]/`,
          });
          await run("virt-install", ["--connect", "qemu:///system", ...args], { timeoutMs: 120_000 });
          // the guest's IPv4 lease first (its init waits for one), then its fetch loop over IPv6
          const lease = await waitForSerial(n.log, (s) => s.leases[0], {
            timeoutMs: 180_000,
            what: `${n.domain} lease`,
          });
          assert.match(lease.ip, /^10\.0\.0\.\d+$/);
          const fetch = await waitForSerial(n.log, (s) => s.fetches.find((f) => f.ok), {
            timeoutMs: 120_000,
            what: `${n.domain} IPv6 fetch`,
          });
          assert.equal(fetch.body.trim(), n.uplink6, `${n.domain}: the internet saw ${fetch.body}`);
          console.log(
            `# ${n.domain}: virt-install → first IPv6 fetch seen from ${fetch.body.trim()} in ${Date.now() - t0} ms`,
          );
        }),
      );
      const sources = new Set(await world.serverSources());
      for (const n of nets)
        assert.ok(sources.has(n.uplink6), `server never saw ${n.uplink6}: ${[...sources].join(", ")}`);
      assert.equal(await world.ulaSourcePackets(), 0, "no ULA source reached the provider's router");

      // the address each guest used is the EUI-64 SLAAC address of its MAC in the shared /64,
      // as its own namespace's neighbour table and conntrack show (the kernel formed it from vnat's RA)
      for (const n of nets) {
        const mac = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/.exec(
          (await virsh(["domiflist", n.domain], { check: true })).stdout,
        )?.[1];
        assert.ok(mac, `${n.domain}: no MAC in virsh domiflist`);
        const slaac = formatIp6(eui64(parseCidr6(SUBNET6)!, mac));
        const ns = kernelNames(n.name).netns;
        await waitFor(
          async () => (await run("ip", ["-n", ns, "-6", "neigh", "show", "dev", "lan0"])).stdout.includes(`${slaac} `),
          10_000,
          `neighbour ${slaac} (the guest's SLAAC address) in ${ns}`,
        );
        const ct = await sh("ip", ["netns", "exec", ns, "conntrack", "-L", "-f", "ipv6", "-p", "tcp", "--dport", "80"]);
        assert.match(
          ct.stdout,
          new RegExp(`src=${slaac} dst=${world.internetIp6}.*src=${world.internetIp6} dst=${n.uplink6}`),
        );
      }
    });

    test("vnat status shows both networks' IPv6 side healthy; provider set refuses to strand them", async () => {
      const cfg = join(dir, "config.json");
      for (const n of nets) {
        const r = await vnat(cfg, ["status", n.name, "--json"]);
        assert.equal(r.exitCode, 0, r.stderr);
        const doc = JSON.parse(r.stdout) as {
          networks: Array<{ health: string; reasons: unknown[]; ipv6: { lan: unknown; uplink: unknown } | null }>;
        };
        const net = doc.networks[0]!;
        assert.equal(net.health, "healthy", JSON.stringify(net.reasons));
        assert.deepEqual(net.ipv6?.lan, { gateway: "fd00:e6::1/64", dhcp6: false, present: true });
        assert.deepEqual(net.ipv6?.uplink, {
          address: `${n.uplink6}/64`,
          gateway: world.providerGateway6,
          mode: "nat66",
          prefix: null,
          present: true,
        });
      }
      const table = await vnat(cfg, ["status"]);
      for (const n of nets) assert.match(table.stdout, new RegExp(`${n.name}\\s.*\\s${n.uplink6}/64 nat66`));
      const before = readFileSync(cfg, "utf8");
      // a pool6 needs its gateway6 (exit 2, the config's own rule); both gone would strand the networks (exit 3)
      const invalid = await vnat(cfg, ["provider", "set", world.providerBridge, "gateway6=none"]);
      assert.equal(invalid.exitCode, 2, invalid.stdout + invalid.stderr);
      assert.match(invalid.stderr, /pool6 "2001:db8:100::100-2001:db8:100::10f": needs a gateway6/);
      const refused = await vnat(cfg, ["provider", "set", world.providerBridge, "gateway6=none", "pool6=none"]);
      assert.equal(refused.exitCode, 3, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr.trim(),
        /^vnat: provider "[^"]+": would strand running network "vn6-[^"]+": .*gateway6/,
      );
      assert.equal(readFileSync(cfg, "utf8"), before, "the config is unchanged");
    });

    test("destroying the guests and the networks leaves nothing", async () => {
      for (const n of nets) await virsh(["destroy", n.domain]);
      for (const n of nets) await virsh(["net-destroy", n.name], { check: true });
      for (const n of nets) assert.deepEqual(await netDebris(n.name, n.bridge), []);
    });
  },
);
