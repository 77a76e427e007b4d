// The provider commands' work: config changes go through the locked, atomic config store.
import { loadConfig } from "../adapters/config-file.ts";
import { readConfigFile, updateConfigFile } from "../adapters/config-store.ts";
import { probeNetworks } from "../adapters/host-view.ts";
import { roots } from "../adapters/roots.ts";
import { conflict } from "../core/errors.ts";
import { addProvider, removeProvider } from "../core/providers.ts";
import { printTable } from "./table.ts";

export async function providerAdd(
  bridge: string,
  o: { gateway: string; pool?: string; dns: string[]; attach?: string },
): Promise<void> {
  const path = roots().config;
  await updateConfigFile(path, (f) =>
    addProvider(f, { bridge, gateway: o.gateway, pool: o.pool, dns: o.dns, attach: o.attach }),
  );
  process.stdout.write(`added provider "${bridge}" to ${path}\n`);
}

export async function providerList(o: { json?: boolean }): Promise<void> {
  const file = await readConfigFile(roots().config);
  const providers = file.providers ?? [];
  if (o.json) {
    process.stdout.write(JSON.stringify(providers, null, 2) + "\n");
    return;
  }
  printTable(
    ["BRIDGE", "GATEWAY", "POOL", "DNS", "ATTACH"],
    providers.map((p) => [p.bridge, p.gateway, p.pool ?? "-", (p.dns ?? []).join(",") || "-", p.attach ?? "auto"]),
  );
}

export async function providerRemove(bridge: string, o: { force?: boolean }): Promise<void> {
  const path = roots().config;
  if (!o.force) {
    const users = (await probeNetworks(await loadConfig(path))).filter((n) => n.vnat && n.uplinkBridge === bridge);
    if (users.length)
      throw conflict(
        `provider "${bridge}": used by vnat network(s) ${users.map((n) => `"${n.name}"`).join(", ")} (delete them first, or use --force)`,
      );
  }
  await updateConfigFile(path, (f) => removeProvider(f, bridge));
  process.stdout.write(`removed provider "${bridge}" from ${path}\n`);
}
