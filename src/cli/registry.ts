// One line per command group: each group's file declares its commands and imports its
// implementation lazily inside the action.
import type { Command } from "commander";
import { registerCompletion } from "./completion.ts";
import { registerDemo } from "./demo.ts";
import { registerDoctor } from "./doctor.ts";
import { registerExec } from "./exec.ts";
import { registerFloating } from "./floating.ts";
import { registerForward } from "./forward.ts";
import { registerHost } from "./host.ts";
import { registerLog } from "./log.ts";
import { registerNet } from "./net.ts";
import { registerProvider } from "./provider.ts";
import { registerReconcile } from "./reconcile.ts";
import { registerStatus } from "./status.ts";

export function registerCommands(program: Command): void {
  registerProvider(program);
  registerNet(program);
  registerForward(program);
  registerFloating(program);
  registerHost(program);
  registerStatus(program);
  registerReconcile(program);
  registerExec(program);
  registerLog(program);
  registerDoctor(program);
  registerDemo(program);
  registerCompletion(program);
}
