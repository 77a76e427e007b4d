// The event fuzzer: a seeded random sequence of libvirt network events, fired back to back
// (0-50 ms apart) on the real kernel and the real libvirt daemon, over a few vnat networks
// that share one guest subnet (10.0.0.0/24) and each hold their own uplink on the sandbox
// world's provider bridge:
//   - `virsh net-start` (libvirt runs the hook for `start begin` and `started`: 2 events),
//     `virsh net-destroy` (`stopped`: 1 event), and guest ports: `port-created` and
//     `port-deleted` sent to the installed hook exactly as libvirt sends them (argv, the
//     network's live XML and a port document on stdin, libvirt's environment), only while
//     the network is active, as libvirt would (1 event each);
//   - concurrently, in loops of real processes: `vnat reconcile --quiet NAMES` and
//     `vnat forward add|remove` on the networks;
//   - now and then a SIGKILL of a running vnat process of this run: a hook (node dist/hook.js
//     NAME …), a reconcile or a forward (node dist/cli.js …, this process's children), either
//     aimed at the hook of the event being fired or picked at random by a background loop.
// The model is what libvirt says after each virsh command (active or not). At every quiet
// point (every ~25 events, and at the end) the loops stop, one `vnat reconcile` converges
// what kills left, and the host must match the model:
//   - an active network is healthy (`vnat status --json`), its namespace's wan0 carries its
//     own uplink, it holds exactly its own claim, it runs at most one dnsmasq, and vnat lists
//     the guest ports libvirt has (and only ones libvirt has, or may have, sent it);
//   - an inactive one leaves no namespace, link, fdb entry, claim, dnsmasq or state, and a
//     bridge libvirt kept after a failed start is one vnat has recorded (NAME.begun) to remove;
//   - no two networks share an uplink.
// Between quiet points: a `port-created` vnat accepts while the network has no namespace is
// a violation, as is one refused while the namespace serves, a net-start that fails without
// a kill (or with "File exists" twice in a row: vnat did not remove the bridge libvirt kept),
// a net-destroy that fails or leaves the network active.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelNames } from "../../src/core/names.ts";
import type { NetworkDoc, StatusDoc } from "../../src/core/observe/status-doc.ts";
import { isDnsmasqHelper } from "./dnsmasq.ts";
import { Fleet, type FleetNet } from "./fleet.ts";
import { portXml } from "./fixtures.ts";
import { runHook, vnatDebris } from "./hook.ts";
import { netDebris, pidsOf, removeLibvirtKeptRules, REPO, virsh, virshRaw } from "./libvirt.ts";
import { rng } from "./mutate.ts";
import { sh, sleep, waitFor, type ShResult } from "./sh.ts";

export interface FuzzOptions {
  seed: number;
  /** hook events to fire (a net-start counts 2, a net-destroy 1, a port event 1) */
  events: number;
  /** vnat networks (default 3) */
  networks?: number;
  /** hook events between quiet points (default 25) */
  quietEvery?: number;
  /** every line of the run (each event, kill, quiet point, violation); default: none */
  log?: (line: string) => void;
  /** told the networks' names as soon as they are chosen (to check the baseline afterwards) */
  onNetworks?: (names: string[]) => void;
}

export interface KillRecord {
  /** ms since the run began */
  at: number;
  pid: number;
  kind: ProcKind;
  net?: string;
  /** a hook's OP (start, started, stopped, port-created, port-deleted) or the CLI's command */
  op?: string;
  /** "aimed" (at the hook of the event being fired) or "random" (the background loop) */
  by: "aimed" | "random";
  /** the main sequence's event in flight */
  during: string;
}

export interface FuzzReport {
  seed: number;
  networks: string[];
  /** hook events fired */
  events: number;
  /** main-sequence steps (virsh commands and port events) */
  steps: number;
  kills: number;
  killsBy: Record<string, number>;
  quietPoints: number;
  /** what was fired and how it ended, e.g. "net-start ok", "port-created refused (no namespace)" */
  outcomes: Record<string, number>;
  /** the concurrent loops' exit codes, e.g. "reconcile exit 0", "forward add killed" */
  background: Record<string, number>;
  violations: string[];
  /** what closing the fleet left behind (also counted as violations) */
  leftovers: string[];
  /** findings that are not violations of the model (e.g. the hook's agent not coming back) */
  notes: string[];
  ms: number;
}

type ProcKind = "hook" | "agent" | "reconcile" | "forward";

interface VnatProc {
  pid: number;
  kind: ProcKind;
  net?: string;
  op?: string;
  cmdline: string;
}

interface NetModel extends FleetNet {
  active: boolean;
  /** the network's live XML (libvirt's hook documents carry it), read at its last start */
  xml: string;
  /** guest ports libvirt has (port-created answered 0), by MAC */
  ports: Set<string>;
  /** MACs vnat may or may not have recorded (their port-created or port-deleted was killed) */
  maybe: Set<string>;
  /** consecutive net-starts that failed with "File exists" */
  fileExists: number;
  /** forwards believed present (port numbers) */
  forwards: Set<number>;
  history: string[];
}

const HOOK_BUNDLE = "/dist/hook.js";
const CLI_BUNDLE = "/dist/cli.js";
const CLI = join(REPO, "dist/cli.js");

