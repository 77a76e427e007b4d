// The soak: a seeded random sequence of operations an administrator, libvirt and bad luck
// perform on a fleet of vnat networks (start, stop, guest attach and detach, dnsmasq
// killed, libvirtd restarted, reconcile), with the invariants checked after every step:
//   - each active network has exactly one namespace, healthy, or degraded by exactly the
//     faults the soak injected since (until a reconcile repairs them), or by a ruleset that
//     lists the host's former addresses when another process changed them meanwhile;
//   - an inactive network leaves nothing (namespace, veths, dnsmasq, state, claims);
//   - no uplink is used twice: one claim per address, held by an active network, and
//     each active network's wan0 carries its own address;
//   - the guests vnat reports are domains running on that network, and include every
//     one attached since the network last started;
//   - at most one dnsmasq per network.
// Judged like `vnat status` (the same probe and verdict), in-process for speed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ReasonCode } from "../../src/core/judge/health.ts";
import { evaluate } from "../../src/core/judge/health.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { readLibvirtNetworks } from "../../src/adapters/libvirt/view.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import { probeHostAddresses } from "../../src/exec/probe/host-addrs.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { processRunner } from "../../src/exec/run.ts";
import { isDnsmasqHelper } from "./dnsmasq.ts";
import type { Fleet, FleetNet } from "./fleet.ts";
import { HOOK_FILE, mayRestartLibvirtd, netDebris, pidsOf, restartLibvirtd, virsh } from "./libvirt.ts";
import { runHook } from "./hook.ts";
import { rng } from "./mutate.ts";

export type OpKind = "start" | "stop" | "attach" | "detach" | "kill-dnsmasq" | "restart-libvirtd" | "reconcile";

const WEIGHTS: Record<OpKind, number> = {
  start: 3,
  stop: 2,
  attach: 2,
  detach: 2,
  "kill-dnsmasq": 1,
  "restart-libvirtd": 0.5,
  reconcile: 1.5,
};

interface NetModel extends FleetNet {
  active: boolean;
  /** faults injected since the last (re)start or reconcile, which the verdict may show */
  faults: Set<ReasonCode>;
  /**
   * the host's addresses when its ruleset was last rendered (start, reconcile), or
   * undefined when they changed during that very operation
   */
  hostAddrs?: string;
}

interface DomainModel {
  name: string;
  net: string;
  mac: string;
  /** attached while its network ran, and that network not restarted since */
  plugged: boolean;
}

export interface SoakOptions {
  seed: number;
  ops: number;
  /** line printer (each op, each violation) */
  log: (line: string) => void;
  maxDomains?: number;
}

export interface SoakResult {
  seed: number;
  ops: number;
  violations: string[];
  done: Record<string, number>;
  /** operations this run could only replay (a libvirtd it did not start is not restarted) */
  replayed: Record<string, number>;
  /** checks where a ruleset was stale only because the host's addresses changed meanwhile */
  hostAddressChanges: number;
  ms: number;
}

