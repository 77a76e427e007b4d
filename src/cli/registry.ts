// One line per command group: each group's file declares its commands and imports its
// implementation lazily inside the action.
import type { Command } from "commander";
import { registerAttach } from "./attach/attach.ts";
import { registerCompletion } from "./docs/completion.ts";
import { registerDemo } from "./demo.ts";
import { registerDoctor } from "./doctor/doctor.ts";
import { registerExec } from "./exec/exec.ts";
import { registerExporter } from "./exporter/exporter.ts";
import { registerFloating } from "./inbound/floating.ts";
import { registerForward } from "./inbound/forward.ts";
import { registerHost } from "./inbound/host.ts";
import { registerLog } from "./log/log.ts";
import { registerMetrics } from "./metrics/metrics.ts";
import { registerNet } from "./net/net.ts";
import { registerProvider } from "./provider/provider.ts";
import { registerReconcile } from "./reconcile/reconcile.ts";
import { registerStatus } from "./status/status.ts";

export function registerCommands(program: Command): void {
  registerProvider(program);
  registerNet(program);
  registerForward(program);
  registerFloating(program);
  registerHost(program);
  registerAttach(program);
  registerStatus(program);
  registerReconcile(program);
  registerMetrics(program);
  registerExporter(program);
  registerExec(program);
  registerLog(program);
  registerDoctor(program);
  registerDemo(program);
  registerCompletion(program);
}
