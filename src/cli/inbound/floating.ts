// `vnat floating add|remove|list`: extra provider addresses mapped 1:1 to guests.
import type { Command } from "commander";
import { changeOptions, type OutputFlags } from "../output.ts";

const impl = () => import("./actions.ts");

export function registerFloating(program: Command): void {
  const g = program
    .command("floating")
    .description("1:1 floating IPs: a provider address whose traffic (all ports) goes to one guest, and back");
  changeOptions(
    g
      .command("add <net> <address> <guest>")
      .description("map provider ADDRESS to GUEST_IP: inbound on every port, and the guest's outbound source"),
  ).action(async (net: string, address: string, guest: string, o: OutputFlags) =>
    (await impl()).floatingAdd(net, address, guest, o),
  );
  changeOptions(g.command("remove <net> <address>").description("remove a floating IP")).action(
    async (net: string, address: string, o: OutputFlags) => (await impl()).floatingRemove(net, address, o),
  );
  g.command("list [net]")
    .description("list floating IPs")
    .option("--json", "print JSON")
    .action(async (net: string | undefined, o: { json?: boolean }) => (await impl()).inboundList("floating", net, o));
}
