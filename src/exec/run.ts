// The only code that starts or signals processes (lint keeps it so: eslint.config.js).
// Always an argument array, never a shell string. One error policy: nothing here throws
// for a command that fails or cannot start; callers decide what a failure means.
import { spawn, type StdioOptions } from "node:child_process";
import { constants } from "node:os";

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** open files handed to the command as fd 3, 4, … (e.g. a lock file for flock(1)) */
  fds?: readonly number[];
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/** Exit code of a command that could not be started (as a shell reports it). */
export const NOT_STARTED = 127;

/**
 * Runs a command and collects its output; never throws for a non-zero exit (callers
 * decide what a failure means). Plain child_process rather than execa here: the hook
 * starts on every libvirt event and this keeps its bundle and start-up small.
 */
export const processRunner: Runner = {
  run(cmd, args, opts = {}) {
    return new Promise((resolve) => {
      const stdio: StdioOptions = ["pipe", "pipe", "pipe", ...(opts.fds ?? [])];
      const child = spawn(cmd, args, { stdio, env: { ...process.env, LC_ALL: "C" } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
      child.stdout!.on("data", (b: Buffer) => out.push(b));
      child.stderr!.on("data", (b: Buffer) => err.push(b));
      child.on("error", (e) => {
        if (timer) clearTimeout(timer);
        resolve({ exitCode: NOT_STARTED, stdout: "", stderr: `${cmd}: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({
          exitCode: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString() + (signal ? `${cmd}: killed by ${signal}` : ""),
        });
      });
      child.stdin!.on("error", () => {});
      child.stdin!.end(opts.input ?? "");
    });
  },
};

/** The first non-empty line of a command's error output, for one-line messages. */
export function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? "no error output"
  );
}

/**
 * Starts a short-lived helper fully detached (own session, no stdio), so it never holds
 * the hook's pipes and libvirt never waits for it. Returns false when it cannot start.
 */
export function spawnDetached(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { detached: true, stdio: "ignore", ...opts });
    child.once("error", () => resolve(false));
    child.once("spawn", () => {
      child.unref();
      resolve(true);
    });
  });
}

/**
 * Sends SIG to PID (0: only checks that it exists). False when it could not be delivered
 * (the process is gone). Callers make sure PID is still the process they mean first
 * (its command line or start time), so a recycled pid is never hit.
 */
export function signal(pid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** How an attached command ended: its exit code (128 + N when signal N ended it), or why it never ran. */
export type AttachedResult = { exitCode: number } | { error: string };

/**
 * Runs a command on this process's own stdin, stdout and stderr (an interactive ssh works)
 * and resolves to how it ended. While it runs, this process ignores the terminal's SIGINT
 * and SIGQUIT (the command gets them itself and decides) and passes SIGTERM and SIGHUP on
 * to it. UMASK: the command's umask (a child starts with its parent's), default this process's.
 */
export function runAttached(
  cmd: string,
  args: readonly string[],
  opts: { umask?: number } = {},
): Promise<AttachedResult> {
  return new Promise((resolve) => {
    const mine = opts.umask === undefined ? undefined : process.umask(opts.umask);
    let child;
    try {
      child = spawn(cmd, args, { stdio: "inherit" });
    } finally {
      if (mine !== undefined) process.umask(mine);
    }
    const ignore = (): void => {};
    const pass = (s: NodeJS.Signals): void => {
      child.kill(s);
    };
    const handlers: Array<[NodeJS.Signals, (s: NodeJS.Signals) => void]> = [
      ["SIGINT", ignore],
      ["SIGQUIT", ignore],
      ["SIGTERM", pass],
      ["SIGHUP", pass],
    ];
    for (const [s, h] of handlers) process.on(s, h);
    const done = (): void => {
      for (const [s, h] of handlers) process.off(s, h);
    };
    child.on("error", (e) => {
      done();
      resolve({ error: e.message });
    });
    child.on("exit", (code, sig) => {
      done();
      resolve({ exitCode: code ?? 128 + (sig ? (constants.signals[sig] ?? 0) : 0) });
    });
  });
}
