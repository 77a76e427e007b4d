// The vnat command. Commands are registered here cheaply; each one's code is imported
// only when it runs. The only place the CLI exits.
import { Command } from "commander";
import { oneLine, VnatError } from "../core/errors.ts";
import { registerCommands } from "./registry.ts";

// whatever vnat and its dnsmasq create is root's alone unless a mode says otherwise
process.umask(0o077);

const program = new Command();
program
  .name("vnat")
  .description("Per-network NAT namespaces for libvirt virtual networks")
  .version("0.1.0")
  .showHelpAfterError(false);
registerCommands(program);

program.parseAsync(process.argv).then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`vnat: ${oneLine(e)}\n`);
    process.exit(e instanceof VnatError ? e.exitCode : 1);
  },
);
