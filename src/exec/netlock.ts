// One lock per network, held by the kernel: every event of a network (each hook call, a
// live edit from the CLI, a repair by reconcile) runs while holding it, so two of them
// never overlap, and a holder that dies (SIGKILL and the OOM killer included) loses it at
// that instant: no pid file, no age, no grace period decides who is alive.
//
// Node has no flock(2). The lock file is opened here (libuv opens every file O_CLOEXEC, so
// no child vnat starts ever inherits it) and handed to flock(1) as fd 3: flock(2) locks
// belong to the open file description, which this process shares, so the lock stays held
// by this process after flock(1) exits and is released when this process closes the file
// or dies. Lock files are never removed (a waiter on an unlinked file would hold a lock
// nobody else sees); they live on /run and go at reboot.
//
// Beside each lock, NAME.seq holds "SEQ EVENT OUTCOME": SEQ grows by one with every event
// that finished under the lock. A reader that looked at the network without the lock
// (reconcile's probe) takes the lock and compares SEQ: if it moved, the network changed
// since it looked, and what it saw is no longer true.
import { readFileSync, statSync } from "node:fs";
import { mkdir, open, readdir, type FileHandle } from "node:fs/promises";
import { conflict } from "../core/errors.ts";
import { netLockPaths, type Roots } from "../core/paths.ts";
import { readIfExists, writeAtomic } from "../adapters/store/files.ts";
import { firstLine, NOT_STARTED, processRunner, type Runner } from "./run.ts";

export interface NetLock {
  /** the network's event count when the lock was taken */
  readonly seq: number;
  /** records that EVENT finished (OUTCOME, one word) under this lock: the sequence moves on */
  finish(event: string, outcome: string): Promise<void>;
  release(): Promise<void>;
}

export interface LockWait {
  /** wait for the lock (default), or return undefined at once when another process holds it */
  wait?: boolean;
  /** give up waiting after this many seconds (default 120): the holder is alive, but stuck */
  timeoutS?: number;
}

/** flock(1) on this process's file: 0 taken, 1 held by someone else (-n) or timed out (-w). */
export async function flockFd(fh: FileHandle, args: string[], runner: Runner = processRunner): Promise<number> {
  const r = await runner.run("flock", [...args, "3"], { fds: [fh.fd] });
  if (r.exitCode === 0 || r.exitCode === 1) return r.exitCode;
  if (r.exitCode === NOT_STARTED && /ENOENT/.test(r.stderr))
    throw new Error(`${firstLine(r.stderr)} (install util-linux)`);
  throw new Error(`flock: ${r.stderr.trim() ? firstLine(r.stderr) : `exit ${r.exitCode}`}`);
}

/** The network's event count and its last event ("0 none -" before the first one). */
export async function readSeq(roots: Roots, name: string): Promise<{ seq: number; event: string; outcome: string }> {
  const text = (await readIfExists(netLockPaths(roots, name).seq))?.trim() ?? "";
  const [seq, event, outcome] = text.split(" ");
  const n = Number(seq);
  return { seq: Number.isSafeInteger(n) && n >= 0 ? n : 0, event: event ?? "none", outcome: outcome ?? "-" };
}

/** Every network that ever had a lock on this host (since boot), with its event sequence. */
export async function readAllSeqs(roots: Roots): Promise<Map<string, number>> {
  const dir = netLockPaths(roots, "x").dir;
  const names = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => f.endsWith(".lock"))
    .map((f) => f.slice(0, -".lock".length));
  const seqs = await Promise.all(names.map((n) => readSeq(roots, n)));
  return new Map(names.map((n, i) => [n, seqs[i]!.seq]));
}

/** Takes NAME's lock; undefined when `wait: false` and another process holds it. */
export async function lockNetwork(roots: Roots, name: string, opts: LockWait = {}): Promise<NetLock | undefined> {
  const paths = netLockPaths(roots, name);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const fh = await open(paths.lock, "a", 0o600);
  const wait = opts.wait ?? true;
  const timeoutS = opts.timeoutS ?? 120;
  let code: number;
  try {
    code = await flockFd(fh, wait ? ["-x", "-w", String(timeoutS)] : ["-x", "-n"]);
  } catch (e) {
    await fh.close();
    throw e;
  }
  if (code !== 0) {
    await fh.close();
    if (!wait) return undefined;
    throw conflict(`network "${name}": another vnat process kept its lock ${paths.lock} for ${timeoutS} s`);
  }
  let { seq } = await readSeq(roots, name);
  let held = true;
  return {
    get seq() {
      return seq;
    },
    async finish(event, outcome) {
      if (!held) throw new Error(`network "${name}": lock released before "${event}" finished`);
      seq += 1;
      await writeAtomic(paths.seq, `${seq} ${event} ${outcome}\n`);
    },
    async release() {
      if (!held) return;
      held = false;
      await fh.close();
    },
  };
}

/** Runs FN holding NAME's lock; the lock is released however FN ends. */
export async function withNetworkLock<T>(
  roots: Roots,
  name: string,
  fn: (lock: NetLock) => Promise<T>,
  opts: Omit<LockWait, "wait"> = {},
): Promise<T> {
  const lock = (await lockNetwork(roots, name, { ...opts, wait: true }))!;
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}

/**
 * The flock(2) locks the kernel holds right now, as "MAJOR:MINOR:INODE" (hex device numbers,
 * as /proc/locks prints them): whether a network is busy, for many networks, without a process.
 */
export function heldFlocks(): Set<string> {
  const out = new Set<string>();
  let text = "";
  try {
    text = readFileSync("/proc/locks", "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; blocked waiters carry "->" and hold nothing
    if (f[1] === "FLOCK" && f[5] !== undefined) out.add(f[5]);
  }
  return out;
}

const hex2 = (n: number): string => n.toString(16).padStart(2, "0");

/** True while some live process holds NAME's lock (an event of it is being processed right now). */
export function networkBusy(roots: Roots, name: string, held: Set<string> = heldFlocks()): boolean {
  return flockHeld(netLockPaths(roots, name).lock, held);
}

/** True while some live process holds a flock on the file at PATH. */
export function flockHeld(path: string, held: Set<string> = heldFlocks()): boolean {
  let st;
  try {
    st = statSync(path);
  } catch {
    return false; // never locked
  }
  const major = Math.floor(st.dev / 256) & 0xfff;
  const minor = (st.dev & 0xff) | (Math.floor(st.dev / 4096) & 0xfff00);
  return held.has(`${hex2(major)}:${hex2(minor)}:${st.ino}`);
}
