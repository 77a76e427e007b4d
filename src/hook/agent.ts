// The hook's resident agent: one warm Node that handles the events the shell hook hands it
// over a unix socket, so a `virsh net-start` does not pay Node's cold start (~60–100 ms) on
// top of the build. It changes where the work runs, not what it is or when the hook answers:
//  - the hook waits for the agent's answer, as libvirt waits for the hook: the event is done
//    (namespace built, or removed) before libvirt hears back;
//  - every event runs the same handler under the same per-network kernel lock
//    (exec/netlock.ts), so ordering is one mechanism whether the agent or the hook's own Node
//    does the work;
//  - the agent never calls libvirt (it imports only what the hook imports);
//  - when the agent is not running, dies mid-event or answers nothing, the shell hook runs
//    Node itself (hooks/network), which takes the lock the kernel freed and converges.
// One agent per bundle (build id) and run directory: an agent only answers hooks of the
// bundle it was started from, and retires when that bundle's build id changes or goes.
import { createServer, type Socket } from "node:net";
import { readFileSync, watchFile } from "node:fs";
import { chmod, mkdir, open, unlink, writeFile } from "node:fs/promises";
import { flockFd, flockHeld } from "../exec/netlock.ts";
import { processStart } from "../adapters/store/lock.ts";
import { spawnDetached } from "../exec/run.ts";
import { oneLine, VnatError } from "../core/errors.ts";
import { parseAgentRequest } from "./agent-protocol.ts";
import { agentPaths, type Roots } from "../core/paths.ts";
import type { HookEnv } from "./handlers.ts";

/** The build id next to this bundle (dist/build-id); undefined when run from source. */
export function bundleBuildId(): string | undefined {
  try {
    return readFileSync(new URL("./build-id", import.meta.url), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

async function answer(sock: Socket, text: string, env: Omit<HookEnv, "cacheKey">): Promise<void> {
  const { runEvent } = await import("./handlers.ts");
  let reply = "0";
  try {
    const req = parseAgentRequest(text);
    // the same entry as the hook's own Node (hook/main.ts): one dispatch, one name check
    await runEvent([req.name, req.op, req.subop], req.data, {
      ...env,
      ...(req.cacheKey ? { cacheKey: req.cacheKey } : {}),
    });
  } catch (e) {
    env.log.error({ err: e }, "agent: event failed");
    reply = `${e instanceof VnatError ? e.exitCode : 1} ${oneLine(e)}`;
  }
  sock.end(reply + "\n");
}

/** Runs the agent until its bundle changes; resolves false when another agent of this bundle runs. */
export async function runAgent(roots: Roots, env: Omit<HookEnv, "cacheKey">): Promise<boolean> {
  const id = bundleBuildId();
  if (id === undefined) return false;
  const p = agentPaths(roots, id);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  const lock = await open(p.lock, "a", 0o600);
  if ((await flockFd(lock, ["-x", "-n"]).catch(() => 1)) !== 0) return false;
  // the lock is ours for life: a socket file left by a dead agent is stale
  await unlink(p.socket).catch(() => {});
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    const chunks: Buffer[] = [];
    sock.on("data", (b: Buffer) => chunks.push(b));
    sock.on("error", () => {});
    sock.on("end", () => void answer(sock, Buffer.concat(chunks).toString("utf8"), env));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(p.socket, resolve);
  });
  await chmod(p.socket, 0o600);
  await writeFile(p.pid, `${process.pid} ${processStart(process.pid) ?? "?"}\n`, { mode: 0o600 });
  env.log.info({ pid: process.pid, socket: p.socket }, "agent listening");
  // retire when the bundle is replaced or removed (an upgrade, a deleted checkout)
  const buildIdFile = new URL("./build-id", import.meta.url);
  await new Promise<void>((resolve) => {
    const done = (): void => resolve();
    process.once("SIGTERM", done);
    process.once("SIGINT", done);
    watchFile(buildIdFile, { interval: 2000 }, () => {
      if (bundleBuildId() !== id) done();
    });
  });
  server.close();
  await unlink(p.socket).catch(() => {});
  await unlink(p.pid).catch(() => {});
  env.log.info({ pid: process.pid }, "agent stopped");
  return true;
}

/**
 * Starts the agent for this bundle, fully detached (own session, no stdio: libvirt never
 * waits for it), unless its socket is there already. Best effort: without it the hook works.
 */
export function ensureAgent(roots: Roots): void {
  const id = bundleBuildId();
  if (id === undefined) return;
  // alive is what the kernel says: its lock held (a socket file outlives a killed agent)
  if (flockHeld(agentPaths(roots, id).lock)) return;
  const bundle = new URL(import.meta.url).pathname;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LC_ALL: "C", HOME: process.env.HOME ?? "/root" };
  if (process.env.VNAT_RUN_DIR) env.VNAT_RUN_DIR = process.env.VNAT_RUN_DIR;
  void spawnDetached(process.execPath, [bundle, "--agent"], { env, cwd: "/" });
}
