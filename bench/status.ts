// How long `vnat status` and a no-op `vnat reconcile` take with N running vnat networks
// (default 100), started for real by `virsh net-start` through the hook, in a sandbox
// world (provider bridge and namespaces only; nothing on the host's own network).
//   node --import tsx bench/status.ts [N]
import { execa } from "execa";
import { join } from "node:path";
import { readdir } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import { dumpNetworks, virshBatch } from "../src/adapters/libvirt/virsh.ts";
import { buildBundles, ensureDaemons, REPO, useHook } from "../test/support/libvirt.ts";
import { createWorld } from "../test/support/world.ts";

const N = Number(process.argv[2] ?? 100);
const CLI = join(REPO, "dist/cli.js");

function networkXml(
  name: string,
  bridge: string,
  uplink: string,
  w: { providerBridge: string; providerGateway: string; upstreamDns: string },
): string {
  return `<network><name>${name}</name><bridge name='${bridge}' stp='off' delay='0'/><metadata>
<vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:lan address="10.0.0.1/24"/>
<vnat:uplink bridge="${w.providerBridge}" address="${uplink}/24" gateway="${w.providerGateway}"/>
<vnat:dns upstream="${w.upstreamDns}"/></vnat:network></metadata></network>`;
}

/** Wall time, and CPU time of vnat and every process it ran (GNU time): on a loaded machine the
 * CPU figure says what the command costs, the wall figure what the load made of it. */
async function time(args: string[], runs = 5): Promise<{ median: number; all: number[]; cpu: number }> {
  const all: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await execa("/usr/bin/time", ["-f", "%U %S", process.execPath, CLI, ...args], { reject: false });
    if (r.exitCode !== 0) throw new Error(`vnat ${args.join(" ")}: ${r.stderr}`);
    all.push(Math.round(performance.now() - t0));
    const [u, sys] = String(r.stderr).trim().split("\n").pop()!.split(" ").map(Number);
    cpus.push(Math.round((u! + sys!) * 1000));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { median: median(all), all, cpu: median(cpus) };
}

/** Where the time of one status goes, measured in-process (no node start-up, no bundle load). */
async function breakdown(only: string[]): Promise<void> {
  const { readLibvirtNetworks } = await import("../src/adapters/libvirt/view.ts");
  const { probeAll } = await import("../src/exec/probe/observe.ts");
  const { referenceRulesets } = await import("../src/exec/probe/reference-rulesets.ts");
  const { probeNetns } = await import("../src/exec/probe/netns.ts");
  const { mapLimit } = await import("../src/adapters/async.ts");
  const { processRunner } = await import("../src/exec/run.ts");
  const { roots } = await import("../src/adapters/store/roots.ts");
  const { loadConfig } = await import("../src/adapters/store/config-file.ts");
  const { desiredSpec } = await import("../src/core/input/desired.ts");
  const r = roots();
  const config = await loadConfig(r.config);
  let t = performance.now();
  const nets = await readLibvirtNetworks();
  const lap = (what: string): void => {
    console.log(`  ${what}: ${Math.round(performance.now() - t)} ms`);
    t = performance.now();
  };
  lap(`virsh net-list + one batch of ${nets.length} dumps`);
  const specs = nets.filter((n) => only.includes(n.name)).map((n) => desiredSpec(n.xml, n.persistentXml, config).spec!);
  await referenceRulesets(processRunner, specs);
  lap(`reference rulesets of ${specs.length} networks (one nft)`);
  await mapLimit(specs, 8, (s) =>
    probeNetns(processRunner, s.names.netns).catch((e: Error) => console.log(`  ${e.message}`)),
  );
  lap(`${specs.length} namespace probes (8 at a time)`);
  const cpu0 = process.cpuUsage();
  await probeAll({ runner: processRunner, roots: r, config, networks: nets, only });
  const cpu = process.cpuUsage(cpu0);
  lap(`probeAll of the ${only.length} (Node's own CPU: ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
}

await ensureDaemons();
await buildBundles();
const hook = await useHook();
const world = await createWorld();
const names = Array.from({ length: N }, (_, i) => `vbn-${world.tag}-${i}`);
const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
const dir = await mkdtemp("/tmp/vnat-bench-");
try {
  // every uplink in the sandbox provider's 198.51.100.0/24
  if (N > 200) throw new Error("at most 200 networks (uplinks in 198.51.100.0/24)");
  await Promise.all(
    names.map((n, i) =>
      writeFile(join(dir, `${i}.xml`), networkXml(n, `vbb-${world.tag}${i}`, `198.51.100.${20 + i}`, world)),
    ),
  );
  const t0 = performance.now();
  await virshBatch(names.map((_, i) => ["net-define", join(dir, `${i}.xml`)]));
  await virshBatch(names.map((n) => ["net-start", n]));
  console.log(`started ${N} networks through the hook in ${Math.round(performance.now() - t0)} ms`);
  const live = await dumpNetworks(names);
  if (live.size !== N) throw new Error(`only ${live.size} of ${N} networks are defined`);
  // a hook swapped out by a concurrent install test, say, leaves networks without a namespace
  const first = await time(["reconcile", ...names], 1);
  console.log(`first vnat reconcile (creates whatever the hook did not): ${first.median} ms wall, ${first.cpu} ms CPU`);
  await breakdown(names);
  if (process.env.BENCH_PROFILE) {
    // where Node's own time goes: node --cpu-prof, summarized by self time per function
    await execa(process.execPath, [
      "--cpu-prof",
      "--cpu-prof-dir",
      process.env.BENCH_PROFILE,
      CLI,
      "status",
      "--json",
      ...names,
    ]);
    console.log(`  CPU profile written to ${process.env.BENCH_PROFILE}`);
  }
  const status = await time(["status", "--json", ...names]);
  console.log(
    `vnat status --json NAME... (the ${N} bench networks): median ${status.median} ms wall, ${status.cpu} ms CPU of all its processes; runs ${status.all.join(" ")}`,
  );
  console.log(
    `load average meanwhile: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(" ")} on ${availableParallelism()} CPUs`,
  );
  const table = await time(["status", ...names]);
  const whole = await time(["status", "--json"], 3);
  console.log(`vnat status NAME... (table): median ${table.median} ms wall, ${table.cpu} ms CPU`);
  const hostNets = (await readdir("/run/netns")).filter((n) => n.startsWith("vnat-")).length;
  console.log(
    `vnat status --json (whole host: ${hostNets} vnat namespaces): median ${whole.median} ms wall, ${whole.cpu} ms CPU`,
  );
  const rec = await time(["reconcile", ...names], 3);
  console.log(`vnat reconcile (${N} healthy networks, nothing to do): median ${rec.median} ms wall, ${rec.cpu} ms CPU`);
  const r = await execa(process.execPath, [CLI, "status", "--json", ...names]);
  const doc = JSON.parse(r.stdout) as { networks: Array<{ name: string; health: string }> };
  const mine = doc.networks.filter((n) => names.includes(n.name));
  console.log(`health of the bench networks: ${[...new Set(mine.map((n) => n.health))].join(", ")} (${mine.length})`);
} finally {
  await virshBatch(names.map((n) => ["net-destroy", n])).catch(() => []);
  await virshBatch(names.map((n) => ["net-undefine", n])).catch(() => []);
  // a `stopped` the hook missed (a concurrent test swapping the hook file) left namespaces:
  // what reconcile is for
  await execa(process.execPath, [CLI, "reconcile", "-q", "--force", ...names], { reject: false });
  await world.destroy();
  await hook.release();
  await rm(dir, { recursive: true, force: true });
}
