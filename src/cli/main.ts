// The vnat command. Commands are registered cheaply (program.ts); each one's code is
// imported only when it runs. The only place the CLI prints an error and exits, with a
// code from the one table (src/core/errors.ts EXIT_TABLE, docs/exit-codes.md).
import { CommanderError } from "commander";
import { exitCode, oneLine, VnatError } from "../core/errors.ts";
import { buildProgram } from "./program.ts";

// whatever vnat and its dnsmasq create is root's alone unless a mode says otherwise
process.umask(0o077);

buildProgram()
  .parseAsync(process.argv)
  .then(
    () => process.exit(process.exitCode ?? 0),
    (e: unknown) => {
      // help or --version (exit 0), or help shown because a command was missing (printed already)
      if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : exitCode("usage"));
      process.stderr.write(`vnat: ${oneLine(e)}\n`);
      process.exit(e instanceof VnatError ? e.exitCode : exitCode("internal"));
    },
  );
