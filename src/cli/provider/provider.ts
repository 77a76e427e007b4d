// `vnat provider add|list|remove`: the provider networks in vnat's config file.
import type { Command } from "commander";
import { changeOptions } from "../output.ts";

// no default value: commander would print it in the help as "(default: [])"
const collect = (v: string, acc: string[] = []): string[] => [...acc, v];

export function registerProvider(program: Command): void {
  const provider = program.command("provider").description("provider networks (bridges vnat takes uplinks on)");
  const add = provider
    .command("add <bridge>")
    .description("add a provider network to the config")
    .requiredOption("--gateway <addr[/prefix]>", "the provider's router (prefix: the provider subnet, default /24)")
    .option("--pool <start-end>", "addresses --uplink auto may hand out, e.g. 198.51.100.10-198.51.100.99")
    .option("--dns <addr>", "DNS server for networks on this provider (repeatable)", collect)
    .option(
      "--attach <auto|veth|macvlan>",
      "how uplinks attach to the bridge: macvlan (faster), veth (reachable from the host's own address on the bridge), auto: veth when the bridge has a host address or passes its frames to iptables (br_netfilter)",
    )
    .option("--gateway6 <addr/prefix>", "the provider's IPv6 router and prefix (/48 to /64), e.g. 2001:db8:100::1/64")
    .option("--pool6 <start-end>", "IPv6 addresses --uplink6 auto may hand out (needs --gateway6)")
    .option("--dns6 <addr>", "IPv6 DNS server for networks on this provider (repeatable)", collect);
  changeOptions(add).action(
    async (
      bridge: string,
      o: {
        gateway: string;
        pool?: string;
        dns?: string[];
        attach?: string;
        gateway6?: string;
        pool6?: string;
        dns6?: string[];
        json?: boolean;
      },
    ) => (await import("./actions.ts")).providerAdd(bridge, o),
  );
  provider
    .command("list")
    .description("list provider networks")
    .option("--json", "print JSON")
    .action(async (o: { json?: boolean }) => (await import("./actions.ts")).providerList(o));
  const set = provider
    .command("set <bridge> <key=value...>")
    .description(
      "change a provider's gateway, pool, dns, attach, uplinksInPool, gateway6, pool6 or dns6 (refused when a running network would be stranded)",
    );
  changeOptions(set, "validate the change and print it; change nothing").action(
    async (bridge: string, words: string[], o: { dryRun?: boolean; json?: boolean }) =>
      (await import("./set.ts")).providerSet(bridge, words, o),
  );
  const remove = provider
    .command("remove <bridge>")
    .description("remove a provider network from the config (refused while a vnat network uses it)")
    .option("--force", "remove it even though vnat networks use it");
  changeOptions(remove).action(async (bridge: string, o: { force?: boolean; json?: boolean }) =>
    (await import("./actions.ts")).providerRemove(bridge, o),
  );
}
