// What vnat does for each libvirt network event (core/events.ts lists them): one handler
// per event, over the executor and adapters; the only process exit is in main.ts.
//
// Every event runs holding the network's kernel lock (exec/netlock.ts), the same lock the
// CLI's live edits and reconcile's repairs take: libvirt sends one network's events one at a
// time, and nothing else of vnat's may run between them. `started` builds the whole
// namespace before it answers, so when `virsh net-start` returns 0 the network serves
// DHCP, DNS and NAT, as libvirt's own NAT network does.
import type { Logger } from "pino";
import { unlink, writeFile, mkdir } from "node:fs/promises";
import { buildSpec, type NetSpec } from "../core/input/spec.ts";
import { conflict, invalid, oneLine, VnatError } from "../core/errors.ts";
import { HASH_RE, renderCacheEntry } from "../core/hookcache.ts";
import { hookEventSpec, type HookEventName } from "../core/events.ts";
import { printable } from "../core/names.ts";
import { parseHookData, type HookData } from "../core/input/hookdata.ts";
import type { Roots } from "../core/paths.ts";
import { netLockPaths, netPaths } from "../core/paths.ts";
import { loadConfigHashed } from "../adapters/store/config-file.ts";
import { hasState, readState } from "../adapters/store/state.ts";
import { writeCacheEntry } from "../adapters/store/hookcache.ts";
import { removePort, recordPort } from "../adapters/store/ports.ts";
import { netnsExists } from "../adapters/sysfs.ts";
import { startNetwork } from "../exec/change/apply.ts";
import { teardownNetwork } from "../exec/change/teardown.ts";
import { withNetworkLock, type NetLock } from "../exec/netlock.ts";
import { recordHookEvent } from "../adapters/store/event-stats.ts";
import { enforcePolicy, fibHash, refuseDuplicates } from "../exec/probe/policy-facts.ts";
import { removeLeakedBridge } from "../exec/change/leaked-bridge.ts";
import type { Runner } from "../exec/run.ts";
import { concernsVnat, parseArgv, type HookCall } from "./event.ts";
import { preflight } from "./preflight.ts";

export interface HookEnv {
  runner: Runner;
  roots: Roots;
  log: Logger;
  failpoint?: string;
  /** the shell hook's hash of this event (hooks/network): a validated document is remembered by it */
  cacheKey?: { key: string; configHash: string };
}

/** Lets the shell hook answer this document's next `start begin` by itself. */
async function remember(env: HookEnv, spec: NetSpec, configHash: string, fib: string): Promise<void> {
  if (!env.cacheKey || !HASH_RE.test(env.cacheKey.key)) return;
  // segments (issue 19) come and go outside libvirt: each start checks them (hook/preflight.ts)
  if (spec.segments?.length) return;
  // the config the shell hashed must be the one this answer came from
  if (configHash !== env.cacheKey.configHash) return;
  await writeCacheEntry(env.roots, spec.name, env.cacheKey.key, renderCacheEntry(spec, configHash, fib));
}

/** "a `started` of NAME reached vnat": set before anything is built, cleared by success or a stop. */
async function markBegun(roots: Roots, name: string): Promise<void> {
  const p = netLockPaths(roots, name);
  await mkdir(p.dir, { recursive: true, mode: 0o700 });
  await writeFile(p.begun, "");
}
const clearBegun = (roots: Roots, name: string): Promise<void> =>
  unlink(netLockPaths(roots, name).begun).catch(() => {});

type Handler = (call: HookCall, data: HookData, env: HookEnv) => Promise<void>;

/** One handler per event of core/events.ts HOOK_EVENTS (a missing one does not compile). */
const HANDLERS: { readonly [E in HookEventName]: Handler } = {
  "start-begin": startBegin,
  "started-begin": startedBegin,
  "stopped-end": stoppedEnd,
  "port-created": portCreated,
  "port-deleted": portDeleted,
};

/**
 * The hook's one way into an event, from hook/main.ts and hook/agent.ts alike: libvirt's
 * `NAME OP SUBOP -` and its stdin. Events vnat does nothing for return at once.
 */
export async function runEvent(argv: readonly string[], stdin: string, env: HookEnv): Promise<void> {
  if (!concernsVnat(argv, stdin)) return;
  await handle(parseArgv(argv), parseHookData(stdin), env);
}

