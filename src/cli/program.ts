// The vnat command tree, without parsing anything: main.ts runs it, and the completion
// scripts and the man page are generated from it (src/cli/docgen.ts), so they always
// list the commands and options the CLI really has.
import { Command } from "commander";
import { registerCommands } from "./registry.ts";

export const VERSION = "0.1.0";
export const DESCRIPTION = "Per-network NAT namespaces for libvirt virtual networks";

export function buildProgram(): Command {
  const program = new Command();
  program.name("vnat").description(DESCRIPTION).version(VERSION).showHelpAfterError(false);
  registerCommands(program);
  return program;
}
