// `vnat exec NET -- CMD [ARG...]`: a command in network NET's namespace, where the guests'
// addresses are reachable and their DHCP names resolve (whatever subnet other networks use).
import type { Command } from "commander";
import { CALLER_UMASK } from "../umask.ts";

export function registerExec(program: Command): void {
  program
    .command("exec <network> [command...]")
    .usage("<network> -- <command> [args...]")
    .description(
      "run a command in the network's namespace (e.g. vnat exec web -- ssh root@vm1): guests' addresses are reachable and their DHCP names resolve through the namespace's dnsmasq; the command's exit code is vnat's",
    )
    .action(async (network: string, command: string[]) =>
      (await import("./run.ts")).execIn(network, command, CALLER_UMASK),
    );
}
