// A `started` event the shell hook handed to the background (config "start": "background"):
// libvirt has its answer already, so the outcome is recorded instead of returned. Guest
// ports wait for the build and are refused while a failure is recorded; `vnat status`
// shows it; the undo journal leaves the host as it was, exactly as in the foreground.
import { oneLine } from "../core/errors.ts";
import { validateNetworkName } from "../core/names.ts";
import type { HookData } from "../core/hookdata.ts";
import {
  clearBuildFailure,
  finishBuilding,
  finishStopping,
  markBuilding,
  markStopping,
  waitForEarlierBuild,
} from "../adapters/background.ts";
import { handle, type HookEnv } from "./handlers.ts";
import type { HookCall } from "./event.ts";

export async function buildInBackground(call: HookCall, data: () => HookData, env: HookEnv): Promise<void> {
  validateNetworkName(call.name);
  await markBuilding(env.roots, call.name);
  let failure: string | undefined;
  try {
    await clearBuildFailure(env.roots, call.name);
    await handle(call, data(), env);
  } catch (e) {
    failure = oneLine(e);
    env.log.error({ network: call.name, op: call.op, subop: call.subop, err: e }, "background start failed");
  } finally {
    await finishBuilding(env.roots, call.name, failure);
  }
}

/**
 * A `stopped` event the shell hook handed to the background (networks started with config
 * "start": "background"): libvirt ignores a stop's outcome and has deleted the bridge already.
 * The teardown waits for a build still in flight; a start of the network waits for it.
 */
export async function stopInBackground(call: HookCall, data: () => HookData, env: HookEnv): Promise<void> {
  validateNetworkName(call.name);
  await markStopping(env.roots, call.name);
  try {
    await waitForEarlierBuild(env.roots, call.name);
    // background: the handler's own wait would also wait for a build that began after this stop
    await handle(call, data(), { ...env, background: true });
  } catch (e) {
    env.log.error({ network: call.name, op: call.op, subop: call.subop, err: e }, "background stop failed");
  } finally {
    await finishStopping(env.roots, call.name);
  }
}
