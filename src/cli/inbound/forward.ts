// `vnat forward add|remove|list`: port forwards from a network's uplink address to guests.
import type { Command } from "commander";
import { changeOptions, type OutputFlags } from "../output.ts";

const impl = () => import("./actions.ts");

export function registerForward(program: Command): void {
  const g = program.command("forward").description("port forwards from a network's uplink address to its guests");
  changeOptions(
    g
      .command("add <net> <proto> <port> <target>")
      .description("forward tcp|udp PORT[-PORT] on the uplink to GUEST_IP[:PORT] (a range keeps its size)"),
  ).action(async (net: string, proto: string, port: string, target: string, o: OutputFlags) =>
    (await impl()).forwardAdd(net, proto, port, target, o),
  );
  changeOptions(
    g.command("remove <net> <proto> <port>").description("remove the forward of tcp|udp PORT[-PORT] (as it was added)"),
  ).action(async (net: string, proto: string, port: string, o: OutputFlags) =>
    (await impl()).forwardRemove(net, proto, port, o),
  );
  g.command("list [net]")
    .description("list port forwards")
    .option("--json", "print JSON")
    .action(async (net: string | undefined, o: { json?: boolean }) => (await impl()).inboundList("forward", net, o));
}
