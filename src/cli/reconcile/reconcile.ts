// `vnat reconcile [NET...]`: bring every vnat namespace back to the desired state.
import type { Command } from "commander";

export function registerReconcile(program: Command): void {
  program
    .command("reconcile [networks...]")
    .description(
      "make every active vnat network's namespace match its desired state (create, repair drift) and remove what inactive networks left; healthy namespaces are not touched",
    )
    .option("--dry-run", "print the plan, change nothing")
    .option("-q, --quiet", "print only problems")
    .option("--force", "remove leftovers even when libvirt lists no network at all")
    .option("--json", "print what was repaired (with --dry-run: what would be) as one JSON object")
    .action(async (networks: string[], o: { dryRun?: boolean; quiet?: boolean; force?: boolean; json?: boolean }) =>
      (await import("./run.ts")).reconcileCommand(networks, o),
    );
}
