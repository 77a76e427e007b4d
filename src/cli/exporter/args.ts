// The arguments of the exporter's own entry point (main.ts, dist/exporter.js): only
// `--listen ADDRESS:PORT` (or `--listen=ADDRESS:PORT`) and `--help`, refused in one line as
// the CLI's commander refuses them (exit code usage). exporter.ts declares the same option for
// `vnat exporter` in the CLI; test/unit/cli-metrics.test.ts keeps the two alike.
import { usage } from "../../core/errors.ts";

export interface ExporterArgs {
  listen?: string;
  help: boolean;
}

export const EXPORTER_HELP = `Usage: vnat exporter [options]

serve vnat's metrics at http://ADDRESS:PORT/metrics for Prometheus, collected fresh at each
scrape (contrib/systemd/vnat-exporter.service)

Options:
  --listen <address:port>  where to listen: IPv4:PORT or [IPv6]:PORT (default
                           127.0.0.1:9745, loopback only)
  -h, --help               display help for command
`;

export function exporterArgs(argv: readonly string[]): ExporterArgs {
  const out: ExporterArgs = { help: false };
  const bad = (what: string): Error => usage(`exporter: ${what} (see vnat exporter --help)`);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h" || a === "--help") out.help = true;
    else if (a === "--listen" || a.startsWith("--listen=")) {
      const v = a === "--listen" ? argv[++i] : a.slice("--listen=".length);
      if (v === undefined) throw bad("option '--listen <address:port>' argument missing");
      out.listen = v;
    } else if (a.startsWith("-")) throw bad(`unknown option '${a.slice(0, 64)}'`);
    else throw bad(`too many arguments for 'exporter'. Expected 0 arguments but got ${argv.length - i}`);
  }
  return out;
}
