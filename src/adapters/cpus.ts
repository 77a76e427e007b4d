// The CPUs this host has online, from /sys (no process): vnat spreads the receive work of
// its namespace's veths over them (RPS), see render.ts renderHostBatch.
import { readFileSync } from "node:fs";
import { parseCpuList } from "../core/rps.ts";

let cached: number[] | undefined;

/** Online CPU numbers, e.g. [0, 1]; [] when /sys does not say. */
export function onlineCpus(): number[] {
  if (cached === undefined) {
    try {
      cached = parseCpuList(readFileSync("/sys/devices/system/cpu/online", "utf8"));
    } catch {
      cached = [];
    }
  }
  return cached;
}
