// One line per command group: each group's file declares its commands and imports its
// implementation lazily inside the action.
import type { Command } from "commander";
import { registerNet } from "./net.ts";
import { registerProvider } from "./provider.ts";

export function registerCommands(program: Command): void {
  registerProvider(program);
  registerNet(program);
}
