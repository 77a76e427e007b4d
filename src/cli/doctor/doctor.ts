// `vnat doctor`: can this host run vnat, and what is in the way.
import type { Command } from "commander";

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description(
      "check the kernel, tools, libvirt, the hook, the config, provider bridges, the host firewall and uplinks",
    )
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => (await import("./run.ts")).doctor(o));
}
