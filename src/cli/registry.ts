// One line per command group: each group's file declares its commands and imports its
// implementation lazily inside the action.
import type { Command } from "commander";

export function registerCommands(program: Command): void {
  void program;
}
