// The IPv6 side of `vnat net create` (issue 17): --subnet6, --uplink6, --mode6, --prefix6 and
// --dhcp6 turned into the metadata's lan6/uplink6 elements. The address checks of the whole
// network stay with buildSpec (core/input/spec6.ts), which netcreate.ts runs on the very
// document it defines; here only what the options themselves mean. Pure.
import { conflict, invalid } from "../errors.ts";
import { allocateUplink6, gateway6Of } from "../input/config6.ts";
import type { Provider } from "../input/config.ts";
import type { Metadata6Model } from "../input/metadata6.ts";
import { MODES6 } from "../input/spec6.ts";
import { formatCidr6, formatIp6, networkOf6, parseCidr6, parseIp6, requireCidr6 } from "../ipv6.ts";
import type { KnownNetwork } from "../observe/inventory.ts";

export interface Create6Options {
  /** the guests' IPv6 prefix, e.g. fd00:a::/64 (gateway: its first host) */
  subnet6?: string;
  /** "ADDR[/PREFIX]" or "auto" (the default when subnet6 is given) */
  uplink6?: string;
  mode6?: string;
  /** nptv6: the provider /64 the subnet6 maps onto; routed: the subnet6 itself (optional) */
  prefix6?: string;
  /** stateful DHCPv6 besides SLAAC */
  dhcp6?: boolean;
}

export interface Plan6 {
  model: Pick<Metadata6Model, "lan6" | "uplink6">;
  uplink6WasAuto: boolean;
}

const OTHERS = ["uplink6", "mode6", "prefix6", "dhcp6"] as const;
const FLAG: Record<(typeof OTHERS)[number], string> = {
  uplink6: "--uplink6",
  mode6: "--mode6",
  prefix6: "--prefix6",
  dhcp6: "--dhcp6",
};

/** The IPv6 uplinks (canonical, no prefix) other networks on PROVIDER hold, floating6 included. */
export function takenUplinks6(networks: readonly KnownNetwork[], provider: string): string[] {
  const out: string[] = [];
  for (const n of networks) {
    if (n.uplinkBridge !== provider || !n.vnat) continue;
    const up = n.vnat.uplink6?.address;
    const c = up !== undefined ? parseCidr6(up) : undefined;
    if (c) out.push(formatIp6(c.address));
    for (const f of n.vnat.floating6 ?? []) {
      const ip = parseIp6(f.address);
      if (ip !== undefined) out.push(formatIp6(ip));
    }
  }
  return out;
}

/** undefined when no IPv6 option was given (an IPv4-only network). WHERE: `network "NAME"`. */
export function planCreate6(
  where: string,
  o: Create6Options,
  provider: Provider,
  networks: readonly KnownNetwork[],
): Plan6 | undefined {
  if (o.subnet6 === undefined) {
    const stray = OTHERS.find((k) => o[k] !== undefined && o[k] !== false);
    if (stray) throw invalid(`${where}: ${FLAG[stray]} needs --subnet6 (the guests' IPv6 prefix, e.g. fd00:a::/64)`);
    return undefined;
  }
  const subnet = requireCidr6(`${where}: subnet6`, o.subnet6, 1, 64);
  if (networkOf6(subnet) !== subnet.address)
    throw invalid(
      `${where}: subnet6 "${o.subnet6}": expected a prefix (host bits zero) of /1 to /64, like fd00:a::/64`,
    );
  const gw6 = gateway6Of(provider);
  if (!gw6)
    throw invalid(
      `${where}: provider "${provider.bridge}" has no IPv6 (add it: vnat provider set ${provider.bridge} gateway6=ADDR/PREFIX)`,
    );
  const mode = o.mode6 ?? "nat66";
  if (!(MODES6 as readonly string[]).includes(mode))
    throw invalid(`${where}: mode6 "${mode}": expected one of ${MODES6.join(", ")}`);
  if (mode === "nptv6" && o.prefix6 === undefined)
    throw invalid(`${where}: --mode6 nptv6 needs --prefix6 (the provider /64 the subnet6 maps onto)`);
  if (mode === "nat66" && o.prefix6 !== undefined)
    throw invalid(`${where}: --prefix6 is for --mode6 nptv6 or routed, not nat66`);

  const taken = takenUplinks6(networks, provider.bridge);
  const auto = o.uplink6 === undefined || o.uplink6 === "auto";
  let uplink6: string;
  if (auto) {
    if (!provider.pool6)
      throw invalid(
        `${where}: provider "${provider.bridge}" has no pool6, so --uplink6 auto cannot pick an address (give --uplink6 ADDR/${gw6.prefix})`,
      );
    const picked = allocateUplink6(provider, taken);
    if (!picked)
      throw conflict(`${where}: provider "${provider.bridge}": every address of its pool6 is taken (--uplink6 ADDR)`);
    uplink6 = picked;
  } else {
    const text = o.uplink6!.includes("/") ? o.uplink6! : `${o.uplink6}/${gw6.prefix}`;
    const up = requireCidr6(`${where}: uplink6`, text, 1, 128);
    uplink6 = formatCidr6(up);
    const ip = formatIp6(up.address);
    const holder = networks.find((n) => takenUplinks6([n], provider.bridge).includes(ip));
    if (holder)
      throw conflict(`${where}: uplink6 ${ip} on "${provider.bridge}" is already used by network "${holder.name}"`);
  }
  const prefix =
    o.prefix6 !== undefined ? formatCidr6(requireCidr6(`${where}: prefix6`, o.prefix6, 1, 128)) : undefined;
  return {
    model: {
      lan6: {
        address: formatCidr6({ address: subnet.address + 1n, prefix: subnet.prefix }),
        ...(o.dhcp6 ? { dhcp6: "yes" } : {}),
      },
      uplink6: { address: uplink6, ...(mode !== "nat66" ? { mode } : {}), ...(prefix ? { prefix } : {}) },
    },
    uplink6WasAuto: auto,
  };
}
