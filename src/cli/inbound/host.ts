// `vnat host add|remove|list`: static DHCP hosts (a MAC always gets one address).
import type { Command } from "commander";
import { changeOptions, type OutputFlags } from "../output.ts";

const impl = () => import("./actions.ts");

export function registerHost(program: Command): void {
  const g = program.command("host").description("static DHCP hosts: a MAC always leases one address (and a name)");
  changeOptions(
    g
      .command("add <net> <mac> <ip> [hostname]")
      .description("give MAC the address IP (in the network's subnet) and optionally a DNS name"),
  ).action(async (net: string, mac: string, ip: string, name: string | undefined, o: OutputFlags) =>
    (await impl()).hostAdd(net, mac, ip, name, o),
  );
  changeOptions(
    g.command("remove <net> <mac>").description("remove a static host (its current lease runs out normally)"),
  ).action(async (net: string, mac: string, o: OutputFlags) => (await impl()).hostRemove(net, mac, o));
  g.command("list [net]")
    .description("list static hosts")
    .option("--json", "print JSON")
    .action(async (net: string | undefined, o: { json?: boolean }) => (await impl()).inboundList("host", net, o));
}
