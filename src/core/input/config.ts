// vnat's config file (/etc/vnat/config.json): provider networks, which supply defaults
// (gateway, DNS, address pool) to the networks attached to them. Pure: text in, Config out.
import { invalid } from "../errors.ts";
import { formatSubnet, requireCidr, requireIp, requireRange, contains, type Cidr } from "../ipv4.ts";
import { validateIfname } from "./ifname.ts";
import { parseAttachChoice, type AttachChoice } from "./attach.ts";
import { parseProvider6, type Provider6, type Provider6Input } from "./config6.ts";

/** PROVIDER6: the IPv6 side, all optional (core/input/config6.ts) */
export interface Provider extends Provider6 {
  bridge: string;
  /** gateway address with the provider subnet's prefix */
  gateway: Cidr;
  pool?: { start: number; end: number };
  dns: number[];
  /** how uplinks attach to this bridge (core/input/attach.ts); "auto" unless the config says otherwise */
  attach: AttachChoice;
  /** uplinks and floating IPs on this provider only from its pool (core/input/policy.ts) */
  uplinksInPool?: boolean;
}

export interface Config {
  providers: Provider[];
  defaultProvider?: string;
  /** uplinks and floating IPs only on listed providers, inside their subnets (core/input/policy.ts); default true */
  strictUplinks?: boolean;
  /** lets a network's metadata open isolation to the host or the provider network; default false */
  allowOpenIsolation?: boolean;
}

export const EMPTY_CONFIG: Config = { providers: [] };

export interface ProviderInput extends Provider6Input {
  bridge: string;
  gateway: string;
  pool?: string;
  dns?: string[];
  attach?: string;
  uplinksInPool?: boolean;
}

export interface ConfigFile {
  providers?: ProviderInput[];
  defaultProvider?: string;
  start?: string;
  strictUplinks?: boolean;
  allowOpenIsolation?: boolean;
}

export function parseConfig(source: string, text: string): Config {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(`config ${source}: not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalid(`config ${source}: expected a JSON object`);
  const file = raw as ConfigFile;
  const known = ["providers", "defaultProvider", "start", "strictUplinks", "allowOpenIsolation"];
  for (const key of Object.keys(file))
    if (!known.includes(key)) throw invalid(`config ${source}: unknown key "${key}" (allowed: ${known.join(", ")})`);
  for (const key of ["strictUplinks", "allowOpenIsolation"] as const)
    if (file[key] !== undefined && typeof file[key] !== "boolean")
      throw invalid(`config ${source}: "${key}" must be true or false, got ${JSON.stringify(file[key])}`);
  // "start" chose between building at `started` and building after it; only the first is
  // left (a network is ready when `virsh net-start` returns), and the key stays readable.
  if (file.start !== undefined && file.start !== "foreground")
    throw invalid(
      `config ${source}: "start" must be "foreground", got ${JSON.stringify(file.start)} (the background start was removed: vnat builds before virsh net-start returns; delete the key)`,
    );
  if (file.providers !== undefined && !Array.isArray(file.providers))
    throw invalid(`config ${source}: "providers" must be an array`);
  const providers = (file.providers ?? []).map((p, i) => parseProvider(`config ${source}: providers[${i}]`, p));
  const seen = new Set<string>();
  for (const p of providers) {
    if (seen.has(p.bridge)) throw invalid(`config ${source}: provider bridge "${p.bridge}" listed twice`);
    seen.add(p.bridge);
  }
  if (file.defaultProvider !== undefined && !seen.has(file.defaultProvider))
    throw invalid(`config ${source}: defaultProvider "${file.defaultProvider}" is not a listed provider bridge`);
  return {
    providers,
    defaultProvider: file.defaultProvider,
    ...(file.strictUplinks !== undefined ? { strictUplinks: file.strictUplinks } : {}),
    ...(file.allowOpenIsolation !== undefined ? { allowOpenIsolation: file.allowOpenIsolation } : {}),
  };
}

export function parseProvider(where: string, p: ProviderInput): Provider {
  if (!p || typeof p !== "object") throw invalid(`${where}: expected an object`);
  if (typeof p.bridge !== "string") throw invalid(`${where}: "bridge" must be a string`);
  const bridge = validateIfname(`${where} bridge`, p.bridge);
  if (typeof p.gateway !== "string")
    throw invalid(`${where} (${bridge}): "gateway" must be a string like 198.51.100.1/24`);
  const gwText = p.gateway.includes("/") ? p.gateway : `${p.gateway}/24`;
  const gateway = requireCidr(`provider ${bridge} gateway`, gwText);
  const pool = p.pool === undefined ? undefined : requireRange(`provider ${bridge} pool`, String(p.pool));
  if (pool && !(contains(gateway, pool.start) && contains(gateway, pool.end)))
    throw invalid(`provider ${bridge} pool "${p.pool}": outside the provider subnet ${formatSubnet(gateway)}`);
  if (pool && gateway.address >= pool.start && gateway.address <= pool.end)
    throw invalid(`provider ${bridge} pool "${p.pool}": includes the gateway`);
  if (p.dns !== undefined && !Array.isArray(p.dns)) throw invalid(`${where} (${bridge}): "dns" must be an array`);
  const dns = (p.dns ?? []).map((d) => requireIp(`provider ${bridge} dns`, String(d)));
  const attach = parseAttachChoice(`provider ${bridge}`, p.attach);
  if (p.uplinksInPool !== undefined && typeof p.uplinksInPool !== "boolean")
    throw invalid(`provider ${bridge}: "uplinksInPool" must be true or false`);
  if (p.uplinksInPool && !pool) throw invalid(`provider ${bridge}: "uplinksInPool" needs a "pool"`);
  return {
    bridge,
    gateway,
    pool,
    dns,
    attach,
    ...(p.uplinksInPool ? { uplinksInPool: true } : {}),
    ...parseProvider6(bridge, p),
  };
}

export function findProvider(config: Config, bridge: string | undefined): Provider | undefined {
  if (bridge !== undefined) return config.providers.find((p) => p.bridge === bridge);
  const dflt = config.defaultProvider ?? (config.providers.length === 1 ? config.providers[0]?.bridge : undefined);
  return config.providers.find((p) => p.bridge === dflt);
}
