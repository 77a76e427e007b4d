// Thin wrappers around ip(8) that interpret its results.
import { firstLine, type Runner } from "./run.ts";

export interface BatchResult {
  ok: boolean;
  /** how many lines succeeded before the failing one */
  done: number;
  error: string;
}

/** `ip -batch` stops at the first failing line and reports "Command failed -:N". */
export async function ipBatch(runner: Runner, lines: string[], netns?: string): Promise<BatchResult> {
  const args = netns ? ["-n", netns, "-batch", "-"] : ["-batch", "-"];
  const r = await runner.run("ip", args, { input: lines.join("\n") + "\n" });
  if (r.exitCode === 0) return { ok: true, done: lines.length, error: "" };
  const m = /Command failed -:(\d+)/.exec(r.stderr);
  const failed = m ? Number(m[1]) : 1;
  const failedLine = lines[failed - 1] ?? "";
  const cause = firstLine(r.stderr.replace(/Command failed -:\d+/, ""));
  return { ok: false, done: failed - 1, error: `"ip ${failedLine}": ${cause}` };
}

export async function netnsPids(runner: Runner, netns: string): Promise<number[]> {
  const r = await runner.run("ip", ["netns", "pids", netns]);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}
