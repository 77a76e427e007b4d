// The provider commands' work: config changes go through the locked, atomic config store.
import { loadConfig } from "../../adapters/store/config-file.ts";
import { readConfigFile, updateConfigFile } from "../../adapters/store/config-store.ts";
import { probeNetworks } from "../../adapters/libvirt/host-view.ts";
import { roots } from "../../adapters/store/roots.ts";
import { conflict } from "../../core/errors.ts";
import { addProvider, removeProvider } from "../../core/edit/providers.ts";
import { canonicalProvider6 } from "../../core/edit/provider6.ts";
import { report, type OutputFlags } from "../output.ts";
import { printTable } from "../table.ts";

/** `vnat provider add`'s options, as commander hands them over */
export interface ProviderAddOptions extends OutputFlags {
  gateway: string;
  pool?: string;
  dns?: string[];
  attach?: string;
  gateway6?: string;
  pool6?: string;
  dns6?: string[];
}

export async function providerAdd(bridge: string, o: ProviderAddOptions): Promise<void> {
  const path = roots().config;
  const { gateway, pool, dns, attach, gateway6, pool6, dns6 } = o;
  const file = await updateConfigFile(path, (f) =>
    addProvider(f, canonicalProvider6({ bridge, gateway, pool, dns, attach, gateway6, pool6, dns6 })),
  );
  const entry = file.providers?.find((p) => p.bridge === bridge);
  await report(o, `added provider "${bridge}" to ${path}`, {
    provider: entry ?? { bridge },
    config: path,
    added: true,
  });
}

export async function providerList(o: { json?: boolean }): Promise<void> {
  const file = await readConfigFile(roots().config);
  const providers = file.providers ?? [];
  if (o.json) {
    process.stdout.write(JSON.stringify(providers, null, 2) + "\n");
    return;
  }
  // IPv6 columns (issue 17) only once a provider has an IPv6 side
  const v6 = providers.some((p) => p.gateway6 !== undefined || p.pool6 !== undefined || p.dns6 !== undefined);
  await printTable(
    ["BRIDGE", "GATEWAY", "POOL", "DNS", "ATTACH", ...(v6 ? ["GATEWAY6", "POOL6", "DNS6"] : [])],
    providers.map((p) => [
      p.bridge,
      p.gateway,
      p.pool ?? "-",
      (p.dns ?? []).join(",") || "-",
      p.attach ?? "auto",
      ...(v6 ? [p.gateway6 ?? "-", p.pool6 ?? "-", (p.dns6 ?? []).join(",") || "-"] : []),
    ]),
    "no provider networks (add one: vnat provider add)",
  );
}

export async function providerRemove(bridge: string, o: { force?: boolean } & OutputFlags): Promise<void> {
  const path = roots().config;
  if (!o.force) {
    const users = (await probeNetworks(await loadConfig(path))).filter((n) => n.vnat && n.uplinkBridge === bridge);
    if (users.length)
      throw conflict(
        `provider "${bridge}": used by vnat network(s) ${users.map((n) => `"${n.name}"`).join(", ")} (delete them first, or use --force)`,
      );
  }
  let entry: unknown;
  await updateConfigFile(path, (f) => {
    entry = f.providers?.find((p) => p.bridge === bridge);
    return removeProvider(f, bridge);
  });
  await report(o, `removed provider "${bridge}" from ${path}`, {
    provider: entry ?? { bridge },
    config: path,
    removed: true,
  });
}
