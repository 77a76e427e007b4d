// Runs the hook the way libvirt does (argv, hookData on stdin, a bare environment) as a
// child this test can SIGKILL at a chosen moment, in its own process group so that the
// commands it had in flight can be killed with it, or left to finish as orphans.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sleep } from "./sh.ts";

export const HOOK_BUNDLE = fileURLToPath(new URL("../../dist/hook.js", import.meta.url));

export interface KilledRun {
  /** exit code when the hook finished before the kill, else null */
  exitCode: number | null;
  killed: boolean;
  stderr: string;
}

/** Process ids whose process group is PGID (a killed hook's orphans, until they end). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Resolves once WHEN holds (polled about every millisecond), or never. */
async function until(when: () => boolean, stop: Promise<unknown>): Promise<void> {
  let done = false;
  void stop.then(() => (done = true));
  while (!done && !when()) await new Promise((r) => setImmediate(r));
  if (done) await new Promise(() => {});
}

/**
 * Starts the hook, SIGKILLs it DELAYMS after WHEN first holds (only the hook, or its whole
 * process group: the commands it was running too), and resolves once the group has no
 * process left.
 */
export async function runHookAndKill(
  argv: string[],
  stdin: string,
  delayMs: number,
  scope: "hook" | "group",
  env: Record<string, string> = {},
  when: () => boolean = () => true,
): Promise<KilledRun> {
  const child = spawn(process.execPath, [HOOK_BUNDLE, ...argv], {
    detached: true,
    stdio: ["pipe", "ignore", "pipe"],
    env: { LC_ALL: "C", PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", ...env },
  });
  const pid = child.pid!;
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.on("error", () => {});
  child.stdin.end(stdin);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const finished = await Promise.race([
    exited.then(() => true),
    until(when, exited).then(() => sleep(delayMs).then(() => false)),
  ]);
  let killed = false;
  if (!finished) {
    try {
      // the group's id is the hook's pid (detached); never anything else
      process.kill(scope === "group" ? -pid : pid, "SIGKILL");
      killed = true;
    } catch {
      /* it just ended */
    }
  }
  const code = await exited;
  const deadline = Date.now() + 10_000;
  while (groupMembers(pid).length > 0) {
    if (Date.now() > deadline) throw new Error(`orphans of hook ${pid} still running: ${groupMembers(pid).join(" ")}`);
    await sleep(10);
  }
  return { exitCode: killed ? null : code, killed, stderr };
}
