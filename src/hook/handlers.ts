// What vnat does for each libvirt network event. Pure dispatch over the executor and
// adapters; the only process exit is in main.ts.
import type { Logger } from "pino";
import { buildSpec, type NetSpec } from "../core/spec.ts";
import { invalid } from "../core/errors.ts";
import { printable, validateNetworkName } from "../core/names.ts";
import { parseHookData, type HookData } from "../core/hookdata.ts";
import type { Roots } from "../core/paths.ts";
import { netPaths } from "../core/paths.ts";
import { loadConfig } from "../adapters/config-file.ts";
import { readState } from "../adapters/state.ts";
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
}

async function specFrom(data: HookData, env: HookEnv): Promise<NetSpec> {
  return buildSpec(data.network, await loadConfig(env.roots.config));
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
  switch (call.event) {
    case "start-begin": {
      const spec = await specFrom(data, env);
      await preflight(spec, env.roots);
      log.info({ network: spec.name, event: "start-begin" }, "validated");
      return;
    }
    case "started-begin": {
      const spec = await specFrom(data, env);
      await preflight(spec, env.roots);
      // converge first: a crashed start or a lost `stopped` may have left vnat objects behind
      if (await readState(env.roots, spec.name)) {
        const errors = await teardownNetwork(env.runner, env.roots, spec.name);
        if (errors.length) log.warn({ network: spec.name, errors }, "leftovers not fully removed");
      }
      const t0 = performance.now();
      await startNetwork({ runner: env.runner, roots: env.roots, failpoint: env.failpoint }, spec);
      log.info({ network: spec.name, ms: Math.round(performance.now() - t0) }, "namespace started");
      return;
    }
    case "stopped-end": {
      const errors = await teardownNetwork(env.runner, env.roots, call.name);
      if (errors.length) log.warn({ network: call.name, errors }, "teardown left errors");
      else log.info({ network: call.name }, "namespace removed");
      return;
    }
    case "port-created":
      if (data.port) await recordPort(netPaths(env.roots, data.network.name).ports, data.port);
      return;
    case "port-deleted":
      if (data.port) await removePort(netPaths(env.roots, data.network.name).ports, data.port);
      return;
    default:
      return;
  }
}

export { parseHookData };
