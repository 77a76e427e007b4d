// `vnat metrics`: vnat's metrics in Prometheus's text format, once (docs/metrics.md).
import type { Command } from "commander";

export function registerMetrics(program: Command): void {
  program
    .command("metrics")
    .description(
      "print vnat's metrics in the Prometheus text format (networks, traffic, forwards, DHCP, pools, events)",
    )
    .option(
      "--textfile <dir>",
      "write DIR/vnat.prom atomically instead (node_exporter's textfile collector; contrib/systemd/vnat-metrics.timer)",
    )
    .action(async (o: { textfile?: string }) => (await import("./run.ts")).metrics(o));
}