/**
 * vnat processes of this run, from one pass over /proc:
 *  - "hook": the hook's own Node (node …/dist/hook.js NAME OP SUBOP -) for a network of NAMES;
 *  - "agent": the hook's resident agent (node …/dist/hook.js --agent) while it serves an event
 *    of NAMES (the shell hook of that event waits on socat connected to the agent's socket;
 *    the agent is found by its pid file and checked by its command line). An agent serving
 *    only other networks' events is never listed;
 *  - "reconcile" / "forward": this process's `vnat reconcile` / `vnat forward` children.
 */
function vnatProcs(names: Set<string>): VnatProc[] {
  const out: VnatProc[] = [];
  const shells = new Map<number, { net: string; op: string }>();
  const socats: Array<{ pid: number; sock: string }> = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let raw: string;
    try {
      raw = readFileSync(`/proc/${e}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const pid = Number(e);
    const argv = raw.split("\0");
    const script = argv[1] ?? "";
    if (script.endsWith(HOOK_BUNDLE)) {
      if (names.has(argv[2] ?? "")) out.push({ pid, kind: "hook", net: argv[2]!, op: argv[3] ?? "?", cmdline: raw });
    } else if (script.endsWith(CLI_BUNDLE)) {
      if (parentOf(pid) !== process.pid) continue;
      if (argv[2] === "reconcile" && argv.slice(3).some((a) => names.has(a)))
        out.push({ pid, kind: "reconcile", op: "reconcile", cmdline: raw });
      else if (argv[2] === "forward" && names.has(argv[4] ?? ""))
        out.push({ pid, kind: "forward", net: argv[4]!, op: `forward ${argv[3]}`, cmdline: raw });
    } else if ((script.endsWith("/hooks/network") || script.endsWith("/network.d/vnat")) && names.has(argv[2] ?? "")) {
      shells.set(pid, { net: argv[2]!, op: argv[3] ?? "?" });
    } else if (argv[0]?.endsWith("socat")) {
      const sock = argv.find((a) => a.startsWith("UNIX-CONNECT:"))?.slice("UNIX-CONNECT:".length);
      if (sock?.endsWith(".sock")) socats.push({ pid, sock });
    }
  }
  const agents = new Set<number>();
  for (const so of socats) {
    const sh = shells.get(parentOf(so.pid) ?? -1);
    if (!sh) continue;
    let pid: number;
    let cmdline: string;
    try {
      pid = Number(
        readFileSync(so.sock.replace(/\.sock$/, ".pid"), "utf8")
          .trim()
          .split(" ")[0],
      );
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const argv = cmdline.split("\0");
    if (!(argv[1] ?? "").endsWith(HOOK_BUNDLE) || argv[2] !== "--agent" || agents.has(pid)) continue;
    agents.add(pid);
    out.push({ pid, kind: "agent", net: sh.net, op: sh.op, cmdline });
  }
  return out;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/** SIGKILLs P if /proc still shows the same command line (not a reused pid). */
function killIfSame(p: VnatProc): boolean {
  try {
    if (readFileSync(`/proc/${p.pid}/cmdline`, "utf8") !== p.cmdline) return false;
    process.kill(p.pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}

const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

/**
 * One line of a command's error. libvirt quotes a failed hook with its whole environment and
 * command line first ("Child process (LC_ALL=C PATH=… /etc/libvirt/hooks/network.d/vnat NAME
 * OP SUBOP -) unexpected exit status 1: vnat: …"): only what follows the command is kept.
 */
const oneLine = (s: string): string =>
  s
    .replace(/Child process \(.*? - ?\) (unexpected)/s, "hook $1")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 400);

const begunFile = (name: string): string => `/run/vnat/locks/net/${name}.begun`;

const statePhase = (name: string): string | undefined => {
  try {
    return (JSON.parse(readFileSync(`/run/vnat/net/${name}/state.json`, "utf8")) as { phase?: string }).phase;
  } catch {
    return undefined;
  }
};

/** vnat serves NAME right now: its namespace exists and its state says active. */
const serving = (name: string): boolean =>
  existsSync(`/run/netns/${kernelNames(name).netns}`) && statePhase(name) === "active";

class Fuzz {
  private readonly r: () => number;
  private readonly nets: NetModel[];
  private readonly names: Set<string>;
  private readonly t0 = performance.now();
  private readonly killLog: KillRecord[] = [];
  private current = "setup";
  private loopsStop = false;
  private loops: Promise<void>[] = [];
  readonly report: FuzzReport;

  constructor(
    private readonly fleet: Fleet,
    nets: FleetNet[],
    private readonly o: FuzzOptions,
  ) {
    this.r = rng(o.seed);
    this.nets = nets.map((n) => ({
      ...n,
      active: false,
      xml: "",
      ports: new Set(),
      maybe: new Set(),
      fileExists: 0,
      forwards: new Set(),
      history: [],
    }));
    this.names = new Set(nets.map((n) => n.name));
    this.report = {
      seed: o.seed,
      networks: nets.map((n) => n.name),
      events: 0,
      steps: 0,
      kills: 0,
      killsBy: {},
      quietPoints: 0,
      outcomes: {},
      background: {},
      violations: [],
      leftovers: [],
      notes: [],
      ms: 0,
    };
  }

  private now(): number {
    return Math.round(performance.now() - this.t0);
  }

  private log(line: string): void {
    this.o.log?.(line);
  }

  private violation(what: string, net?: NetModel): void {
    const at = `after ${this.report.events} events (step ${this.report.steps}, ${this.current})`;
    const recent = net ? `; ${net.name}'s last events: ${net.history.slice(-8).join(" | ")}` : "";
    const line = `${at}: ${what}${recent}`;
    this.report.violations.push(line);
    this.log(`  VIOLATION ${line}`);
  }

  private note(net: NetModel, what: string): void {
    net.history.push(`#${this.report.events} ${what}`);
    if (net.history.length > 40) net.history.splice(0, net.history.length - 40);
  }

  private recordKill(p: VnatProc, by: "aimed" | "random"): void {
    const k: KillRecord = {
      at: this.now(),
      pid: p.pid,
      kind: p.kind,
      by,
      during: this.current,
      ...(p.net ? { net: p.net } : {}),
      ...(p.op ? { op: p.op } : {}),
    };
    this.killLog.push(k);
    this.report.kills++;
    bump(this.report.killsBy, `${p.kind}${p.kind === "hook" || p.kind === "agent" ? ` ${p.op}` : ""} (${by})`);
    const net = this.nets.find((n) => n.name === p.net);
    // whether vnat had recorded the start as begun when its `started` died (the next start needs it)
    const begun = p.op === "started" && net ? `, ${existsSync(begunFile(net.name)) ? "" : "no "}.begun` : "";
    if (begun) bump(this.report.outcomes, `killed started${begun.replace(",", ":")}`);
    if (net) this.note(net, `KILL ${p.kind === "agent" ? "agent serving " : ""}${p.op} pid ${p.pid}${begun}`);
    this.log(`  kill ${p.kind} ${p.op ?? ""} ${p.net ?? ""} pid ${p.pid} (${by}, during ${this.current})`);
  }

  /**
   * Kills since FROM (ms) of the hook's own Node for an event of NET (one of OPS): libvirt sees
   * that event fail. A killed agent is not in it: the shell hook then runs Node itself.
   */
  private killedSince(from: number, net: string, ops: string[], kinds: ProcKind[] = ["hook"]): KillRecord[] {
    return this.killLog.filter(
      (k) => k.at >= from && kinds.includes(k.kind) && k.net === net && ops.includes(k.op ?? ""),
    );
  }

  /** " (agent killed)" when the agent serving an event of NET (one of OPS) was killed since FROM */
  private agentNote(from: number, net: string, ops: string[]): string {
    return this.killedSince(from, net, ops, ["agent"]).length ? " (agent killed)" : "";
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.r() * xs.length)]!;
  }

  /**
   * Watches for the hook of NET running one of OPS and SIGKILLs it DELAY ms after it shows up
   * (if it still runs); stops when `done` is set.
   */
  private async aimKill(net: string, ops: string[], delayMs: number, done: { v: boolean }): Promise<void> {
    while (!done.v) {
      const p = vnatProcs(this.names).find(
        (x) => (x.kind === "hook" || x.kind === "agent") && x.net === net && ops.includes(x.op ?? ""),
      );
      if (p) {
        if (delayMs > 0) await sleep(delayMs);
        if (killIfSame(p)) this.recordKill(p, "aimed");
        return;
      }
      await sleep(5);
    }
  }

  /** Runs FN while (with probability P) a kill is aimed at the hook of NET running one of OPS. */
  private async withAim<T>(p: number, net: string, ops: string[], fn: () => Promise<T>): Promise<T> {
    const aim = this.r() < p;
    const delay = this.r() < 0.3 ? 0 : Math.floor(this.r() * 250);
    const op = ops[Math.floor(this.r() * ops.length)]!;
    if (!aim) return fn();
    const done = { v: false };
    const watcher = this.aimKill(net, [op], delay, done);
    try {
      return await fn();
    } finally {
      done.v = true;
      await watcher;
    }
  }

  /** The active networks libvirt lists (waiting for the daemon when another process restarts it). */
  private async libvirtActive(): Promise<Set<string>> {
    let r = await virshRaw(["net-list", "--name"]);
    for (let i = 0; i < 3 && r.exitCode !== 0 && LIBVIRT_DOWN.test(r.stderr); i++) {
      await this.waitLibvirt();
      r = await virshRaw(["net-list", "--name"]);
    }
    if (r.exitCode !== 0) throw new Error(`virsh net-list: ${r.stderr.trim()}`);
    return new Set(
      r.stdout
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }

  /** Waits for libvirtd to answer (another test on this host may restart it); counted. */
  private async waitLibvirt(): Promise<void> {
    bump(this.report.outcomes, "waited for libvirtd (restarted by another process)");
    this.log(`  libvirtd does not answer (restarted by another process?): waiting`);
    await waitLibvirt();
  }

  // ---------------------------------------------------------------- the main sequence

  async run(): Promise<FuzzReport> {
    const every = this.o.quietEvery ?? 25;
    this.log(
      `fuzz: seed ${this.o.seed}, ${this.o.events} events over ${this.nets.length} networks: ${this.nets.map((n) => `${n.name} (uplink ${n.uplink}, bridge ${n.bridge})`).join(", ")}`,
    );
    let nextQuiet = every;
    this.startLoops();
    try {
      while (this.report.events < this.o.events) {
        await this.step();
        if (this.report.events >= nextQuiet && this.report.events < this.o.events) {
          await this.quietPoint();
          nextQuiet = this.report.events + every;
        }
        await sleep(Math.floor(this.r() * 51));
      }
    } finally {
      await this.stopLoops();
    }
    this.current = "end";
    await this.quietPoint(true);
    await this.finish();
    const agent = agentState();
    if (agent) this.report.notes.push(agent);
    this.report.ms = this.now();
    return this.report;
  }

  private async step(): Promise<void> {
    type Choice = { w: number; net: NetModel; kind: "start" | "destroy" | "port-created" | "port-deleted" };
    const choices: Choice[] = [];
    for (const net of this.nets) {
      if (!net.active) choices.push({ w: 3, net, kind: "start" });
      else {
        choices.push({ w: 1.5, net, kind: "destroy" });
        choices.push({ w: 2, net, kind: "port-created" });
        if (net.ports.size) choices.push({ w: 1.5, net, kind: "port-deleted" });
      }
    }
    let x = this.r() * choices.reduce((s, c) => s + c.w, 0);
    const c = choices.find((ch) => (x -= ch.w) < 0) ?? choices[0]!;
    this.report.steps++;
    this.current = `step ${this.report.steps} ${c.kind} ${c.net.name}`;
    switch (c.kind) {
      case "start":
        return this.netStart(c.net);
      case "destroy":
        return this.netDestroy(c.net);
      case "port-created":
        return this.portCreated(c.net);
      case "port-deleted":
        return this.portDeleted(c.net);
    }
  }

  private async netStart(net: NetModel): Promise<void> {
    const from = this.now();
    if (existsSync(`/sys/class/net/${net.bridge}`))
      this.note(
        net,
        `bridge ${net.bridge} there before net-start, ${existsSync(begunFile(net.name)) ? "" : "no "}.begun`,
      );
    const r = await this.withAim(0.2, net.name, ["start", "started", "started", "started"], () =>
      virsh(["net-start", net.name], { timeoutMs: 300_000 }),
    );
    this.report.events += 2;
    const active = (await this.libvirtActive()).has(net.name);
    const killed = this.killedSince(from, net.name, ["start", "started"]);
    const agent = this.agentNote(from, net.name, ["start", "started"]);
    net.active = active;
    net.ports.clear();
    net.maybe.clear();
    let outcome: string;
    if (r.exitCode === 0) {
      outcome = `ok${agent}`;
      net.fileExists = 0;
      if (!active) this.violation(`virsh net-start ${net.name} answered 0 but libvirt lists it inactive`, net);
      const xml = await virshRaw(["net-dumpxml", net.name]);
      if (xml.exitCode === 0) net.xml = xml.stdout;
    } else {
      const err = oneLine(r.stderr);
      if (active) this.violation(`virsh net-start ${net.name} failed (${err}) but libvirt lists it active`, net);
      if (LIBVIRT_DOWN.test(r.stderr)) outcome = "libvirtd unavailable";
      else if (/File exists/.test(r.stderr)) {
        net.fileExists++;
        outcome = "failed (File exists)";
        if (net.fileExists > 1) {
          this.violation(
            `net-start ${net.name} failed with "File exists" ${net.fileExists} times in a row: vnat did not remove the bridge ${net.bridge} libvirt kept (${err}); ${existsSync(begunFile(net.name)) ? `${net.name}.begun exists` : `no ${net.name}.begun`}`,
            net,
          );
          // what an administrator would do, so that the run goes on exploring this network
          if (!active && (await removeKeptBridge(net.bridge))) {
            net.fileExists = 0;
            this.note(net, `fuzzer removed kept bridge ${net.bridge}`);
            this.log(`  the fuzzer removed the bridge ${net.bridge} libvirt kept, to go on`);
          }
        }
      } else {
        net.fileExists = 0;
        outcome = killed.length ? `failed (hook ${killed.map((k) => k.op).join("+")} killed)` : `failed${agent}`;
        if (!killed.length)
          this.violation(
            `net-start ${net.name} failed and no hook Node of it was killed${agent ? " (only the agent serving it was: the shell hook's own Node should have finished the event)" : ""}: ${err}`,
            net,
          );
      }
    }
    bump(this.report.outcomes, `net-start ${outcome.replace(/ \(hook .* killed\)/, " (killed)")}`);
    this.note(net, `net-start ${outcome}`);
    this.log(`#${this.report.events} net-start ${net.name}: ${outcome}${r.exitCode ? `: ${oneLine(r.stderr)}` : ""}`);
  }

  private async netDestroy(net: NetModel): Promise<void> {
    const from = this.now();
    const r = await this.withAim(0.12, net.name, ["stopped"], () =>
      virsh(["net-destroy", net.name], { timeoutMs: 300_000 }),
    );
    this.report.events += 1;
    const active = (await this.libvirtActive()).has(net.name);
    const killed = this.killedSince(from, net.name, ["stopped"]).length > 0;
    const agent = this.agentNote(from, net.name, ["stopped"]);
    net.active = active;
    net.ports.clear();
    net.maybe.clear();
    const down = r.exitCode !== 0 && LIBVIRT_DOWN.test(r.stderr);
    const outcome =
      r.exitCode === 0 ? (killed ? "ok (stopped killed)" : `ok${agent}`) : down ? "libvirtd unavailable" : "failed";
    if (r.exitCode !== 0 && !down) this.violation(`virsh net-destroy ${net.name} failed: ${oneLine(r.stderr)}`, net);
    if (active) this.violation(`libvirt still lists ${net.name} active after net-destroy`, net);
    bump(this.report.outcomes, `net-destroy ${outcome}`);
    this.note(net, `net-destroy ${outcome}`);
    this.log(`#${this.report.events} net-destroy ${net.name}: ${outcome}`);
  }

  /** The hook document libvirt sends for a port event of NET: its live XML and the port. */
  private portDoc(net: NetModel, mac: string): string {
    const port = portXml(mac, `fuzz-${mac.slice(-5).replace(":", "")}`)
      .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuidOf(mac)}</uuid>`)
      .replace(/bridge='virbr9'/, `bridge='${net.bridge}'`);
    return `<hookData>\n${net.xml.trimEnd()}\n${port}</hookData>\n`;
  }

  private async portCreated(net: NetModel): Promise<void> {
    const mac = randomMac(this.r);
    const from = this.now();
    const before = serving(net.name);
    const r = await this.withAim(0.08, net.name, ["port-created"], () =>
      runHook(net.name, "port-created", "begin", this.portDoc(net, mac)),
    );
    const after = serving(net.name);
    this.report.events += 1;
    const killed = this.killedSince(from, net.name, ["port-created"]).length > 0;
    const agent = this.agentNote(from, net.name, ["port-created"]);
    let outcome: string;
    if (r.exitCode === 0) {
      outcome = `accepted${agent}`;
      net.ports.add(mac);
      if (!before && !after)
        this.violation(
          `port-created ${mac} on ${net.name} answered 0 while vnat had no namespace for it (before and after the event)`,
          net,
        );
    } else if (killed) {
      outcome = "killed";
      net.maybe.add(mac); // libvirt has no such port; vnat may have recorded it before the kill
    } else if (before && after) {
      outcome = `refused while serving${agent}`;
      this.violation(
        `port-created ${mac} on ${net.name} refused while its namespace served (exit ${r.exitCode}${agent}): ${oneLine(r.stderr)}`,
        net,
      );
    } else outcome = `refused (no namespace)${agent}`;
    bump(this.report.outcomes, `port-created ${outcome}`);
    this.note(net, `port-created ${mac} ${outcome}`);
    this.log(`#${this.report.events} port-created ${net.name} ${mac}: ${outcome}`);
  }

  private async portDeleted(net: NetModel): Promise<void> {
    const mac = this.pick([...net.ports].sort());
    const from = this.now();
    const r = await this.withAim(0.08, net.name, ["port-deleted"], () =>
      runHook(net.name, "port-deleted", "begin", this.portDoc(net, mac)),
    );
    this.report.events += 1;
    const killed = this.killedSince(from, net.name, ["port-deleted"]).length > 0;
    const agent = this.agentNote(from, net.name, ["port-deleted"]);
    net.ports.delete(mac); // libvirt removes the port whatever its hook answers
    let outcome: string;
    if (r.exitCode === 0) outcome = `ok${agent}`;
    else if (killed) {
      outcome = "killed";
      net.maybe.add(mac);
    } else {
      outcome = "failed";
      net.maybe.add(mac);
      this.violation(
        `port-deleted ${mac} on ${net.name} failed (exit ${r.exitCode}${agent}): ${oneLine(r.stderr)}`,
        net,
      );
    }
    bump(this.report.outcomes, `port-deleted ${outcome}`);
    this.note(net, `port-deleted ${mac} ${outcome}`);
    this.log(`#${this.report.events} port-deleted ${net.name} ${mac}: ${outcome}`);
  }

  // ---------------------------------------------------------------- concurrent loops

  private startLoops(): void {
    this.loopsStop = false;
    const seed = this.o.seed + this.report.quietPoints * 7919;
    this.loops = [this.reconcileLoop(rng(seed + 1)), this.forwardLoop(rng(seed + 2)), this.killLoop(rng(seed + 3))];
  }

  private async stopLoops(): Promise<void> {
    this.loopsStop = true;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async cli(args: string[]): Promise<ShResult> {
    return sh(process.execPath, [CLI, ...args], { env: { VNAT_CONFIG: this.fleet.cfg }, timeoutMs: 300_000 });
  }

  private backgroundOutcome(what: string, r: ShResult): void {
    const how = r.exitCode === 137 || r.exitCode === -1 ? "killed" : `exit ${r.exitCode}`;
    bump(this.report.background, `${what} ${how}`);
  }

  private async reconcileLoop(r: () => number): Promise<void> {
    while (!this.loopsStop) {
      await sleep(Math.floor(r() * 400));
      if (this.loopsStop) break;
      const res = await this.cli(["reconcile", "--quiet", ...this.names]);
      this.backgroundOutcome("reconcile", res);
    }
  }

  private async forwardLoop(r: () => number): Promise<void> {
    while (!this.loopsStop) {
      await sleep(Math.floor(r() * 400));
      if (this.loopsStop) break;
      const net = this.nets[Math.floor(r() * this.nets.length)]!;
      const port = 8000 + Math.floor(r() * 12);
      if (net.forwards.has(port) || (net.forwards.size >= 6 && r() < 0.7)) {
        const victim = net.forwards.has(port) ? port : [...net.forwards][0]!;
        const res = await this.cli(["forward", "remove", net.name, "tcp", String(victim)]);
        if (res.exitCode === 0 || /no forward|not found|unknown/i.test(res.stderr)) net.forwards.delete(victim);
        this.backgroundOutcome("forward remove", res);
      } else {
        const res = await this.cli([
          "forward",
          "add",
          net.name,
          "tcp",
          String(port),
          `10.0.0.${50 + (port - 8000)}:80`,
        ]);
        if (res.exitCode === 0 || /already/i.test(res.stderr)) net.forwards.add(port);
        this.backgroundOutcome("forward add", res);
      }
    }
  }

  private async killLoop(r: () => number): Promise<void> {
    while (!this.loopsStop) {
      await sleep(400 + Math.floor(r() * 1600));
      if (this.loopsStop) break;
      // a hook (or the agent serving one) when one runs; a reconcile or forward only now and
      // then, so that most of them get to finish their work
      const all = vnatProcs(this.names);
      const hooks = all.filter((p) => p.kind === "hook" || p.kind === "agent");
      const procs = hooks.length ? hooks : r() < 0.35 ? all : [];
      if (!procs.length) continue;
      const p = procs[Math.floor(r() * procs.length)]!;
      if (killIfSame(p)) this.recordKill(p, "random");
    }
  }

  // ---------------------------------------------------------------- quiet points

  private async quietPoint(last = false): Promise<void> {
    await this.stopLoops();
    this.report.quietPoints++;
    const label = this.current;
    this.current = `quiet point ${this.report.quietPoints}`;
    const t = performance.now();
    let rec = await this.cli(["reconcile", "--quiet", ...this.names]);
    for (let i = 0; i < 3 && rec.exitCode !== 0 && LIBVIRT_DOWN.test(rec.stdout + rec.stderr); i++) {
      await this.waitLibvirt();
      rec = await this.cli(["reconcile", "--quiet", ...this.names]);
    }
    if (rec.exitCode !== 0)
      this.violation(`the quiet point's vnat reconcile exit ${rec.exitCode}: ${oneLine(rec.stdout + rec.stderr)}`);
    const bad = await this.check();
    for (const [what, net] of bad) this.violation(what, net);
    this.log(
      `-- quiet point ${this.report.quietPoints} after ${this.report.events} events (${label}): ${this.nets.map((n) => `${n.name} ${n.active ? "active" : "inactive"}`).join(", ")}; ${bad.length} violation(s), ${Math.round(performance.now() - t)} ms`,
    );
    if (!last) this.startLoops();
  }

  /** Every invariant of a quiet point, as [what is wrong, network]. */
  private async check(): Promise<Array<[string, NetModel | undefined]>> {
    const bad: Array<[string, NetModel | undefined]> = [];
    const active = await this.libvirtActive();
    let st = await this.cli(["status", ...this.names, "--json"]);
    for (let i = 0; i < 3 && LIBVIRT_DOWN.test(st.stderr); i++) {
      await this.waitLibvirt();
      st = await this.cli(["status", ...this.names, "--json"]);
    }
    let docs: NetworkDoc[] | undefined;
    try {
      docs = (JSON.parse(st.stdout) as StatusDoc).networks;
    } catch {
      // the checks that need its verdict are skipped (one violation, not one per network)
      bad.push([`vnat status --json (exit ${st.exitCode}) printed no document: ${oneLine(st.stderr)}`, undefined]);
    }
    const claims = this.claims();
    for (const net of this.nets) {
      const isActive = active.has(net.name);
      if (isActive !== net.active) {
        bad.push([`libvirt lists ${net.name} ${isActive ? "active" : "inactive"}, the model did not`, net]);
        net.active = isActive;
      }
      const doc = docs?.find((d) => d.name === net.name);
      const held = claims.get(net.name) ?? [];
      const dnsmasqs = dnsmasqsOf(net.name);
      if (dnsmasqs.length > 1) bad.push([`${net.name}: ${dnsmasqs.length} dnsmasq (${dnsmasqs.join(" ")})`, net]);
      if (net.active) {
        if (docs && doc?.health !== "healthy")
          bad.push([
            `${net.name} active but ${doc?.health ?? "not in status"}: ${(doc?.reasons ?? []).map((x) => x.message).join("; ")}`,
            net,
          ]);
        const wan = await wanAddresses(kernelNames(net.name).netns);
        if (!wan.includes(`${net.uplink}/24`))
          bad.push([`${net.name}: wan0 holds ${wan.join(",") || "nothing"}, not its uplink ${net.uplink}/24`, net]);
        if (held.length !== 1 || held[0] !== net.uplink)
          bad.push([`${net.name}: claims ${held.join(",") || "nothing"}, expected ${net.uplink}`, net]);
        if (doc) {
          const guests = new Set(doc.guests.map((g) => g.mac ?? "?"));
          for (const mac of net.ports)
            if (!guests.has(mac)) bad.push([`${net.name}: guest port ${mac} accepted but not listed by vnat`, net]);
          for (const mac of guests)
            if (!net.ports.has(mac) && !net.maybe.has(mac))
              bad.push([`${net.name}: vnat lists guest port ${mac} that libvirt never created or has deleted`, net]);
          // what vnat lists now is the truth the next events start from
          net.maybe = new Set([...guests].filter((m) => !net.ports.has(m)));
        }
      } else {
        if (doc && doc.health !== "stopped")
          bad.push([`${net.name} inactive but ${doc.health}: ${doc.reasons.map((x) => x.message).join("; ")}`, net]);
        const left = [...new Set([...(await netDebris(net.name)), ...vnatDebris(net.name)])];
        if (left.length) bad.push([`${net.name} inactive but left: ${left.join(", ")}`, net]);
        if (held.length) bad.push([`${net.name} inactive but claims ${held.join(",")}`, net]);
        // libvirt keeps the bridge of a failed start; vnat must know, or the next start fails
        if (existsSync(`/sys/class/net/${net.bridge}`) && !existsSync(begunFile(net.name)))
          bad.push([
            `${net.name} inactive, libvirt kept its bridge ${net.bridge}, and vnat has no ${net.name}.begun to remove it at the next start`,
            net,
          ]);
      }
    }
    const uplinks = this.nets.filter((n) => n.active).map((n) => n.uplink);
    if (new Set(uplinks).size !== uplinks.length)
      bad.push([`an uplink is used twice: ${uplinks.join(" ")}`, undefined]);
    for (const [owner, ips] of claims)
      if (ips.length > 1) bad.push([`${owner} holds ${ips.length} claims: ${ips.join(" ")}`, undefined]);
    return bad;
  }

  /** /run/vnat/claims on the world's provider bridge: owner → addresses. */
  private claims(): Map<string, string[]> {
    const dir = "/run/vnat/claims";
    const prefix = `${this.fleet.world.providerBridge}@`;
    const out = new Map<string, string[]>();
    for (const c of existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)) : []) {
      let owner = "";
      try {
        owner = readFileSync(join(dir, c), "utf8").trim();
      } catch {
        continue;
      }
      out.set(owner, [...(out.get(owner) ?? []), c.slice(prefix.length)]);
    }
    return out;
  }

  /**
   * After the last quiet point: a network libvirt kept the bridge of is started once (vnat
   * removes the bridge at `start begin`; a failure is a violation), then every network is
   * destroyed and must leave nothing, its bridge included.
   */
  private async finish(): Promise<void> {
    this.current = "finish";
    for (const net of this.nets) {
      if (net.active || !existsSync(`/sys/class/net/${net.bridge}`)) continue;
      const r = await virsh(["net-start", net.name], { timeoutMs: 300_000 });
      this.log(`finish: ${net.name} inactive with libvirt's kept bridge ${net.bridge}: net-start exit ${r.exitCode}`);
      if (r.exitCode !== 0)
        this.violation(
          `finish: net-start ${net.name} (libvirt kept bridge ${net.bridge}) failed: ${oneLine(r.stderr)}`,
          net,
        );
      else net.active = true;
    }
    for (const net of this.nets) {
      if (!net.active) continue;
      const r = await virsh(["net-destroy", net.name], { timeoutMs: 300_000 });
      if (r.exitCode !== 0) this.violation(`finish: net-destroy ${net.name}: ${oneLine(r.stderr)}`, net);
      net.active = false;
    }
    for (const net of this.nets) {
      const left = [...new Set([...(await netDebris(net.name, net.bridge)), ...vnatDebris(net.name)])];
      if (left.length) {
        this.violation(`finish: ${net.name} destroyed but left: ${left.join(", ")}`, net);
        await removeKeptBridge(net.bridge);
      }
    }
  }
}

