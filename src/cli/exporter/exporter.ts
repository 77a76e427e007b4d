// `vnat exporter`: serves vnat's metrics at /metrics over HTTP for Prometheus (docs/metrics.md).
import type { Command } from "commander";

export function registerExporter(program: Command): void {
  program
    .command("exporter")
    .description(
      "serve vnat's metrics at http://ADDRESS:PORT/metrics for Prometheus, collected fresh at each scrape (contrib/systemd/vnat-exporter.service)",
    )
    .option(
      "--listen <address:port>",
      "where to listen: IPv4:PORT or [IPv6]:PORT (default 127.0.0.1:9745, loopback only)",
    )
    .action(async (o: { listen?: string }) => (await import("./run.ts")).exporter(o.listen));
}
