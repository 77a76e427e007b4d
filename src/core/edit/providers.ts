// Adding and removing provider networks in vnat's config file contents. Pure: the file's
// JSON in, the changed JSON out, checked by the same parser that reads the config.
import { parseProvider, type ConfigFile, type ProviderInput } from "../input/config.ts";
import { invalid } from "../errors.ts";
import { PROVIDER6_KEYS } from "../input/config6.ts";

/** Adds a provider; the gateway is stored with its prefix (/24 when none was given). */
export function addProvider(file: ConfigFile, input: ProviderInput): ConfigFile {
  const gateway = input.gateway.includes("/") ? input.gateway : `${input.gateway}/24`;
  const entry: ProviderInput = { bridge: input.bridge, gateway, pool: input.pool, dns: input.dns ?? [] };
  if (entry.pool === undefined) delete entry.pool;
  if (input.attach !== undefined && input.attach !== "auto") entry.attach = input.attach;
  for (const k of PROVIDER6_KEYS) if (input[k] !== undefined) Object.assign(entry, { [k]: input[k] });
  parseProvider(`provider "${input.bridge}"`, entry);
  const providers = file.providers ?? [];
  if (providers.some((p) => p.bridge === input.bridge))
    throw invalid(`provider "${input.bridge}": already in the config (remove it first to change it)`);
  return { ...file, providers: [...providers, entry] };
}

export function removeProvider(file: ConfigFile, bridge: string): ConfigFile {
  const providers = file.providers ?? [];
  if (!providers.some((p) => p.bridge === bridge))
    throw invalid(`provider "${bridge}": not in the config (see vnat provider list)`);
  const next: ConfigFile = { ...file, providers: providers.filter((p) => p.bridge !== bridge) };
  if (next.defaultProvider === bridge) delete next.defaultProvider;
  return next;
}
