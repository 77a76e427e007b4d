// The vnat command. Commands are registered cheaply (program.ts); each one's code is
// imported only when it runs. The only place the CLI exits.
import { oneLine, VnatError } from "../core/errors.ts";
import { buildProgram } from "./program.ts";

// whatever vnat and its dnsmasq create is root's alone unless a mode says otherwise
process.umask(0o077);

buildProgram()
  .parseAsync(process.argv)
  .then(
    () => process.exit(process.exitCode ?? 0),
    (e: unknown) => {
      process.stderr.write(`vnat: ${oneLine(e)}\n`);
      process.exit(e instanceof VnatError ? e.exitCode : 1);
    },
  );
