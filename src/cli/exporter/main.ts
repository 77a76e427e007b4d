// The exporter's own entry point (dist/exporter.js): the long-running `vnat exporter` loads
// only what a scrape needs — no commander, no logger, no other command — which keeps its
// resident memory near a bare Node server's (docs/metrics.md, Figures). The installed `vnat`
// wrapper runs this bundle for `vnat exporter`; `node dist/cli.js exporter` runs the same
// run.ts. Prints an error in one line and exits with the code from the one table
// (src/core/errors.ts), as the CLI does.
import { exitCode, oneLine, VnatError } from "../../core/errors.ts";
import { exporterArgs, EXPORTER_HELP } from "./args.ts";
import { exporter } from "./run.ts";

process.umask(0o077);

async function main(): Promise<void> {
  const args = exporterArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(EXPORTER_HELP);
    return;
  }
  await exporter(args.listen);
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`vnat: ${oneLine(e)}\n`);
    process.exit(e instanceof VnatError ? e.exitCode : exitCode("internal"));
  },
);
