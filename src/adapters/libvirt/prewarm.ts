// After vnat defines a network, it remembers the document libvirt will send at its next
// `start begin` (core/hookcache.ts), so even the first `virsh net-start` skips Node there.
// Best effort: a miss only means Node answers that one start.
import { readFileSync } from "node:fs";
import { buildSpec } from "../../core/input/spec.ts";
import { parseHookData } from "../../core/input/hookdata.ts";
import { hookCacheKey, renderCacheEntry, startHookData } from "../../core/hookcache.ts";
import type { Roots } from "../../core/paths.ts";
import { loadConfigHashed } from "../store/config-file.ts";
import { writeCacheEntry } from "../store/hookcache.ts";
import { dumpNetworks } from "./virsh.ts";
import { enforcePolicy, fibHash } from "../../exec/probe/policy-facts.ts";
import { processRunner } from "../../exec/run.ts";

/** The build id next to the running bundle (dist/build-id); undefined when run from source. */
function buildId(): string | undefined {
  try {
    return readFileSync(new URL("./build-id", import.meta.url), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function rememberDefinition(roots: Roots, name: string): Promise<boolean> {
  const id = buildId();
  if (id === undefined) return false;
  try {
    // by UUID, as every virsh call of vnat's (a name is never a virsh argument of its own)
    const xml = (await dumpNetworks([name], true)).get(name);
    if (xml === undefined) return false;
    const data = startHookData(xml);
    const { config, hash } = await loadConfigHashed(roots.config);
    const fib = await fibHash();
    const spec = buildSpec(parseHookData(data).network, config);
    await enforcePolicy(processRunner, roots, spec, config);
    await writeCacheEntry(roots, name, hookCacheKey(id, data), renderCacheEntry(spec, hash, fib));
    return true;
  } catch {
    return false;
  }
}