/** A domain that boots nothing (SeaBIOS finds no disk and idles): one NIC on NET, 32 MiB. */
function idleDomainXml(name: string, net: string, mac: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <devices>
    <interface type='network'><source network='${net}'/><mac address='${mac}'/><model type='virtio'/></interface>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

export class Soak {
  private readonly nets: NetModel[];
  private readonly domains: DomainModel[] = [];
  private domainSeq = 0;
  private readonly r: () => number;
  private readonly result: SoakResult;

  constructor(
    private readonly fleet: Fleet,
    nets: FleetNet[],
    private readonly o: SoakOptions,
  ) {
    this.nets = nets.map((n) => ({ ...n, active: false, faults: new Set() }));
    this.r = rng(o.seed);
    this.result = { seed: o.seed, ops: 0, violations: [], done: {}, replayed: {}, hostAddressChanges: 0, ms: 0 };
  }

  async run(): Promise<SoakResult> {
    const t0 = performance.now();
    this.o.log(`soak: seed ${this.o.seed}, ${this.o.ops} operations over ${this.nets.length} networks`);
    for (let i = 1; i <= this.o.ops; i++) {
      const [kind, what] = await this.step();
      this.result.ops = i;
      const bad = await this.check();
      this.o.log(`#${i} ${kind} ${what}${bad.length ? ` → ${bad.length} VIOLATION(S)` : ""}`);
      for (const b of bad) {
        this.result.violations.push(`#${i} ${kind} ${what}: ${b}`);
        this.o.log(`  violation: ${b}`);
      }
    }
    this.result.ms = Math.round(performance.now() - t0);
    return this.result;
  }

  /** Removes the soak's domains (the fleet's tracker also would, at close). */
  async cleanup(): Promise<void> {
    for (const d of this.domains.splice(0)) await virsh(["destroy", d.name]);
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  private applicable(): OpKind[] {
    const active = this.nets.some((n) => n.active);
    const out: OpKind[] = ["reconcile", "restart-libvirtd"];
    if (this.nets.some((n) => !n.active)) out.push("start");
    if (active) out.push("stop", "kill-dnsmasq");
    if (active && this.domains.length < (this.o.maxDomains ?? 4)) out.push("attach");
    if (this.domains.length) out.push("detach");
    return out;
  }

  private async step(): Promise<[OpKind, string]> {
    const ops = this.applicable();
    let x = this.r() * ops.reduce((s, k) => s + WEIGHTS[k], 0);
    const kind = ops.find((k) => (x -= WEIGHTS[k]) < 0) ?? ops[0]!;
    const before = await hostAddrs();
    const wasActive = new Set(this.nets.filter((n) => n.active).map((n) => n.name));
    const what = await this.perform(kind);
    // which host addresses each (re)rendered ruleset holds: isolation lists them, and other
    // processes on this machine (a libvirt NAT network starting) may change them any time
    const after = await hostAddrs();
    for (const n of this.nets)
      if (kind === "reconcile" || (n.active && !wasActive.has(n.name)))
        n.hostAddrs = before === after ? after : undefined;
    const bucket = what.startsWith("replayed") ? this.result.replayed : this.result.done;
    bucket[kind] = (bucket[kind] ?? 0) + 1;
    return [kind, what];
  }

  private async perform(kind: OpKind): Promise<string> {
    const must = async (args: string[]): Promise<void> => {
      const res = await virsh(args);
      if (res.exitCode !== 0) throw new Error(`virsh ${args.join(" ")}: ${res.stderr.trim()}`);
    };
    switch (kind) {
      case "start": {
        const n = this.pick(this.nets.filter((m) => !m.active));
        await must(["net-start", n.name]);
        n.active = true;
        n.faults.clear();
        for (const d of this.domains) if (d.net === n.name) d.plugged = false; // libvirt does not re-plug them
        return n.name;
      }
      case "stop": {
        const n = this.pick(this.nets.filter((m) => m.active));
        await must(["net-destroy", n.name]);
        n.active = false;
        n.faults.clear();
        return `${n.name} (${this.domains.filter((d) => d.net === n.name).length} guest(s) left on it)`;
      }
      case "attach": {
        const n = this.pick(this.nets.filter((m) => m.active));
        const seq = ++this.domainSeq;
        const d: DomainModel = {
          name: this.fleet.tracker.domain(`vns-${this.fleet.tag}-g${seq}`),
          net: n.name,
          mac: `52:54:00:5a:${hex2((seq >> 8) & 255)}:${hex2(seq & 255)}`,
          plugged: true,
        };
        const file = join(this.fleet.world.tmpDir, `${d.name}.xml`);
        writeFileSync(file, idleDomainXml(d.name, n.name, d.mac));
        await must(["create", file]);
        this.domains.push(d);
        return `${d.name} on ${n.name}`;
      }
      case "detach": {
        const d = this.pick(this.domains);
        await must(["destroy", d.name]);
        this.domains.splice(this.domains.indexOf(d), 1);
        return `${d.name} from ${d.net}`;
      }
      case "kill-dnsmasq": {
        const n = this.pick(this.nets.filter((m) => m.active));
        const pid = ownDnsmasq(n.name);
        if (pid === undefined) return `${n.name}: no dnsmasq to kill`;
        process.kill(pid, "SIGKILL");
        n.faults.add("dnsmasq-down");
        return `${n.name} (pid ${pid})`;
      }
      case "restart-libvirtd": {
        const why = mayRestartLibvirtd();
        if (why) return `replayed (${await this.replayRestart()}): ${why}`;
        await restartLibvirtd();
        return `libvirtd now pid ${pidsOf("libvirtd").join(",")}`;
      }
      case "reconcile": {
        await this.fleet.reconcile(this.nets.map((n) => n.name));
        for (const n of this.nets) n.faults.clear();
        return "all networks";
      }
    }
  }

  /**
   * What a libvirtd restart sends vnat's hook, when this run may not restart the shared
   * daemon: `port-created` again for every port of every active network, with the network
   * and port XML libvirt itself reports. Returns how many were replayed.
   */
  private async replayRestart(): Promise<string> {
    let count = 0;
    for (const n of this.nets.filter((m) => m.active)) {
      const uuids = (await virsh(["net-port-list", n.name, "--uuid"])).stdout.split("\n").map((u) => u.trim());
      const netXml = (await virsh(["net-dumpxml", n.name])).stdout;
      for (const uuid of uuids.filter(Boolean)) {
        const portXml = (await virsh(["net-port-dumpxml", n.name, uuid])).stdout;
        const r = await runHook(n.name, "port-created", "begin", `<hookData>\n${netXml}\n${portXml}</hookData>\n`);
        if (r.exitCode !== 0) throw new Error(`replayed port-created ${n.name} ${uuid}: ${r.stderr.trim()}`);
        count++;
      }
    }
    return `${count} port-created`;
  }

  /** Every invariant, as a list of what is wrong (empty: all hold). */
  private async check(): Promise<string[]> {
    const bad: string[] = [];
    // without it libvirt starts networks with no namespace: say so rather than list the symptoms
    if (!existsSync(HOOK_FILE)) bad.push(`the vnat hook ${HOOK_FILE} is missing (removed by another process?)`);
    const names = this.nets.map((n) => n.name);
    const config = parseConfig(this.fleet.cfg, readFileSync(this.fleet.cfg, "utf8"));
    const networks = await readLibvirtNetworks();
    const { observations } = await probeAll({ runner: processRunner, roots: roots(), config, networks, only: names });
    const obs = new Map(observations.map((o) => [o.name, o]));
    const running = new Set((await virsh(["list", "--name"])).stdout.split("\n").map((s) => s.trim()));
    const now = await hostAddrs();
    for (const n of this.nets) {
      const o = obs.get(n.name);
      const libvirtActive = networks.find((x) => x.name === n.name)?.active ?? false;
      if (libvirtActive !== n.active) bad.push(`${n.name}: libvirt says ${libvirtActive ? "active" : "inactive"}`);
      if (!o) {
        if (n.active) bad.push(`${n.name}: not observed`);
        continue;
      }
      const v = evaluate(o);
      if (n.active) {
        // a ruleset listing the host's former addresses is stale, not broken: reconcile renews it
        const hostMoved = n.hostAddrs !== now;
        if (hostMoved && v.reasons.some((x) => x.code === "ruleset-changed")) this.result.hostAddressChanges++;
        const unexpected = v.reasons.filter(
          (x) => !n.faults.has(x.code) && !(hostMoved && x.code === "ruleset-changed"),
        );
        if (!(v.health === "healthy" || (v.health === "degraded" && unexpected.length === 0)))
          bad.push(`${n.name}: ${v.health}: ${v.reasons.map((x) => x.message).join("; ")}`);
        const wan = o.inside?.links.find((l) => l.name === "wan0")?.addresses ?? [];
        if (!wan.includes(`${n.uplink}/24`))
          bad.push(`${n.name}: wan0 has ${wan.join(",") || "nothing"}, not ${n.uplink}/24`);
        const guests = new Set(o.ports.map((p) => p.mac));
        for (const d of this.domains.filter((x) => x.net === n.name && x.plugged))
          if (!guests.has(d.mac)) bad.push(`${n.name}: guest ${d.name} (${d.mac}) attached but not reported`);
        for (const p of o.ports)
          if (!this.domains.some((d) => d.net === n.name && d.mac === p.mac && running.has(d.name)))
            bad.push(`${n.name}: reports guest ${p.ownerName ?? "?"} (${p.mac ?? "?"}) that runs on no domain of it`);
      } else {
        const left = await netDebris(n.name);
        if (v.health !== "stopped" || left.length)
          bad.push(`${n.name}: inactive but ${v.health}${left.length ? `: ${left.join(", ")}` : ""}`);
      }
      const dnsmasqs = dnsmasqsOf(n.name);
      if (dnsmasqs.length > 1) bad.push(`${n.name}: ${dnsmasqs.length} dnsmasq processes (${dnsmasqs.join(" ")})`);
    }
    bad.push(...this.claimViolations());
    return bad;
  }

  private claimViolations(): string[] {
    const bad: string[] = [];
    const dir = "/run/vnat/claims";
    const prefix = `${this.fleet.world.providerBridge}@`;
    const claims = existsSync(dir) ? readdirSync(dir).filter((c) => c.startsWith(prefix)) : [];
    const byOwner = new Map<string, string[]>();
    for (const c of claims) {
      let owner = "";
      try {
        owner = readFileSync(join(dir, c), "utf8").trim();
      } catch {
        continue;
      }
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), c.slice(prefix.length)]);
    }
    for (const n of this.nets) {
      const held = byOwner.get(n.name) ?? [];
      if (n.active && (held.length !== 1 || held[0] !== n.uplink))
        bad.push(`${n.name}: claims ${held.join(",") || "nothing"}, expected ${n.uplink}`);
      if (!n.active && held.length) bad.push(`${n.name}: inactive but still claims ${held.join(",")}`);
    }
    const ips = this.nets.filter((n) => n.active).map((n) => n.uplink);
    if (new Set(ips).size !== ips.length) bad.push(`an uplink is used twice: ${ips.join(" ")}`);
    return bad;
  }
}

/** The host's addresses as vnat's isolation reads them, as one comparable string. */
async function hostAddrs(): Promise<string> {
  return (await probeHostAddresses(processRunner)).join(",");
}

/** pids of dnsmasq processes started for network NAME (by their pid-file argument). */
function dnsmasqsOf(name: string): number[] {
  // daemons only: a network with DHCP also has dnsmasq's lease-script helper
  return pidsOf("dnsmasq").filter((pid) => {
    if (isDnsmasqHelper(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`--pid-file=/run/vnat/net/${name}/dnsmasq.pid`);
    } catch {
      return false;
    }
  });
}

/** vnat's dnsmasq of NAME, found through its pid file and checked by its command line. */
function ownDnsmasq(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(`/run/vnat/net/${name}/dnsmasq.pid`, "utf8").trim());
    return dnsmasqsOf(name).includes(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");
