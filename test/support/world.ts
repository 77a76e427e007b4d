// The sandbox world (test/support/sandbox.ts) as tests use it: each world's provider bridge
// is also listed in this test process's own vnat config (TEST_CONFIG), which
// test/support/hook.ts runHook uses when a test names no config: vnat accepts uplinks only
// on configured providers (core/input/policy.ts).
import { existsSync, mkdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { configLockPath } from "../../src/adapters/store/config-store.ts";
import { writeAtomic } from "../../src/adapters/store/files.ts";
import { withLock } from "../../src/adapters/store/lock.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import { parseConfig, type ConfigFile } from "../../src/core/input/config.ts";
import {
  createWorld as createSandboxWorld,
  PROVIDER_GATEWAY,
  PROVIDER_GATEWAY6,
  PROVIDER_PREFIX,
  PROVIDER_PREFIX6,
  UPSTREAM_DNS,
} from "./sandbox.ts";
import type { World, WorldOptions } from "./sandbox.ts";

export * from "./sandbox.ts";

const DIR = "/run/vnat-test/config";
/** The config file hook-driven tests of this process run with (every live world's provider). */
export const TEST_CONFIG = `${DIR}/${process.pid}.json`;
const providers = new Set<string>();
/** every world's provider carries IPv6 too (issue 17): its gateway6, and a pool6 for `--uplink6 auto` */
export const PROVIDER6 = {
  gateway6: `${PROVIDER_GATEWAY6}/${PROVIDER_PREFIX6}`,
  pool6: "2001:db8:100::100-2001:db8:100::1ff",
};

function writeTestConfig(): void {
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const list = [...providers].map((bridge) => ({
    bridge,
    gateway: `${PROVIDER_GATEWAY}/${PROVIDER_PREFIX}`,
    ...PROVIDER6,
  }));
  // tests of other features may open isolation; the policy's defaults have their own tests (uplink-policy, policy)
  writeFileSync(TEST_CONFIG, JSON.stringify({ providers: list, allowOpenIsolation: true }, null, 2) + "\n", {
    mode: 0o600,
  });
}
writeTestConfig();
process.on("exit", () => {
  try {
    unlinkSync(TEST_CONFIG); // not left for the next process with this pid
  } catch {
    /* gone already */
  }
});

/**
 * The hook libvirt runs reads the host's config (/etc/vnat/config.json), as it does for an
 * administrator: while a world lives, its provider is listed there too, under the config's
 * lock, and the file (and /etc/vnat) go again when tests made them and nothing else is left.
 */
const SYSTEM = roots().config;
const MADE = "/run/vnat-test/system-config-made-by-test";

export async function listInSystemConfig(bridge: string, on: boolean): Promise<void> {
  const dirWas = existsSync(dirname(SYSTEM)); // the lock below makes the directory
  let removeDir = false;
  await withLock(configLockPath(SYSTEM), async () => {
    const had = existsSync(SYSTEM);
    const file = had ? (JSON.parse(readFileSync(SYSTEM, "utf8")) as ConfigFile) : { providers: [] };
    const others = (file.providers ?? []).filter((p) => p.bridge !== bridge);
    const mine = { bridge, gateway: `${PROVIDER_GATEWAY}/${PROVIDER_PREFIX}`, dns: [UPSTREAM_DNS], ...PROVIDER6 };
    const next = { ...file, providers: on ? [...others, mine] : others };
    if (!had) {
      mkdirSync(DIR, { recursive: true });
      writeFileSync(MADE, dirWas ? "file" : "dir");
    }
    if (!on && existsSync(MADE) && JSON.stringify(next) === JSON.stringify({ providers: [] })) {
      removeDir = readFileSync(MADE, "utf8") === "dir";
      unlinkSync(SYSTEM);
      unlinkSync(MADE);
      return;
    }
    const text = JSON.stringify(next, null, 2) + "\n";
    parseConfig(SYSTEM, text);
    await writeAtomic(SYSTEM, text, 0o644);
  });
  if (removeDir) {
    try {
      rmdirSync(dirname(SYSTEM));
    } catch {
      /* something else lives there now */
    }
  }
}

export async function createWorld(opts: WorldOptions = {}): Promise<World> {
  const w = await createSandboxWorld(opts);
  providers.add(w.providerBridge);
  writeTestConfig();
  await listInSystemConfig(w.providerBridge, true);
  const destroy = w.destroy.bind(w);
  w.destroy = async () => {
    providers.delete(w.providerBridge);
    writeTestConfig();
    await listInSystemConfig(w.providerBridge, false);
    await destroy();
  };
  return w;
}
