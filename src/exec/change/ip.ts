// Thin wrappers around ip(8) that interpret its results.
import { firstLine, type Runner } from "../run.ts";

export interface BatchResult {
  ok: boolean;
  /** how many lines succeeded before the failing one */
  done: number;
  error: string;
}

/**
 * `ip -batch` (and `bridge -batch`, which shares its batch code) stops at the first failing line and reports "Command failed -:N". An
 * argument it cannot parse (a device that does not exist) makes it exit 255 with no line
 * number, after running the lines before it: then the failing line is found by the
 * argument the error names, and `done` is left at every line so that all undos run
 * (each tolerates "not found").
 */
export async function ipBatch(
  runner: Runner,
  lines: string[],
  netns?: string,
  tool: "ip" | "bridge" = "ip",
): Promise<BatchResult> {
  const args = netns ? ["-n", netns, "-batch", "-"] : ["-batch", "-"];
  const r = await runner.run(tool, args, { input: lines.join("\n") + "\n" });
  if (r.exitCode === 0) return { ok: true, done: lines.length, error: "" };
  const cause = firstLine(r.stderr.replace(/Command failed -:\d+/, ""));
  const m = /Command failed -:(\d+)/.exec(r.stderr);
  if (m) {
    const failed = Number(m[1]);
    return { ok: false, done: failed - 1, error: `"${tool} ${lines[failed - 1] ?? ""}": ${cause}` };
  }
  const arg = /argument "([^"]*)"/.exec(r.stderr)?.[1];
  const line = arg !== undefined ? lines.find((l) => l.split(" ").includes(arg)) : undefined;
  return { ok: false, done: lines.length, error: line ? `"${tool} ${line}": ${cause}` : `${tool} -batch: ${cause}` };
}

export async function netnsPids(runner: Runner, netns: string): Promise<number[]> {
  const r = await runner.run("ip", ["netns", "pids", netns]);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}
