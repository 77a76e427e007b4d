// The vnat command tree, without parsing anything: main.ts runs it, and the completion
// scripts and the man page are generated from it (src/cli/docs/docgen.ts), so they always
// list the commands and options the CLI really has.
import { Command } from "commander";
import { EXIT_TABLE, usage } from "../core/errors.ts";
import { connectLibvirt } from "../adapters/libvirt/virsh.ts";
import { registerCommands } from "./registry.ts";

export const VERSION = "0.1.0";
export const DESCRIPTION = "Per-network NAT namespaces for libvirt virtual networks";

/** "net create" for `vnat net create`: the context of a usage error */
function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * commander, speaking with vnat's voice: every parse error becomes one usage error
 * (exit 64, printed once by main.ts as `vnat: net create: unknown option '--subnett' …`),
 * and required options are checked after unknown ones, so a misspelt `--subnett` is
 * named as unknown rather than reported as a missing `--subnet`.
 */
class VnatCommand extends Command {
  override createCommand(name?: string): Command {
    return new VnatCommand(name);
  }
  override error(message: string): never {
    const where = commandPath(this);
    const help = `see vnat ${where ? `${where} ` : ""}--help`;
    const text = message
      .replace(/^error: /, "")
      .replace(/\.$/, "")
      .replace(/\n\(Did you mean (.*)\?\)$/, (_m, s: string) => ` (did you mean ${s}? ${help})`);
    throw usage(`${where ? `${where}: ` : ""}${text}${text.endsWith(")") ? "" : ` (${help})`}`);
  }
  /** commander's own check runs before its unknown-option check: moved to checkRequired */
  missingMandatoryOptionValue(): void {}
}

/** The required options, checked once unknown options and arguments have been. */
function checkRequired(cmd: Command): void {
  for (const o of cmd.options)
    if (o.mandatory && cmd.getOptionValue(o.attributeName()) === undefined)
      cmd.error(`error: required option '${o.flags}' not specified`);
}

export function buildProgram(): Command {
  const program = new VnatCommand();
  program
    .name("vnat")
    .description(DESCRIPTION)
    .version(VERSION)
    .showHelpAfterError(false)
    // help and --version end the parse with a CommanderError that main.ts turns into the exit
    .exitOverride()
    .configureOutput({ outputError: () => {} })
    .hook("preAction", (_program, action) => checkRequired(action))
    .addHelpText(
      "after",
      `\nExit codes: ${EXIT_TABLE.map((r) => `${r.code} ${r.kind}`).join(", ")} (docs/exit-codes.md)`,
    )
    .option(
      "-c, --connect <uri>",
      "libvirt URI: this host's system libvirt only (default: $LIBVIRT_DEFAULT_URI, else qemu:///system)",
    )
    .hook("preAction", (p) => connectLibvirt(p.opts<{ connect?: string }>().connect));
  registerCommands(program);
  return program;
}
