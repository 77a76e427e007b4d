// Forward lookup cost (issue 13.5): what a new connection to a forwarded port costs with
// 10 forwards and with 5,000 (the cap), and with those 5,000 as the linear DNAT chain vnat
// rendered before it used maps (one rule per forward, the one asked for last). Three vnat
// networks of one sandbox world, built by the hook; in each a guest (10.0.0.5) accepts on
// the forwarded port, and a host on the provider network opens TCP connections to
// UPLINK:PORT, IN_FLIGHT at a time, each reset as soon as it is established: only the
// first packet of a connection walks the nat chain, so the figure is the lookup plus a
// constant. The networks take turns round after round, in a rotating order; each ratio
// is the median of a round's pairs.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { EMPTY_CONFIG } from "../src/core/input/config.ts";
import { parseHookData } from "../src/core/input/hookdata.ts";
import { formatIp } from "../src/core/ipv4.ts";
import { kernelNames } from "../src/core/names.ts";
import { NFT_TABLE } from "../src/core/plan/render.ts";
import { buildSpec, MAX_FORWARDS } from "../src/core/input/spec.ts";
import { hookData, type NetOpts } from "../test/support/fixtures.ts";
import { runHook, vnatDebris } from "../test/support/hook.ts";
import { nsExec, run, sleep, waitFor } from "../test/support/sh.ts";
import { createWorld, type World } from "../test/support/world.ts";
import { compare, figure, log, type Figure } from "./lib.ts";

const RUNS = Number(process.env.BENCH_FWD_RUNS ?? 9);
const SECONDS = Number(process.env.BENCH_FWD_SECONDS ?? 2);
const IN_FLIGHT = 4;
const SCRIPT = fileURLToPath(new URL("./connect-rate.mjs", import.meta.url));
const GUEST = "10.0.0.5";
/** the forward every connection asks for: the last one listed */
const PORT = 7000;
const CLIENT = "198.51.100.70";

type Variant = "n10" | "n5000" | "linear";
const LABELS: Record<Variant, string> = {
  n10: "new TCP connection through a forward, 10 forwards",
  n5000: `new TCP connection through a forward, ${MAX_FORWARDS.toLocaleString("en")} forwards (maps)`,
  linear: `… ${MAX_FORWARDS.toLocaleString("en")} forwards as one rule each (the chain before maps)`,
};

/**
 * N forwards, the measured one (tcp PORT) last. Prefix `v` and no whitespace: 5,000
 * forwards only just fit the 256 KiB a metadata document may have.
 */
function metadata(bridge: string, uplink: string, gateway: string, dns: string, n: number): string {
  const f: string[] = [];
  for (let i = 0; i < n - 1; i++) f.push(`<v:forward proto="tcp" port="${1001 + i}" to="${GUEST}"/>`);
  f.push(`<v:forward proto="tcp" port="${PORT}" to="${GUEST}"/>`);
  return (
    `<v:network xmlns:v="urn:vnat:network:1"><v:lan address="10.0.0.1/24"/>` +
    `<v:uplink bridge="${bridge}" address="${uplink}" gateway="${gateway}"/><v:dns upstream="${dns}"/>${f.join("")}</v:network>`
  );
}

interface Net {
  variant: Variant;
  opts: NetOpts;
  uplink: string;
}

async function startNet(w: World, variant: Variant, i: number): Promise<Net> {
  const uplink = `198.51.100.${71 + i}`;
  const n = variant === "n10" ? 10 : MAX_FORWARDS;
  const opts: NetOpts = {
    name: `b${w.tag}f${i}`,
    bridge: await w.addLanBridge(),
    metadata: metadata(w.providerBridge, `${uplink}/24`, w.providerGateway, w.upstreamDns, n),
  };
  for (const [op, sub] of [
    ["start", "begin"],
    ["started", "begin"],
  ] as const) {
    const r = await runHook(opts.name, op, sub, hookData(opts));
    if (r.exitCode !== 0) throw new Error(`${op} ${sub} of ${opts.name}: ${r.stderr.trim()}`);
  }
  if (variant === "linear") await linearChain(opts, uplink);
  const guest = await w.addGuest(opts.bridge);
  await guest.addStaticAddress(`${GUEST}/24`, "10.0.0.1");
  const p = await w.startProcess(guest.ns, `conn-server-${i}`, process.execPath, [SCRIPT, "server", String(PORT)]);
  await waitFor(() => readFileSync(p.logFile, "utf8").includes("listening"), 5000, `the server in ${guest.ns}`);
  return { variant, opts, uplink };
}

