// The only code that starts processes. Always an argument array, never a shell string.
import { spawn } from "node:child_process";

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/**
 * Runs a command and collects its output; never throws for a non-zero exit (callers
 * decide what a failure means). Plain child_process rather than execa here: the hook
 * starts on every libvirt event and this keeps its bundle and start-up small.
 */
export const processRunner: Runner = {
  run(cmd, args, opts = {}) {
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.on("error", (e) => {
        if (timer) clearTimeout(timer);
        resolve({ exitCode: 127, stdout: "", stderr: `${cmd}: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({
          exitCode: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString(),
          stderr: Buffer.concat(err).toString() + (signal ? `${cmd}: killed by ${signal}` : ""),
        });
      });
      child.stdin.on("error", () => {});
      child.stdin.end(opts.input ?? "");
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
