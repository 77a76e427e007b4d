// `vnat status [NET]`: what vnat runs, and why something does not work.
import type { Command } from "commander";

export function registerStatus(program: Command): void {
  program
    .command("status [networks...]")
    .description(
      "show every vnat network (or the ones named; one named: in detail): libvirt state, namespace, links, NAT, leases, health",
    )
    .option("--json", "print JSON (schema: docs/status-json.md)")
    .option("--probe", "also probe the provider network for another host answering on each uplink address (~1 s)")
    .action(async (networks: string[], o: { json?: boolean; probe?: boolean }) =>
      (await import("./run.ts")).status(networks, o),
    );
}
