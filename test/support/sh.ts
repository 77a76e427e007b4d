// Command helpers shared by the integration tests. Commands always run from argument
// arrays (never a shell string), so no test can be tricked into running anything by a
// name or an address it was handed.
import { execa } from "execa";

export interface ShResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ShOptions {
  /** throw when the command fails (non-zero exit, signal, timeout); default false */
  check?: boolean;
  input?: string;
  timeoutMs?: number;
  /** extra environment variables, on top of this process's environment */
  env?: Record<string, string>;
}

/** Runs cmd with args and returns its output; throws only on a failure when `check` is set. */
export async function sh(cmd: string, args: readonly string[], opts: ShOptions = {}): Promise<ShResult> {
  const r = await execa(cmd, args, {
    reject: false,
    stripFinalNewline: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: "ignore" as const }),
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
  });
  // execa reports a missing binary, a signal or a timeout with exitCode undefined.
  const exitCode = r.exitCode ?? (r.failed ? -1 : 0);
  const result = { stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? ""), exitCode };
  if (opts.check === true && (r.failed || exitCode !== 0)) {
    const why = r.timedOut
      ? `timed out after ${opts.timeoutMs} ms`
      : r.signal
        ? `killed by ${r.signal}`
        : `exit ${exitCode}`;
    const detail = (result.stderr.trim() || result.stdout.trim() || r.originalMessage || "")
      .split("\n")
      .slice(-3)
      .join(" | ");
    throw new Error(`${[cmd, ...args].join(" ")}: ${why}${detail ? `: ${detail}` : ""}`);
  }
  return result;
}

/** Same as sh() but throws on failure: for steps that must succeed. */
export function run(cmd: string, args: readonly string[], opts: Omit<ShOptions, "check"> = {}): Promise<ShResult> {
  return sh(cmd, args, { ...opts, check: true });
}

/**
 * Runs a command inside network namespace `ns` (`ip netns exec`). The caller must have
 * created /etc/netns/NS/resolv.conf first: world.ts does so for every namespace it makes.
 */
export function nsExec(ns: string, cmd: string, args: readonly string[], opts: ShOptions = {}): Promise<ShResult> {
  return sh("ip", ["netns", "exec", ns, cmd, ...args], opts);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` until it returns a truthy value and returns that value; throws
 * "timed out after N ms waiting for WHAT" (with the last error, if the predicate threw).
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  timeoutMs: number,
  what: string,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `: last error: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}
