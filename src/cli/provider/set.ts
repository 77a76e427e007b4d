// `vnat provider set BR key=value…`: changes one provider in vnat's config file, under the
// config's lock, validated by the config's own parser; refused when a running network on
// the bridge could not start again with the new settings (core/edit/netset.ts checkStranded).
import { readConfigFile, updateConfigFile } from "../../adapters/store/config-store.ts";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { roots } from "../../adapters/store/roots.ts";
import { parseConfig, type ConfigFile, type ProviderInput } from "../../core/input/config.ts";
import {
  applyProviderSet,
  checkStranded,
  parseAssignments,
  PROVIDER_KEYS,
  type ProviderKey,
} from "../../core/edit/netset.ts";
import { report } from "../output.ts";
import { requireRoot } from "../root.ts";

export async function providerSet(
  bridge: string,
  words: string[],
  o: { dryRun?: boolean; json?: boolean },
): Promise<void> {
  requireRoot("provider set");
  const assigns = parseAssignments<ProviderKey>(`provider "${bridge}"`, words, PROVIDER_KEYS);
  const path = roots().config;
  const running = (await readLibvirtNetworks()).filter((n) => n.active);
  let before: ProviderInput | undefined;
  const change = (file: ConfigFile): ConfigFile => {
    before = file.providers?.find((p) => p.bridge === bridge);
    const next = applyProviderSet(file, bridge, assigns);
    const after = parseConfig(path, JSON.stringify(next));
    checkStranded(bridge, parseConfig(path, JSON.stringify(file)), after, running);
    return next;
  };
  const next = o.dryRun ? change(await readConfigFile(path)) : await updateConfigFile(path, change);
  const provider = next.providers?.find((p) => p.bridge === bridge);
  const json = { provider: bridge, before: before ?? null, after: provider ?? null };
  const lines = assigns.map(({ key }) => {
    const show = (p: ProviderInput | undefined): string => {
      const v = p?.[key];
      return v === undefined ? "-" : Array.isArray(v) ? v.join(",") || "-" : String(v);
    };
    return `  ${key}: ${show(before)} -> ${show(provider)}`;
  });
  const head = o.dryRun
    ? `provider "${bridge}": dry run, nothing changed; valid:`
    : `provider "${bridge}": updated in ${path}`;
  const note =
    "  running networks on it use the new settings at their next start (vnat status shows where they differ; vnat reconcile applies them)";
  await report(o, [head, ...lines, ...(o.dryRun ? [] : [note])], json);
}
