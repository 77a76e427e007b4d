// vnat's hook daemon ("hookd"): one resident Node process that answers libvirt's network
// hook for vnat networks in a few milliseconds, where a fresh Node needs ~100 ms just to
// start, twice per `virsh net-start`. hooks/network (sh) hands it each event through FIFOs
// and runs the bundle itself whenever no daemon answers, so the daemon is an accelerator,
// never a dependency. The script starts it on demand; it runs the bundle it was started
// from, and exits when that file changes or goes (an upgrade, a rebuild, an uninstall),
// on SIGTERM, or after IDLE_MS without events.
//
// Files, in DIR = RUN/hookd (0700, root's only):
//   lock           pid of the one daemon (created O_EXCL; a stale one is taken over)
//   pid            "PID STARTTIME" of the daemon, written once requests.PID is open: the script's cue
//   requests.PID   FIFO: one line per event, the requester's id (the script's own pid)
//   req.ID.in      written by the requester: its own path ($0), NAME, OP, SUBOP on four
//                  lines, then hookData
//   req.ID         FIFO the requester holds open: ONE reply line, "0" (success), "stale"
//                  (run the bundle yourself), "other" (a script of another vnat installation:
//                  run your own bundle, and start no daemon) or "CODE message" (exit CODE,
//                  message to stderr)
//
// Besides answering, the daemon builds a network's namespace at `start begin` while libvirt
// makes the bridge (prepareNetwork), so `started` only attaches the LAN veth to it.
// Measured (bench/libvirt.ts): `virsh net-start` of a vnat network 217 ms through a fresh
// Node per event, against 80 ms for the same network without vnat.
import {
  closeSync,
  existsSync,
  realpathSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { Socket } from "node:net";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { oneLine, VnatError } from "../core/errors.ts";
import { mentionsVnat, parseHookData } from "../core/hookdata.ts";
import { buildSpec, type NetSpec } from "../core/spec.ts";
import type { Roots } from "../core/paths.ts";
import { loadConfig } from "../adapters/config-file.ts";
import { openLog } from "../adapters/log.ts";
import { roots as defaultRoots } from "../adapters/roots.ts";
import { readState } from "../adapters/state.ts";
import { prepareNetwork, type PreparedNetwork } from "../exec/apply.ts";
import { processRunner } from "../exec/run.ts";
import { teardownNetwork } from "../exec/teardown.ts";
import { parseArgv, type HookCall } from "./event.ts";
import { handle } from "./handlers.ts";

const IDLE_MS = 30 * 60_000;
/** a namespace prepared at `start begin` whose `started` never comes is undone after this */
const PREPARED_TTL_MS = 60_000;
/** after it stops taking requests, the daemon still answers "stale" this long (a requester may have just read its pid) */
const GRACE_MS = 2_000;

interface Prepared {
  specJson: string;
  /** resolves to the prepared network, or rejects with the error that undid it */
  ready: Promise<PreparedNetwork>;
  timer: NodeJS.Timeout;
}

export function hookdDir(r: Roots): string {
  return `${r.run}/hookd`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function isHookd(pid: number): boolean {
  try {
    return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--hookd");
  } catch {
    return false;
  }
}

const readPid = (path: string): number => Number.parseInt(readFileSync(path, "utf8").trim(), 10);

/** The lock makes this the only daemon; false when another one runs. A stale lock is taken over by rename, and the winner re-read. */
async function takeLock(lock: string): Promise<boolean> {
  try {
    writeFileSync(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  let holder = Number.NaN;
  try {
    holder = readPid(lock);
  } catch {
    /* vanished or torn: stale */
  }
  if (isHookd(holder)) return false;
  writeFileSync(`${lock}.${process.pid}`, `${process.pid}\n`, { mode: 0o600 });
  renameSync(`${lock}.${process.pid}`, lock);
  // two daemons taking over at once: the last rename wins, the other sees it here
  await new Promise((r) => setTimeout(r, 50));
  return readPid(lock) === process.pid;
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* gone already */
  }
}

/** Writes the one reply line; a requester that has gone (killed) makes this a no-op. */
function reply(fd: number | undefined, line: string): void {
  if (fd === undefined) return;
  try {
    writeSync(fd, `${line.replace(/\n/g, " ")}\n`);
  } catch {
    /* the requester is gone: libvirt already has its answer */
  } finally {
    closeSync(fd);
  }
}

export async function runHookd(bundle: string): Promise<number> {
  // it outlives the requester that started it: hold no directory of theirs
  process.chdir("/");
  const r = defaultRoots();
  const dir = hookdDir(r);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = `${dir}/lock`;
  // a daemon being replaced (its bundle changed) holds the lock until it has drained: wait for it
  let locked = await takeLock(lock);
  for (let i = 0; !locked && i < 50; i++) {
    await new Promise((res) => setTimeout(res, 200));
    if (existsSync(`${dir}/pid`)) return 0; // a serving daemon: nothing for this one to do
    locked = await takeLock(lock);
  }
  if (!locked) return 0;
  const log = await openLog(r.log, "hook");
  const fifo = `${dir}/requests.${process.pid}`;
  const identity = (): string => {
    try {
      const s = statSync(bundle);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return "gone";
    }
  };
  const myIdentity = identity();
  unlinkQuiet(fifo); // a crashed daemon's, under a recycled pid
  const mk = await processRunner.run("mkfifo", ["-m", "600", fifo]);
  if (mk.exitCode !== 0) {
    unlinkQuiet(lock);
    throw new VnatError("internal", `hookd: mkfifo ${fifo}: ${mk.stderr.trim()}`);
  }
  // O_RDWR: never EOF when a requester closes, and opening never blocks
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const requests = new Socket({ fd, readable: true, writable: false });
  const d = new Daemon(r, dir, log, realpathSync(bundle));
  // "PID STARTTIME": the script checks the start time (field 22 of /proc/PID/stat), so a
  // recycled pid after a crash is never taken for the daemon
  const stat = readFileSync("/proc/self/stat", "utf8");
  const startTime = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  writeFileSync(`${dir}/pid.${process.pid}`, `${process.pid} ${startTime}\n`, { mode: 0o600 });
  renameSync(`${dir}/pid.${process.pid}`, `${dir}/pid`);
  log.info({ pid: process.pid, bundle }, "hookd started");

  return new Promise<number>((resolve) => {
    let stopping = false;
    let buffered = "";
    const stop = (why: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ pid: process.pid, why }, "hookd stopping");
      // 1. no new requester finds us; 2. late ones still get "stale" for a moment;
      // 3. prepared namespaces are finished or undone; 4. our files go
      try {
        if (readPid(`${dir}/pid`) === process.pid) unlinkQuiet(`${dir}/pid`);
      } catch {
        /* no pid file */
      }
      setTimeout(() => {
        requests.destroy();
        unlinkQuiet(fifo);
        void d.drain().then(() => {
          try {
            if (readPid(lock) === process.pid) unlinkQuiet(lock);
          } catch {
            /* no lock */
          }
          log.info({ pid: process.pid }, "hookd exited");
          resolve(0);
        });
      }, GRACE_MS);
    };
    requests.setEncoding("utf8");
    requests.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const id = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!/^\d{1,10}$/.test(id)) continue;
        if (stopping || identity() !== myIdentity) {
          d.refuse(id);
          stop("bundle changed");
          continue;
        }
        d.accept(id);
      }
    });
    requests.on("error", (e) => {
      log.error({ err: e }, "hookd: request FIFO failed");
      stop("request FIFO failed");
    });
    process.on("SIGTERM", () => stop("SIGTERM"));
    const idle = setInterval(() => {
      if (identity() !== myIdentity) stop("bundle changed");
      else if (d.idleFor() > IDLE_MS) stop("idle");
    }, 10_000);
    idle.unref();
  });
}

