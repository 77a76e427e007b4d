// A fleet of vnat networks on the real libvirt daemon, for end-to-end tests that drive
// many networks at once (concurrency, reboot, soak): the daemons, vnat's hook, a sandbox
// world with a provider pool, `vnat net create` / status / reconcile through the CLI, and
// a tracker that removes every network and domain the test defined.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kernelNames } from "../../src/core/names.ts";
import type { NetworkDoc, StatusDoc } from "../../src/core/observe/status-doc.ts";
import {
  buildBundles,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  netDebris,
  useHook,
  virsh,
  vnat,
} from "./libvirt.ts";
import { run, sh, waitFor } from "./sh.ts";
import { assertNoWorldDebris, createWorld, type World } from "./world.ts";

export const POOL = "198.51.100.10-198.51.100.99";

export interface CreateOptions {
  /** "auto", or an address in the provider subnet */
  uplink?: string;
  extra?: string[];
}

export interface FleetNet {
  name: string;
  bridge: string;
  /** the uplink `vnat net create` chose or was given (A.B.C.D) */
  uplink: string;
}

export class Fleet {
  readonly tracker = new LibvirtTracker();
  readonly nets = new Map<string, FleetNet>();
  private constructor(
    readonly world: World,
    readonly cfg: string,
    private readonly cfgDir: string,
    private readonly hook: Awaited<ReturnType<typeof useHook>>,
  ) {}

  static async open(): Promise<Fleet> {
    await ensureDaemons();
    await buildBundles();
    const hook = await useHook();
    const world = await createWorld();
    const cfgDir = await mkdtemp(join(tmpdir(), `vnat-fleet-${world.tag}-`));
    const cfg = join(cfgDir, "config.json");
    const f = new Fleet(world, cfg, cfgDir, hook);
    const add = ["provider", "add", world.providerBridge, "--gateway", `${world.providerGateway}/24`];
    const r = await vnat(cfg, [...add, "--pool", POOL, "--dns", world.upstreamDns]);
    assert.equal(r.exitCode, 0, r.stderr);
    return f;
  }

  get tag(): string {
    return this.world.tag;
  }

  /** `vnat net create NAME` on 10.0.0.0/24; returns what it defined. */
  async create(name: string, o: CreateOptions = {}): Promise<FleetNet> {
    this.tracker.network(name);
    const r = await createSandboxNet(this.cfg, this.world, name, o);
    assert.equal(r.exitCode, 0, `vnat net create ${name}: ${r.stderr}`);
    const bridge = /bridge\s+(\S+)/.exec(r.stdout)?.[1];
    const uplink = /uplink\s+([\d.]+)\//.exec(r.stdout)?.[1];
    assert.ok(bridge && uplink, `unexpected output of vnat net create: ${r.stdout}`);
    const net = { name, bridge, uplink };
    this.nets.set(name, net);
    return net;
  }

  /** `vnat status NAMES --json`, one document per network (in the order asked). */
  async status(names: string[]): Promise<NetworkDoc[]> {
    const docs: NetworkDoc[] = [];
    // one CLI run per network keeps the probe to this fleet's networks
    for (const n of names) {
      const r = await vnat(this.cfg, ["status", n, "--json"]);
      assert.equal(r.exitCode, 0, `vnat status ${n}: ${r.stderr}`);
      docs.push(...(JSON.parse(r.stdout) as StatusDoc).networks);
    }
    return docs;
  }

  /** `vnat reconcile NAMES` (never every network: other tests' networks are not ours). */
  async reconcile(names: string[]): Promise<string> {
    const r = await vnat(this.cfg, ["reconcile", ...names]);
    assert.equal(r.exitCode, 0, `vnat reconcile: ${r.stdout}${r.stderr}`);
    return r.stdout;
  }

  async start(name: string): Promise<void> {
    const r = await virsh(["net-start", name]);
    assert.equal(r.exitCode, 0, `virsh net-start ${name}: ${r.stderr}`);
  }

  async stop(name: string): Promise<void> {
    const r = await virsh(["net-destroy", name]);
    assert.equal(r.exitCode, 0, `virsh net-destroy ${name}: ${r.stderr}`);
  }

  /**
   * What a reboot does to network NAME while libvirt keeps reporting it active: its
   * namespace (with dnsmasq and every process in it), veths, state directory and claims
   * are gone. Only this network's objects, found by vnat's names for it.
   */
  async wipeRuntime(name: string): Promise<void> {
    const k = kernelNames(name);
    const pids = (await sh("ip", ["netns", "pids", k.netns])).stdout.split(/\s+/).filter((p) => /^\d+$/.test(p));
    for (const p of pids) {
      try {
        process.kill(Number(p), "SIGKILL"); // every process in vnat's namespace for this network
      } catch {
        /* gone */
      }
    }
    await waitFor(
      async () => (await sh("ip", ["netns", "pids", k.netns])).stdout.trim() === "",
      5000,
      `${k.netns} empty`,
    );
    await run("ip", ["netns", "del", k.netns]);
    await waitFor(
      () => !existsSync(`/sys/class/net/${k.uplinkHost}`) && !existsSync(`/sys/class/net/${k.lanHost}`),
      5000,
      "veths gone",
    );
    await rm(`/run/vnat/net/${name}`, { recursive: true, force: true });
    for (const c of existsSync("/run/vnat/claims") ? readdirSync("/run/vnat/claims") : [])
      if (readFileSync(`/run/vnat/claims/${c}`, "utf8").trim() === name)
        await rm(`/run/vnat/claims/${c}`, { force: true });
  }

  /** Removes every network (and domain) of the fleet, the world, the hook; lists what was left. */
  async close(): Promise<string[]> {
    const errors: string[] = [];
    // every stage runs whatever failed before: a test that failed must still leave nothing
    const stage = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error).message}`);
      }
    };
    await stage("libvirt cleanup", async () => errors.push(...(await this.tracker.cleanup())));
    // leftovers of the fleet's own networks (say, destroyed while another test had removed
    // the hook): reconcile removes what no active network explains, naming only ours
    const names = [...this.nets.keys()];
    if (names.length) await stage("reconcile", () => vnat(this.cfg, ["reconcile", "--quiet", ...names]));
    for (const n of this.nets.values()) errors.push(...(await netDebris(n.name, n.bridge)));
    await stage("world", () => this.world.destroy());
    await stage("hook", () => this.hook.release());
    await stage("config", () => rm(this.cfgDir, { recursive: true, force: true }));
    await stage("world debris", () => assertNoWorldDebris(this.world.tag));
    return errors;
  }
}