/**
 * The resident agent of this checkout's bundle (src/hook/agent.ts) as the run leaves it: a
 * note when its socket is there but the process its pid file names is gone (the shell hook
 * then runs Node itself for every event, and no hook starts another agent while the socket
 * file is there); undefined when an agent runs or none was ever started.
 */
function agentState(): string | undefined {
  let id = "";
  try {
    id = readFileSync(join(REPO, "dist/build-id"), "utf8").trim();
  } catch {
    return undefined;
  }
  const sock = `/run/vnat/agent/${id}.sock`;
  if (!existsSync(sock)) return undefined;
  let pid = 0;
  try {
    pid = Number(readFileSync(`/run/vnat/agent/${id}.pid`, "utf8").trim().split(" ")[0]);
  } catch {
    /* no pid file */
  }
  if (pid > 1 && existsSync(`/proc/${pid}`)) return undefined;
  return `the hook's agent of build ${id.slice(0, 12)} is dead (pid ${pid || "?"}) but its socket ${sock} is still there: every hook event since ran a cold Node, and no hook started a new agent`;
}

/** virsh's words when libvirtd is not there (restarted by another test on this host) */
const LIBVIRT_DOWN =
  /failed to connect to the hypervisor|libvirt-sock|End of file while reading data|Cannot recv data|client socket is closed/i;

