// What vnat does for each libvirt network event. Pure dispatch over the executor and
// adapters; the only process exit is in main.ts.
import type { Logger } from "pino";
import { buildSpec, type NetSpec } from "../core/spec.ts";
import { conflict, invalid } from "../core/errors.ts";
import { HASH_RE, renderCacheEntry } from "../core/hookcache.ts";
import { printable, validateNetworkName } from "../core/names.ts";
import { parseHookData, type HookData } from "../core/hookdata.ts";
import type { Roots } from "../core/paths.ts";
import { netPaths } from "../core/paths.ts";
import { loadConfig, loadConfigHashed } from "../adapters/config-file.ts";
import type { Config } from "../core/config.ts";
import { readState } from "../adapters/state.ts";
import {
  allowBackgroundStop,
  buildFailure,
  clearBuildFailure,
  waitForBuild,
  waitForStop,
  writeCacheEntry,
} from "../adapters/background.ts";
import { removePort, recordPort } from "../adapters/ports.ts";
import { startNetwork } from "../exec/apply.ts";
import { teardownNetwork } from "../exec/teardown.ts";
import type { Runner } from "../exec/run.ts";
import type { HookCall } from "./event.ts";
import { preflight } from "./preflight.ts";

export interface HookEnv {
  runner: Runner;
  roots: Roots;
  log: Logger;
  failpoint?: string;
  /** this process runs in the background (a `started` build or a `stopped` teardown) and does its own waiting */
  background?: boolean;
  /** the shell hook's hash of this event (hooks/network): a validated document is remembered by it */
  cacheKey?: { key: string; configHash: string };
}

/** Lets the shell hook answer this document's next `start begin` / `started` by itself. */
async function remember(env: HookEnv, spec: NetSpec, config: Config, configHash: string): Promise<void> {
  if (!env.cacheKey || !HASH_RE.test(env.cacheKey.key)) return;
  // the config the shell hashed must be the one this answer came from
  if (configHash !== env.cacheKey.configHash) return;
  await writeCacheEntry(env.roots, spec.name, env.cacheKey.key, renderCacheEntry(spec, configHash, config.start));
}

export async function handle(call: HookCall, data: HookData, env: HookEnv): Promise<void> {
  const { log } = env;
  // The name becomes paths and kernel names for every event (stopped and port events too),
  // and libvirt always passes the network's own name: anything else is not libvirt talking.
  validateNetworkName(call.name);
  if (data.network.name !== call.name)
    throw invalid(
      `network "${call.name}": hook data names network "${printable(data.network.name, 32)}" (expected the same name)`,
    );
  // libvirt sends a network's events in order; a background build is the one thing that may still run
  if (call.event !== "start-begin" && !env.background) await waitForBuild(env.roots, call.name);
  switch (call.event) {
    case "start-begin": {
      // a teardown of this network still running in the background (`stopped`) finishes first
      await waitForStop(env.roots, call.name);
      const { config, hash } = await loadConfigHashed(env.roots.config);
      const spec = buildSpec(data.network, config);
      await preflight(spec, env.roots);
      await remember(env, spec, config, hash).catch((e: unknown) =>
        log.warn({ network: spec.name, err: e }, "not remembered"),
      );
      log.info({ network: spec.name, event: "start-begin" }, "validated");
      return;
    }
    case "started-begin": {
      await waitForStop(env.roots, call.name);
      const config = await loadConfig(env.roots.config);
      const spec = buildSpec(data.network, config);
      await preflight(spec, env.roots);
      // converge first: a crashed start or a lost `stopped` may have left vnat objects behind
      if (await readState(env.roots, spec.name)) {
        const errors = await teardownNetwork(env.runner, env.roots, spec.name);
        if (errors.length) log.warn({ network: spec.name, errors }, "leftovers not fully removed");
      }
      const t0 = performance.now();
      await startNetwork({ runner: env.runner, roots: env.roots, failpoint: env.failpoint }, spec);
      await allowBackgroundStop(env.roots, spec.name, config.start === "background");
      await clearBuildFailure(env.roots, spec.name);
      log.info({ network: spec.name, ms: Math.round(performance.now() - t0) }, "namespace started");
      return;
    }
    case "stopped-end": {
      const errors = await teardownNetwork(env.runner, env.roots, call.name);
      if (errors.length) log.warn({ network: call.name, errors }, "teardown left errors");
      else log.info({ network: call.name }, "namespace removed");
      await clearBuildFailure(env.roots, call.name);
      return;
    }
    case "port-created": {
      const failed = await buildFailure(env.roots, call.name);
      if (failed !== undefined)
        throw conflict(
          `network "${call.name}": vnat could not build its namespace (${failed}); guests cannot attach until it is fixed (vnat reconcile ${call.name}, or virsh net-destroy and net-start)`,
        );
      if (data.port) await recordPort(netPaths(env.roots, data.network.name).ports, data.port);
      return;
    }
    case "port-deleted":
      if (data.port) await removePort(netPaths(env.roots, data.network.name).ports, data.port);
      return;
    default:
      return;
  }
}

export { parseHookData };