/** Replaces the namespace's prerouting chain with one DNAT rule per forward, in order (vnat before maps). */
async function linearChain(o: NetOpts, uplink: string): Promise<void> {
  const spec = buildSpec(parseHookData(hookData(o)).network, EMPTY_CONFIG);
  const rules = (spec.forwards ?? []).map(
    (f) =>
      `add rule ip ${NFT_TABLE} prerouting ip daddr ${uplink} ${f.proto} dport ${f.port} dnat to ${formatIp(f.to)}:${f.toPort}`,
  );
  await run("ip", ["netns", "exec", kernelNames(o.name).netns, "nft", "-f", "-"], {
    input: `flush chain ip ${NFT_TABLE} prerouting\n${rules.join("\n")}\n`,
  });
  const listed = await run("ip", [
    "netns",
    "exec",
    kernelNames(o.name).netns,
    "nft",
    "list",
    "chain",
    "ip",
    NFT_TABLE,
    "prerouting",
  ]);
  const count = listed.stdout.split("\n").filter((l) => l.includes(" dnat to ")).length;
  if (count !== rules.length) throw new Error(`linear chain of ${o.name}: ${count} rules, expected ${rules.length}`);
}

/** Microseconds per new connection (IN_FLIGHT at a time) from CLIENT_NS to UPLINK:PORT. */
async function usPerConnection(clientNs: string, uplink: string): Promise<number> {
  const r = await nsExec(
    clientNs,
    process.execPath,
    [SCRIPT, "client", uplink, String(PORT), String(SECONDS), String(IN_FLIGHT)],
    { check: true, timeoutMs: (SECONDS + 15) * 1000 },
  );
  const j = JSON.parse(r.stdout) as { connections: number; errors: number; seconds: number };
  if (j.connections === 0 || j.errors > j.connections / 100)
    throw new Error(`connections to ${uplink}:${PORT}: ${j.connections} made, ${j.errors} failed`);
  return (j.seconds * 1e6) / j.connections;
}

export async function benchForwards(): Promise<Figure[]> {
  const world = await createWorld();
  const nets: Net[] = [];
  try {
    const client = await world.addProviderHost(CLIENT);
    for (const [i, v] of (["n10", "n5000", "linear"] as const).entries()) nets.push(await startNet(world, v, i));
    // every path answers before anything is timed
    for (const n of nets) await usPerConnection(client.ns, n.uplink);
    const samples: Record<Variant, number[]> = { n10: [], n5000: [], linear: [] };
    for (let r = 0; r < RUNS; r++)
      // each round in another order, so no variant always follows the same one
      for (const n of [...nets.slice(r % nets.length), ...nets.slice(0, r % nets.length)]) {
        const us = await usPerConnection(client.ns, n.uplink);
        samples[n.variant].push(us);
        log(`forwards run ${r + 1}/${RUNS} ${n.variant}: ${us.toFixed(1)} µs per connection`);
        await sleep(200);
      }
    return compare([
      figure("forwards", "forwards.n10", LABELS.n10, "µs", samples.n10),
      figure("forwards", "forwards.n5000", LABELS.n5000, "µs", samples.n5000, {
        baseline: "forwards.n10",
        paired: true,
        target: { of: "ratio", op: "<=", limit: 1.1 },
      }),
      figure("forwards", "forwards.linear5000", LABELS.linear, "µs", samples.linear, {
        baseline: "forwards.n10",
        paired: true,
      }),
    ]);
  } finally {
    const errors: string[] = [];
    for (const n of nets) {
      const r = await runHook(n.opts.name, "stopped", "end", hookData(n.opts));
      if (r.exitCode !== 0) errors.push(`stop ${n.opts.name}: ${r.stderr.trim()}`);
    }
    await world.destroy().catch((e: unknown) => errors.push((e as Error).message));
    for (const n of nets) {
      const left = vnatDebris(n.opts.name);
      if (left.length) errors.push(`${n.opts.name} left ${left.join(", ")}`);
    }
    if (errors.length) log(`forwards teardown: ${errors.join("; ")}`);
  }
}