/** Runs CALL (read by hook/event.ts: its name is valid) under the network's lock. */
export async function handle(call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  // libvirt always passes the network's own name: anything else is not libvirt talking
  if (data.network.name !== call.name)
    throw invalid(
      `network "${call.name}": hook data names network "${printable(data.network.name, 32)}" (expected the same name)`,
    );
  const { begun } = hookEventSpec(call.event);
  if (begun === "mark") await markBegun(env.roots, call.name);
  const t0 = performance.now();
  // the event's count and duration for vnat's metrics (adapters/store/event-stats.ts), under the lock
  const done = async (lock: NetLock, outcome: "ok" | "failed"): Promise<void> => {
    await lock.finish(call.event, outcome);
    await recordHookEvent(env.roots, call.name, call.event, outcome, (performance.now() - t0) / 1000);
  };
  await withNetworkLock(env.roots, call.name, async (lock) => {
    try {
      await HANDLERS[call.event](call, data, env);
    } catch (e) {
      await done(lock, "failed");
      throw e;
    }
    if (begun === "clear") await clearBegun(env.roots, call.name);
    await done(lock, "ok");
  });
}

async function startBegin(_call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  const { log, roots } = env;
  const { config, hash } = await loadConfigHashed(roots.config);
  const spec = buildSpec(data.network, config);
  // a start whose `started` failed left libvirt's bridge behind: without this, libvirt
  // could not create it again ("File exists")
  const removed = await removeLeakedBridge(env.runner, roots, spec);
  if (removed) log.warn({ network: spec.name, bridge: spec.lanBridge }, "removed the bridge a failed start left");
  const fib = await fibHash();
  await preflight(spec, roots);
  await enforcePolicy(env.runner, roots, spec, config);
  await refuseDuplicates(env.runner, spec);
  await remember(env, spec, hash, fib).catch((e: unknown) =>
    log.warn({ network: spec.name, err: e }, "not remembered"),
  );
  log.info({ network: spec.name, event: "start-begin" }, "validated");
}

async function startedBegin(_call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  const { log, roots } = env;
  const { config } = await loadConfigHashed(roots.config);
  const spec = buildSpec(data.network, config);
  try {
    // again at build: the host may have changed since `start begin` (or the shell answered it)
    await preflight(spec, roots);
    await enforcePolicy(env.runner, roots, spec, config);
    // converge first: a killed start or a lost `stopped` may have left vnat objects behind
    if ((await hasState(roots, spec.name)) || netnsExists(spec.names.netns)) {
      const errors = await teardownNetwork(env.runner, roots, spec.name);
      if (errors.length) log.warn({ network: spec.name, errors }, "leftovers not fully removed");
    }
    const t0 = performance.now();
    await startNetwork({ runner: env.runner, roots, failpoint: env.failpoint }, spec);
    log.info({ network: spec.name, ms: Math.round(performance.now() - t0) }, "namespace started");
  } catch (e) {
    const why = oneLine(e);
    log.error({ network: spec.name, err: e }, "start failed");
    const tail = ` (libvirt keeps bridge "${spec.lanBridge}" after a failed start; the next virsh net-start of "${spec.name}" removes it)`;
    throw e instanceof VnatError ? new VnatError(e.kind, `${why}${tail}`) : new Error(`${why}${tail}`);
  }
  // NAME.begun stays: the shell hook removes it as it answers 0 (hooks/network), so a
  // hook killed after this point still leaves it for libvirt's kept bridge
}

async function stoppedEnd(call: HookCall, _data: HookData, env: HookEnv): Promise<void> {
  const errors = await teardownNetwork(env.runner, env.roots, call.name);
  if (errors.length) env.log.warn({ network: call.name, errors }, "teardown left errors");
  else env.log.info({ network: call.name }, "namespace removed");
}

async function portCreated(call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  const state = await readState(env.roots, call.name);
  if (state?.phase !== "active" || !netnsExists(state.netns))
    throw conflict(
      `network "${call.name}": vnat has no namespace for it, so a guest attached now would get no DHCP, DNS or NAT (vnat reconcile ${call.name}, or virsh net-destroy and net-start)`,
    );
  if (data.port) await recordPort(netPaths(env.roots, call.name).ports, data.port);
}

async function portDeleted(call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  if (data.port) await removePort(netPaths(env.roots, call.name).ports, data.port);
}
