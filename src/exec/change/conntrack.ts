// Deletes the conntrack entries of a removed or changed forward / floating IP inside a
// network's namespace: an established connection keeps its NAT binding (and so keeps
// reaching the old target) until its entry is gone. conntrack(8) from conntrack-tools.
import type { ConntrackFlush } from "../../core/edit/inbound-diff.ts";
import { formatIp } from "../../core/ipv4.ts";
import { firstLine, type Runner } from "../run.ts";

/** `conntrack -D` exits 1 when nothing matched; that is success here. */
async function conntrack(
  runner: Runner,
  netns: string,
  args: string[],
): Promise<{ ok: boolean; stdout: string; error: string }> {
  const r = await runner.run("ip", ["netns", "exec", netns, "conntrack", ...args]);
  const ok = r.exitCode === 0 || /\b0 flow entries have been (deleted|shown)/.test(r.stderr);
  return { ok, stdout: r.stdout, error: ok ? "" : `conntrack ${args.join(" ")}: ${firstLine(r.stderr)}` };
}

/** Original destination ports of the listed entries (the first dport= of each line). */
export function parseOrigDports(listing: string): number[] {
  const ports = new Set<number>();
  for (const line of listing.split("\n")) {
    const m = /\bdport=(\d+)/.exec(line);
    if (m) ports.add(Number(m[1]));
  }
  return [...ports];
}

/** Deletes what one flush names; returns errors (empty when all went). */
export async function flushConntrack(runner: Runner, netns: string, f: ConntrackFlush): Promise<string[]> {
  const errors: string[] = [];
  const del = async (args: string[]): Promise<void> => {
    const r = await conntrack(runner, netns, ["-D", ...args]);
    if (!r.ok) errors.push(r.error);
  };
  if (f.kind === "floating") {
    const ip = formatIp(f.address);
    await del(["--orig-dst", ip]);
    await del(["--reply-dst", ip]);
    return errors;
  }
  const base = ["-p", f.proto, "--orig-dst", formatIp(f.uplink)];
  let ports = [f.port];
  if (f.portEnd !== f.port) {
    // conntrack filters take one port: list the range's live ports, then delete each
    const l = await conntrack(runner, netns, ["-L", ...base]);
    if (!l.ok) return [l.error];
    ports = parseOrigDports(l.stdout).filter((p) => p >= f.port && p <= f.portEnd);
  }
  for (const p of ports) await del([...base, "--orig-port-dst", String(p)]);
  return errors;
}