function waitLibvirt(timeoutMs = 120_000): Promise<boolean> {
  return waitFor(async () => (await virshRaw(["version"])).exitCode === 0, timeoutMs, "libvirtd to answer", 500);
}

/** A bridge libvirt kept for a network of this run that vnat did not remove: deleted when it has no ports. */
async function removeKeptBridge(bridge: string): Promise<boolean> {
  if (!existsSync(`/sys/class/net/${bridge}/bridge`)) return false;
  if (readdirSync(`/sys/class/net/${bridge}/brif`).length > 0) return false;
  return (await sh("ip", ["link", "del", "dev", bridge])).exitCode === 0;
}

const uuidOf = (mac: string): string => {
  const h = mac.replace(/:/g, "");
  return `fa2e0000-0000-4000-8000-${h}`;
};

function randomMac(r: () => number): string {
  const b = Array.from({ length: 3 }, () =>
    Math.floor(r() * 256)
      .toString(16)
      .padStart(2, "0"),
  );
  return `52:54:00:${b.join(":")}`;
}

async function wanAddresses(netns: string): Promise<string[]> {
  const r = await sh("ip", ["-n", netns, "-j", "addr", "show", "dev", "wan0"]);
  if (r.exitCode !== 0) return [];
  try {
    const [l] = JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
    return (l?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  } catch {
    return [];
  }
}

function dnsmasqsOf(name: string): number[] {
  // daemons only: a network with DHCP also has dnsmasq's lease-script helper
  return pidsOf("dnsmasq").filter((pid) => {
    if (isDnsmasqHelper(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`--pid-file=/run/vnat/net/${name}/`);
    } catch {
      return false;
    }
  });
}

/**
 * One fuzz run: opens a fleet (daemons, bundles, hook, sandbox world, provider pool),
 * creates the networks, fires the events, checks every quiet point, and closes the fleet
 * whatever happened (what it left is reported, and counts as a violation).
 */
export async function run(o: FuzzOptions): Promise<FuzzReport> {
  const count = o.networks ?? 3;
  const fleet = await Fleet.open();
  let fuzz: Fuzz | undefined;
  let failure: unknown;
  try {
    const nets: FleetNet[] = [];
    o.onNetworks?.(Array.from({ length: count }, (_, i) => `vnf-${fleet.tag}-${i}`));
    for (let i = 0; i < count; i++) nets.push(await fleet.create(`vnf-${fleet.tag}-${i}`, { uplink: "auto" }));
    // one plain start and stop first: a host where libvirt cannot start these networks at
    // all (the hook refuses them) is a setup problem, said once, not a thousand violations
    const probe = await virsh(["net-start", nets[0]!.name], { timeoutMs: 300_000 });
    if (probe.exitCode !== 0)
      throw new Error(`fuzz setup: virsh net-start ${nets[0]!.name} fails before any event: ${oneLine(probe.stderr)}`);
    const stop = await virsh(["net-destroy", nets[0]!.name], { timeoutMs: 300_000 });
    if (stop.exitCode !== 0) throw new Error(`fuzz setup: virsh net-destroy ${nets[0]!.name}: ${oneLine(stop.stderr)}`);
    fuzz = new Fuzz(fleet, nets, o);
    await fuzz.run();
  } catch (e) {
    failure = e;
    // a run that broke off did not finish: bridges libvirt kept for its networks go while
    // they are still defined (afterwards their names may be another network's)
    await waitLibvirt().catch(() => {});
    for (const n of fleet.nets.values()) {
      const st = await virshRaw(["net-info", n.name]);
      if (/^Active:\s+no/m.test(st.stdout)) await removeKeptBridge(n.bridge);
    }
  }
  await waitLibvirt().catch(() => {});
  const bridges = new Map([...fleet.nets.values()].map((n) => [n.bridge, n.name]));
  // bridge names are vnat's (vnatbrN): once a network of this run is undefined, another
  // network on this host (another test's) may be given its bridge name and create it
  const leftovers = await notReused(await fleet.close(), bridges);
  // every killed `started` made libvirt keep 11 firewall rules for its bridge: the host's firewall as it was
  const rules = await removeLibvirtKeptRules(bridges.keys());
  if (rules) o.log?.(`removed ${rules} firewall rule(s) libvirt kept for this run's bridges`);
  if (failure) {
    if (leftovers.length) o.log?.(`cleanup after the failure left: ${leftovers.join("; ")}`);
    throw failure;
  }
  const report = fuzz!.report;
  report.leftovers = leftovers;
  for (const l of leftovers) report.violations.push(`cleanup left: ${l}`);
  return report;
}

/** LEFTOVERS without "link BRIDGE" of a bridge another defined libvirt network now names as its own. */
async function notReused(leftovers: string[], bridges: Map<string, string>): Promise<string[]> {
  const out: string[] = [];
  for (const l of leftovers) {
    const bridge = /^link (\S+)$/.exec(l)?.[1];
    if (bridge === undefined || !bridges.has(bridge)) {
      out.push(l);
      continue;
    }
    const names = (await virshRaw(["net-list", "--all", "--name"])).stdout.split("\n").map((s) => s.trim());
    let owner: string | undefined;
    for (const n of names.filter(Boolean)) {
      const xml = (await virshRaw(["net-dumpxml", n])).stdout;
      if (xml.includes(`<bridge name='${bridge}'`)) owner = n;
    }
    if (owner === undefined) out.push(l);
  }
  return out;
}

/** The report's figures as one line. */
export function summary(r: FuzzReport): string {
  const fmt = (m: Record<string, number>): string =>
    Object.entries(m)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none";
  return [
    `fuzz: seed ${r.seed}, ${r.events} events (${r.steps} steps) over ${r.networks.length} networks, ${r.kills} kills, ${r.quietPoints} quiet points, ${r.violations.length} violations, ${(r.ms / 1000).toFixed(1)} s`,
    `  outcomes: ${fmt(r.outcomes)}`,
    `  kills: ${fmt(r.killsBy)}`,
    `  background: ${fmt(r.background)}`,
    ...r.notes.map((n) => `  note: ${n}`),
  ].join("\n");
}
