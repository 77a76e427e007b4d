// The sandbox world now lives in src/sandbox/world.ts, so `vnat demo` can ship it; tests
// keep importing it from here. Here each world's provider bridge is also listed in this
// test process's own vnat config (TEST_CONFIG), which test/support/hook.ts runHook uses when
// a test names no config: vnat accepts uplinks only on configured providers (core/policy.ts).
import { mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { createWorld as createSandboxWorld, PROVIDER_GATEWAY, PROVIDER_PREFIX } from "../../src/sandbox/world.ts";
import type { World, WorldOptions } from "../../src/sandbox/world.ts";

export * from "../../src/sandbox/world.ts";

const DIR = "/run/vnat-test/config";
/** The config file hook-driven tests of this process run with (every live world's provider). */
export const TEST_CONFIG = `${DIR}/${process.pid}.json`;
const providers = new Set<string>();

function writeTestConfig(): void {
  mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const list = [...providers].map((bridge) => ({ bridge, gateway: `${PROVIDER_GATEWAY}/${PROVIDER_PREFIX}` }));
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

export async function createWorld(opts: WorldOptions = {}): Promise<World> {
  const w = await createSandboxWorld(opts);
  providers.add(w.providerBridge);
  writeTestConfig();
  const destroy = w.destroy.bind(w);
  w.destroy = async () => {
    providers.delete(w.providerBridge);
    writeTestConfig();
    await destroy();
  };
  return w;
}
