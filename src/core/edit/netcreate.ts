// `vnat net create` as a pure function: the options, the config, what the host already
// holds and the XML template in; the network document to define out. Everything is
// checked BEFORE libvirt sees anything, by the hook's own validation (buildSpec) run on
// the very document that will be defined.
import { pickBridgeName, pickUplink } from "./allocate.ts";
import type { Config } from "../input/config.ts";
import { conflict, invalid } from "../errors.ts";
import { validateIfname } from "../input/ifname.ts";
import { formatCidr, formatIp, networkOf, parseCidr, parseIp, requireCidr, requireIp, requireRange } from "../ipv4.ts";
import { parseNetworkXml, type KnownNetwork } from "../observe/inventory.ts";
import { renderMetadata, replaceMetadata, type MetadataModel } from "../input/metadata.ts";
import { validateNetworkName } from "../names.ts";
import { buildSpec, type NetSpec } from "../input/spec.ts";
import { planCreate6, type Create6Options } from "./netcreate6.ts";

/** Create6Options: --subnet6, --uplink6, --mode6, --prefix6, --dhcp6 (issue 17, netcreate6.ts) */
export interface CreateOptions extends Create6Options {
  name: string;
  subnet: string;
  provider: string;
  /** "A.B.C.D[/N]" or "auto" (the default) */
  uplink?: string;
  gateway?: string;
  dns?: string[];
  dhcpRange?: string;
  bridge?: string;
}

export interface HostView {
  networks: KnownNetwork[];
  /** interfaces present on the host (/sys/class/net) */
  links: ReadonlySet<string>;
  /** uplinks claimed by running vnat networks on the provider bridge */
  claimed: ReadonlySet<number>;
}

export interface CreatePlan {
  xml: string;
  spec: NetSpec;
  uplinkWasAuto: boolean;
  /** the uplink6 came from the provider's pool6 (false for an IPv4-only network) */
  uplink6WasAuto: boolean;
}

export function planCreate(o: CreateOptions, config: Config, host: HostView, template: string): CreatePlan {
  const name = validateNetworkName(o.name);
  const where = `network "${name}"`;
  if (host.networks.some((n) => n.name === name)) throw conflict(`${where}: already defined in libvirt`);
  const provider = config.providers.find((p) => p.bridge === o.provider);
  if (!provider)
    throw invalid(`${where}: provider "${o.provider}" is not in the config (add it with vnat provider add)`);

  const subnet = parseCidr(o.subnet);
  if (!subnet || subnet.prefix < 8 || subnet.prefix > 30 || networkOf(subnet) !== subnet.address)
    throw invalid(`${where}: subnet "${o.subnet}": expected a network address with prefix /8 to /30, like 10.0.0.0/24`);
  const lan = { address: subnet.address + 1, prefix: subnet.prefix };

  const taken = new Set<number>([provider.gateway.address, ...host.claimed]);
  for (const n of host.networks) if (n.uplinkBridge === provider.bridge && n.uplink) taken.add(n.uplink.address);
  // other networks' floating IPs (issue 5) are taken too, even while those networks are down
  const floatingOf = (n: KnownNetwork): number[] =>
    n.uplinkBridge === provider.bridge ? (n.vnat?.floating ?? []).flatMap((f) => parseIp(f.address) ?? []) : [];
  for (const n of host.networks) for (const ip of floatingOf(n)) taken.add(ip);
  const auto = o.uplink === undefined || o.uplink === "auto";
  let uplinkText: string;
  if (auto) {
    if (!provider.pool)
      throw invalid(
        `${where}: provider "${provider.bridge}" has no pool, so --uplink auto cannot pick an address (give --uplink A.B.C.D/N)`,
      );
    uplinkText = formatCidr({
      address: pickUplink(provider.bridge, provider.pool, taken),
      prefix: provider.gateway.prefix,
    });
  } else {
    uplinkText = o.uplink!.includes("/") ? o.uplink! : `${o.uplink}/${provider.gateway.prefix}`;
    const up = requireCidr(`${where}: uplink`, uplinkText);
    // the uplink's prefix is the provider's: a wrong one is named as such, not as an address outside it
    if (up.prefix !== provider.gateway.prefix)
      throw invalid(
        `${where}: uplink ${o.uplink}: provider "${provider.bridge}" is a /${provider.gateway.prefix} (give ${formatIp(up.address)}/${provider.gateway.prefix}, or the bare address)`,
      );
    const holder = host.networks.find(
      (n) =>
        (n.uplinkBridge === provider.bridge && n.uplink?.address === up.address) || floatingOf(n).includes(up.address),
    );
    if (holder)
      throw conflict(
        `${where}: uplink ${formatIp(up.address)} on "${provider.bridge}" is already used by network "${holder.name}"`,
      );
    if (host.claimed.has(up.address))
      throw conflict(
        `${where}: uplink ${formatIp(up.address)} on "${provider.bridge}" is held by a running vnat network`,
      );
  }

  const usedBridges = new Set<string>(host.links);
  for (const n of host.networks) if (n.bridge) usedBridges.add(n.bridge);
  let bridge: string;
  if (o.bridge !== undefined) {
    bridge = validateIfname(`${where}: bridge`, o.bridge);
    if (usedBridges.has(bridge))
      throw conflict(`${where}: bridge "${bridge}" is already used by another network or interface`);
  } else bridge = pickBridgeName(usedBridges);

  const range = o.dhcpRange === undefined ? undefined : requireRange(`${where}: dhcp range`, o.dhcpRange);
  const six = planCreate6(where, o, provider, host.networks);
  const gateway =
    o.gateway !== undefined ? formatIp(requireIp(`${where}: gateway`, o.gateway)) : formatIp(provider.gateway.address);
  const dns = o.dns?.length ? o.dns.map((d) => formatIp(requireIp(`${where}: dns`, d))) : provider.dns.map(formatIp);
  const model: MetadataModel = {
    lan: {
      address: formatCidr(lan),
      dhcp: range ? { start: formatIp(range.start), end: formatIp(range.end) } : undefined,
    },
    uplink: { bridge: provider.bridge, address: uplinkText, gateway },
    dns,
    ...six?.model,
  };
  const xml = fillTemplate(template, name, bridge, model);
  return {
    xml,
    spec: buildSpec(parseNetworkXml(xml), config),
    uplinkWasAuto: auto,
    uplink6WasAuto: six?.uplink6WasAuto ?? false,
  };
}

/** The template with its comments dropped and its name, bridge and metadata replaced. */
export function fillTemplate(template: string, name: string, bridge: string, model: MetadataModel): string {
  const body = template.replace(/<!--[\s\S]*?-->\s*/g, "").trimStart();
  if (!/<name>[^<]*<\/name>/.test(body) || !/<bridge\s[^>]*name=["'][^"']*["']/.test(body))
    throw invalid(`network template: needs a name element and a bridge element with a name attribute`);
  const named = body
    .replace(/<name>[^<]*<\/name>/, () => `<name>${name}</name>`)
    .replace(/(<bridge\s[^>]*name=)["'][^"']*["']/, (_m, pre: string) => `${pre}"${bridge}"`);
  return replaceMetadata(named, renderMetadata(model));
}