class Daemon {
  /** the last event of each network: events of one network run one after another */
  private readonly queue = new Map<string, Promise<void>>();
  private readonly prepared = new Map<string, Prepared>();
  private lastEvent = Date.now();
  private inFlight = 0;

  constructor(
    private readonly roots: Roots,
    private readonly dir: string,
    private readonly log: Logger,
    /** real path of the bundle this daemon runs */
    private readonly bundle: string,
  ) {}

  idleFor(): number {
    return this.inFlight > 0 || this.prepared.size > 0 ? 0 : Date.now() - this.lastEvent;
  }

  /** Opens the requester's reply FIFO (undefined when it has gone) and removes both request files. */
  private open(id: string): { fd: number | undefined; input: string | undefined } {
    const base = `${this.dir}/req.${id}`;
    let fd: number | undefined;
    try {
      fd = openSync(base, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch {
      /* ENXIO: nobody reads, the requester is gone; ENOENT: no such request */
    }
    let input: string | undefined;
    try {
      input = readFileSync(`${base}.in`, "utf8");
    } catch {
      /* no input */
    }
    unlinkQuiet(base);
    unlinkQuiet(`${base}.in`);
    return { fd, input };
  }

  /** Whether the hook script at SELF runs this daemon's bundle (hooks/network's own search: ../dist/hook.js, or the installed one). */
  private serves(self: string): boolean {
    try {
      const dir = dirname(realpathSync(self));
      const found = [`${dir}/../dist/hook.js`, "/usr/local/lib/vnat/dist/hook.js"].find((b) => existsSync(b));
      return found !== undefined && realpathSync(found) === this.bundle;
    } catch {
      return false;
    }
  }

  refuse(id: string): void {
    reply(this.open(id).fd, "stale");
  }

  accept(id: string): void {
    this.lastEvent = Date.now();
    const { fd, input } = this.open(id);
    // a requester that is already gone (libvirt killed it) gets nothing done for it
    if (fd === undefined) return;
    if (input === undefined) return reply(fd, "stale");
    const [self = "", name = "", op = "", subop = "", ...rest] = input.split("\n");
    if (!this.serves(self)) return reply(fd, "other");
    const stdin = rest.join("\n");
    let call: HookCall;
    try {
      call = parseArgv([name, op, subop]);
    } catch (e) {
      return reply(fd, `${e instanceof VnatError ? e.exitCode : 1} ${oneLine(e)}`);
    }
    if (call.event === "other" || call.event === "updated" || !mentionsVnat(stdin)) return reply(fd, "0");
    this.inFlight++;
    const prev = this.queue.get(call.name) ?? Promise.resolve();
    const next = prev
      .then(() => this.event(call, stdin))
      .then(
        () => reply(fd, "0"),
        (e: unknown) => {
          this.log.error({ network: call.name, op: call.op, subop: call.subop, err: e, hookd: true }, "hook failed");
          reply(fd, `${e instanceof VnatError ? e.exitCode : 1} ${oneLine(e)}`);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.lastEvent = Date.now();
        if (this.queue.get(call.name) === next) this.queue.delete(call.name);
      });
    this.queue.set(call.name, next);
  }

  private env() {
    return { runner: processRunner, roots: this.roots, log: this.log };
  }

  private async event(call: HookCall, stdin: string): Promise<void> {
    const data = parseHookData(stdin);
    const pending = this.prepared.get(call.name);
    switch (call.event) {
      case "start-begin": {
        if (pending) await this.discard(call.name, pending);
        await handle(call, data, this.env());
        // validated: build what does not need the bridge while libvirt makes it (not awaited:
        // libvirt is waiting for this reply)
        const spec = buildSpec(data.network, await loadConfig(this.roots.config));
        this.prepare(spec);
        return;
      }
      case "started-begin": {
        if (pending) {
          this.prepared.delete(call.name);
          clearTimeout(pending.timer);
          const spec = buildSpec(data.network, await loadConfig(this.roots.config));
          if (call.name === data.network.name && JSON.stringify(spec) === pending.specJson) {
            const t0 = performance.now();
            const p = await pending.ready; // a failed prepare rejects here, everything undone
            await p.finish();
            this.log.info(
              { network: spec.name, ms: Math.round(performance.now() - t0), hookd: true },
              "namespace started",
            );
            return;
          }
          // the network changed between start and started: build it afresh
          await this.discardReady(call.name, pending);
        }
        return handle(call, data, this.env());
      }
      case "stopped-end":
        if (pending) await this.discard(call.name, pending);
        return handle(call, data, this.env());
      default:
        return handle(call, data, this.env());
    }
  }

  private prepare(spec: NetSpec): void {
    const ctx = { runner: processRunner, roots: this.roots };
    const build = async (): Promise<PreparedNetwork> => {
      // converge first, as `started` does: a crash or a lost `stopped` may have left vnat objects
      if (await readState(this.roots, spec.name)) {
        const errors = await teardownNetwork(processRunner, this.roots, spec.name);
        if (errors.length) this.log.warn({ network: spec.name, errors }, "leftovers not fully removed");
      }
      const p = await prepareNetwork(ctx, spec);
      // libvirt makes the bridge early in its start, then adds its own rules: attach as soon
      // as it is there, so `started` finds the namespace complete (finish() attaches otherwise)
      this.whenBridge(spec, entry)
        .then((there) => (there ? p.attach() : undefined))
        .catch(() => undefined); // an attach that failed undid everything; finish() reports it
      return p;
    };
    const entry: Prepared = {
      specJson: JSON.stringify(spec),
      ready: build(), // runs up to its first await now; `entry` is used only after that
      timer: setTimeout(() => {
        if (this.prepared.get(spec.name) !== entry) return;
        this.prepared.delete(spec.name);
        this.log.warn({ network: spec.name }, "no `started` after `start begin`: undoing the prepared namespace");
        void this.discardReady(spec.name, entry);
      }, PREPARED_TTL_MS),
    };
    entry.ready.catch(() => undefined); // reported at `started`
    this.prepared.set(spec.name, entry);
  }

  /** Resolves true once network SPEC's LAN bridge exists, false when its prepared entry is gone first. */
  private async whenBridge(spec: NetSpec, entry: Prepared): Promise<boolean> {
    const deadline = Date.now() + PREPARED_TTL_MS;
    while (Date.now() < deadline && this.prepared.get(spec.name) === entry) {
      if (existsSync(`/sys/class/net/${spec.lanBridge}/bridge`)) return true;
      await new Promise((r) => setTimeout(r, 2));
    }
    return false;
  }

  private async discard(name: string, p: Prepared): Promise<void> {
    this.prepared.delete(name);
    clearTimeout(p.timer);
    await this.discardReady(name, p);
  }

  /** Undoes a prepared namespace, unless it has become live meanwhile (then it is not ours to undo). */
  private async discardReady(name: string, p: Prepared): Promise<void> {
    try {
      const prepared = await p.ready;
      if ((await readState(this.roots, name))?.phase === "active") return;
      const errors = await prepared.abort();
      if (errors.length) this.log.warn({ network: name, errors }, "prepared namespace not fully undone");
    } catch {
      /* the prepare failed and undid itself */
    }
  }

  /**
   * Waits for every event in flight. A namespace still prepared is left as it is: its
   * `started` now goes to the next daemon or to the bundle itself, which converge from
   * vnat's leftovers (as after a crash); undoing it here by name could race with them.
   */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.queue.values()]);
    await Promise.allSettled([...this.prepared.values()].map((p) => p.ready));
    for (const p of this.prepared.values()) clearTimeout(p.timer);
  }
}
