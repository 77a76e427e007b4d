// Stops a bundle's resident agent (hook/agent.ts): by its pid file "PID STARTTIME", and only
// the process that still has that start time and runs as an agent (a recycled pid is never hit).
import { readFileSync } from "node:fs";
import { agentPaths, type Roots } from "../core/paths.ts";
import { readIfExists } from "../adapters/store/files.ts";
import { processStart as startTime } from "../adapters/store/lock.ts";
import { signal } from "./run.ts";

const isAgent = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes("--agent");
  } catch {
    return false;
  }
};

/** True when an agent of BUILD_ID was running and has stopped. */
export async function stopAgent(roots: Roots, buildId: string, timeoutMs = 3000): Promise<boolean> {
  const [pidText, start] = ((await readIfExists(agentPaths(roots, buildId).pid)) ?? "").trim().split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid < 2 || startTime(pid) !== start || !isAgent(pid)) return false;
  signal(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (startTime(pid) === start && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (startTime(pid) === start) signal(pid, "SIGKILL");
  return true;
}
