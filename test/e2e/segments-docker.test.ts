// Issue 19 with Docker (Debian's docker.io): a private dockerd (test/support/docker.ts: its own
// roots and socket, --iptables=false, --ip-forward=false, so the host's firewall and sysctls
// stay as they were), an `--internal` Docker network attached to a running libvirt vnat
// network with `vnat attach NET docker:NETWORK --take-addresses` (the bridge resolved through
// DOCKER_HOST). A container leases from vnat's namespace and reaches the sandbox internet
// through the network's uplink; `vnat detach` puts the bridge's address back and leaves it as
// it was. Where containers cannot run, this file fails, naming why (never skipped).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveDockerBridge } from "../../src/exec/probe/docker.ts";
import { processRunner } from "../../src/exec/run.ts";
import { segmentLinkNames } from "../../src/core/names.ts";
import { masterOf } from "../../src/exec/change/segments.ts";
import { dockerUnavailable, leaseThen, startDockerd, type Dockerd } from "../support/docker.ts";
import {
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
import { needs } from "../support/needs.ts";
import { linkSnapshot } from "../support/segments.ts";
import { sh } from "../support/sh.ts";
import { createWorld, worldUnavailable, type World } from "../support/world.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable() ?? dockerUnavailable();
const sysctls = (): string[] =>
  ["net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/bridge/bridge-nf-call-iptables"].map(
    (k) => `${k}=${readFileSync(`/proc/sys/${k}`, "utf8").trim()}`,
  );
const dockerFirewall = async (): Promise<string[]> =>
  [
    ...(await sh("iptables-save", [])).stdout.split("\n"),
    ...(await sh("nft", ["list", "ruleset"])).stdout.split("\n"),
  ].filter((l) => /DOCKER/i.test(l));

needs(unmet).describe("segments: a Docker --internal network on a vnat network", { timeout: 600_000 }, () => {
  const tracker = new LibvirtTracker();
  const tag = randomBytes(2).toString("hex");
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let dir: string;
  let cfg: string;
  let name: string;
  let uplink: string;
  let dockerd: Dockerd | undefined;
  const dnet = `vtdn-${tag}`;
  const dbridge = `vtd-${tag}`;
  const subnet = `10.251.${parseInt(tag.slice(0, 2), 16)}`;
  let bridgeBefore: unknown;
  let sysctlsBefore: string[];
  let firewallBefore: string[];
  const savedPath = process.env.PATH;

  before(async () => {
    sysctlsBefore = sysctls();
    firewallBefore = await dockerFirewall();
    await ensureDaemons();
    await buildBundles();
    [hook, world] = await Promise.all([useHook(), createWorld()]);
    dir = await mkdtemp(join(tmpdir(), `vnat-e2e-dk-${tag}-`));
    cfg = join(dir, "config.json");
    const add = ["provider", "add", world.providerBridge, "--gateway", `${world.providerGateway}/24`];
    assert.equal(
      (await vnat(cfg, [...add, "--pool", "198.51.100.60-198.51.100.69", "--dns", world.upstreamDns])).exitCode,
      0,
    );
    name = tracker.network(`vnd-${tag}`);
    const r = await createSandboxNet(cfg, world, name, { bridge: `vnb-${tag}d` });
    assert.equal(r.exitCode, 0, r.stderr);
    uplink = /uplink\s+(\S+)\//.exec(r.stdout)?.[1] ?? "";
    await virsh(["net-start", name], { check: true });
    dockerd = await startDockerd(`/run/vnat-test-docker/${tag}`, tag);
    // vnat attach asks the docker CLI: Debian's, of this daemon
    process.env.DOCKER_HOST = dockerd.host;
    process.env.PATH = `/usr/bin:${savedPath ?? ""}`;
    const created = await dockerd.docker([
      "network",
      "create",
      "--internal",
      "--subnet",
      `${subnet}.0/24`,
      "-o",
      `com.docker.network.bridge.name=${dbridge}`,
      dnet,
    ]);
    assert.equal(created.exitCode, 0, created.stderr);
    bridgeBefore = await linkSnapshot(dbridge);
  });

  after(async () => {
    const left: string[] = [];
    if (dockerd) {
      await dockerd.docker(["network", "rm", dnet]);
      left.push(...(await dockerd.stop()));
    }
    delete process.env.DOCKER_HOST;
    process.env.PATH = savedPath;
    await closeE2e({ tracker, world, hook, dir });
    assert.deepEqual(left, [], "dockerd left processes behind");
    assert.deepEqual(sysctls(), sysctlsBefore, "dockerd or vnat changed the host's forwarding sysctls");
    assert.deepEqual(await dockerFirewall(), firewallBefore, "dockerd changed the host's firewall");
  });

  test("the Docker network's bridge is resolved through DOCKER_HOST", async () => {
    assert.equal(await resolveDockerBridge(processRunner, dnet), dbridge);
    await assert.rejects(
      resolveDockerBridge(processRunner, `nope-${tag}`),
      /segment docker:nope-\w+: docker network inspect failed/,
    );
  });

  test("vnat attach NET docker:NETWORK --take-addresses, live", async () => {
    const r = await vnat(cfg, ["attach", name, `docker:${dnet}`, "--take-addresses", "--json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { live: string; segment: Record<string, unknown> };
    assert.deepEqual(doc.segment, { kind: "docker", name: dnet, device: dbridge, takeAddresses: true });
    assert.equal(doc.live, "applied");
    assert.equal(masterOf(segmentLinkNames(name, dbridge).peer), dbridge);
    const addrs = (await sh("ip", ["-4", "-br", "addr", "show", "dev", dbridge])).stdout;
    assert.ok(!addrs.includes(`${subnet}.1`), `the bridge's own address is taken off while attached: ${addrs}`);
  });

  test("a container on the --internal network leases from vnat and reaches the internet via the uplink", async () => {
    const r = await dockerd!.docker(
      [
        "run",
        "--rm",
        "--network",
        dnet,
        "--cap-add",
        "NET_ADMIN",
        dockerd!.image,
        "/bin/sh",
        "-c",
        leaseThen(`nslookup ${world.dnsName} 10.0.0.1 && wget -q -O - http://${world.internetIp}/`),
      ],
      120_000,
    );
    assert.equal(r.exitCode, 0, `container: ${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /LEASE ip=10\.0\.0\.\d+ router=10\.0\.0\.1 dns=10\.0\.0\.1/);
    assert.ok(r.stdout.includes(world.internetIp), `DNS from vnat's namespace: ${r.stdout}`);
    assert.equal(r.stdout.trim().split("\n").at(-1), uplink, "the internet saw the network's uplink");
    assert.equal(await world.privateSourcePackets(), 0);
  });

  test("a repair keeps what was taken: reconcile attaches a cut segment again, the address still goes back at detach", async () => {
    await sh("ip", ["link", "del", segmentLinkNames(name, dbridge).peer]);
    const st = await vnat(cfg, ["status", name, "--json"]);
    const doc = JSON.parse(st.stdout) as { networks: Array<{ reasons: Array<{ code: string }> }> };
    assert.ok(
      doc.networks[0]!.reasons.some((r) => r.code === "segment-detached"),
      st.stdout,
    );
    const r = await vnat(cfg, ["reconcile", name]);
    assert.equal(r.exitCode, 0, `${r.stdout} ${r.stderr}`);
    assert.match(r.stdout, /1 network\(s\) checked, 1 repaired, 0 with problems left/);
    assert.equal(masterOf(segmentLinkNames(name, dbridge).peer), dbridge);
  });

  test("vnat detach puts the bridge's address back and leaves it as it was", async () => {
    const r = await vnat(cfg, ["detach", name, `docker:${dnet}`]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(await linkSnapshot(dbridge), bridgeBefore);
  });
});
