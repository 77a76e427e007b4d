// The bridges' static local fdb entries that vnat's macvlans need (core/input/attach.ts), through
// `bridge -batch`. Deleting tolerates what is already gone: the entry, or its whole bridge
// (libvirt deletes virbrN before the hook hears `stopped`).
import { fdbAddLine, fdbDelLine, parseFdbLocals, type FdbEntry } from "../../core/input/attach.ts";
import { bridgeExists } from "../probe/host.ts";
import { ipBatch } from "./ip.ts";
import type { Runner } from "../run.ts";

/** Adds ENTRIES in one `bridge -batch`; `done` counts the entries added before a failure. */
export async function addFdb(runner: Runner, entries: FdbEntry[]): Promise<{ done: number; error?: string }> {
  if (!entries.length) return { done: 0 };
  const r = await ipBatch(runner, entries.map(fdbAddLine), undefined, "bridge");
  return r.ok ? { done: r.done } : { done: r.done, error: r.error };
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
