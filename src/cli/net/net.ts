// `vnat net create|delete|list`: vnat networks as libvirt networks (defined through virsh).
import type { Command } from "commander";
import { changeOptions } from "../output.ts";

// no default value: commander would print it in the help as "(default: [])"
const collect = (v: string, acc: string[] = []): string[] => [...acc, v];

export function registerNet(program: Command): void {
  const net = program.command("net").description("vnat networks (libvirt networks with vnat metadata)");
  const create = net
    .command("create <name>")
    .description("define a libvirt network run by vnat (start it with: virsh net-start NAME)")
    .requiredOption("--subnet <cidr>", "the guests' subnet, e.g. 10.0.0.0/24 (gateway: its first host)")
    .requiredOption("--provider <bridge>", "the provider network to take the uplink on (see vnat provider list)")
    .option(
      "--uplink <addr[/prefix]|auto>",
      "vnat's address on the provider network, or auto: a free one from the pool",
      "auto",
    )
    .option("--gateway <addr>", "the provider's router (default: the provider's)")
    .option("--dns <addr>", "upstream DNS server (repeatable; default: the provider's)", collect)
    .option("--dhcp-range <start-end>", "DHCP range (default: the upper half of the subnet)")
    .option("--bridge <name>", "the libvirt bridge's name (default: a free vnatbrN)")
    .option("--template <file>", "network XML to start from (default: vnat's xml-templates/vnat-network.xml)")
    .option(
      "--subnet6 <prefix>",
      "IPv6 for the guests too: their prefix, e.g. fd00:a::/64 (gateway: its first host; RA)",
    )
    .option(
      "--uplink6 <addr[/prefix]|auto>",
      "vnat's IPv6 address on the provider network (default with --subnet6: auto, from the pool6)",
    )
    .option(
      "--mode6 <nat66|nptv6|routed>",
      "how the guests' IPv6 leaves: nat66 (default), nptv6 (needs --prefix6) or routed",
    )
    .option("--prefix6 <prefix>", "nptv6: the provider /64 the subnet6 maps onto; routed: the subnet6 itself")
    .option("--dhcp6", "stateful DHCPv6 besides SLAAC")
    .option("--autostart", "start the network when libvirt starts");
  changeOptions(
    create,
    "validate everything as the network's start would, and print what would be defined (its XML too); change nothing",
  ).action(async (name: string, o: Record<string, unknown>) => (await import("./create.ts")).netCreate(name, o));
  const del = net
    .command("delete <net>")
    .description("undefine a vnat network (refused while it is active, unless --force)")
    .option("--force", "stop the network first when it is active");
  changeOptions(del).action(async (name: string, o: { force?: boolean; json?: boolean }) =>
    (await import("./actions.ts")).netDelete(name, o),
  );
  const set = net
    .command("set <net> <key=value...>")
    .description(
      "change a network's uplink, dns, dhcp, dhcp-range, dhcp-lease, isolation-host or isolation-provider (validated, defined, applied live when active; see docs/net-set.md)",
    );
  changeOptions(set, "validate the change as the network's start would and print it; change nothing").action(
    async (name: string, words: string[], o: { dryRun?: boolean; json?: boolean }) =>
      (await import("./set.ts")).netSet(name, words, o),
  );
  net
    .command("show <net>")
    .description("show a network's configuration beside what runs (forwards, floating IPs, hosts, dnsmasq, links)")
    .option("--json", "print JSON")
    .action(async (name: string, o: { json?: boolean }) => (await import("./show.ts")).netShow(name, o));
  const adopt = net
    .command("adopt <net>")
    .description(
      "turn a libvirt NAT network into a vnat network, keeping its bridge, subnet, DHCP range and reservations (docs/adopt.md)",
    )
    .requiredOption("--provider <bridge>", "the provider network to take the uplink on (see vnat provider list)")
    .option(
      "--uplink <addr[/prefix]|auto>",
      "vnat's address on the provider network, or auto: a free one from the pool",
      "auto",
    )
    .option("--restart", "switch an active network now: restart it and move its running guests over");
  changeOptions(adopt, "validate everything and print the vnat definition it would write; change nothing").action(
    async (name: string, o: { provider: string }) => (await import("./adopt.ts")).netAdopt(name, o),
  );
  const release = net
    .command("release <net>")
    .description(
      "turn a vnat network back into a libvirt NAT network (same bridge, subnet, DHCP range; hosts as reservations)",
    )
    .option("--force", "drop port forwards and floating IPs (libvirt NAT has none) instead of refusing")
    .option("--restart", "switch an active network now: restart it and move its running guests over");
  changeOptions(release, "validate everything and print the libvirt definition it would write; change nothing").action(
    async (name: string, o: object) => (await import("./adopt.ts")).netRelease(name, o),
  );
  net
    .command("list")
    .description("list vnat networks")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => (await import("./actions.ts")).netList(o));
}
