// The bridges' static local fdb entries that vnat's macvlans need (core/attach.ts), through
// `bridge -batch`. Deleting tolerates what is already gone: the entry, or its whole bridge
// (libvirt deletes virbrN before the hook hears `stopped`).
import { fdbAddLine, fdbDelLine, parseFdbLocals, type FdbEntry } from "../core/attach.ts";
import { bridgeExists } from "./probe-host.ts";
import { firstLine, type Runner } from "./run.ts";

export async function addFdb(runner: Runner, entries: FdbEntry[]): Promise<{ done: number; error?: string }> {
  if (!entries.length) return { done: 0 };
  const r = await runner.run("bridge", ["-batch", "-"], { input: entries.map(fdbAddLine).join("\n") + "\n" });
  if (r.exitCode === 0) return { done: entries.length };
  const cause = firstLine(r.stderr.replace(/Command failed -:\d+/, ""));
  const m = /Command failed -:(\d+)/.exec(r.stderr);
  // without a line number every entry may have been added: all are undone (deleting tolerates absence)
  if (!m) return { done: entries.length, error: `bridge -batch: ${cause}` };
  const failed = Number(m[1]);
  return { done: failed - 1, error: `"bridge ${fdbAddLine(entries[failed - 1]!)}": ${cause}` };
}

export async function deleteFdb(runner: Runner, entries: FdbEntry[]): Promise<void> {
  const live = entries.filter((e) => bridgeExists(e.bridge));
  if (!live.length) return;
  const r = await runner.run("bridge", ["-force", "-batch", "-"], { input: live.map(fdbDelLine).join("\n") + "\n" });
  if (r.exitCode === 0) return;
  const errors = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^Command failed|No such file or directory|Cannot find device/.test(l));
  if (errors.length)
    throw new Error(`delete fdb entries ${live.map((e) => `${e.mac} on ${e.bridge}`).join(", ")}: ${errors[0]}`);
}

/** Every bridge-local permanent entry on the host, as fdbKey strings; null when `bridge` failed. */
export async function listFdbLocals(runner: Runner): Promise<Set<string> | null> {
  const r = await runner.run("bridge", ["-j", "fdb", "show", "state", "permanent"]);
  if (r.exitCode !== 0) return null;
  try {
    return parseFdbLocals(r.stdout);
  } catch {
    return null;
  }
}
