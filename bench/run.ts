// `npm run bench [-- PART…]`: vnat against libvirt's own NAT and the bare kernel. Root;
// sandbox world only; never part of `npm test`. Parts: libvirt, hook, throughput, throughput6 (IPv6), forwards,
// scale, metrics (default: all, in that order). Every figure is a median of several runs with its ratio
// to a baseline measured in the same run. Prints a table and writes
// bench/results/DATE.json, bench/results/latest.json and bench/results/latest.svg.
//
// Environment: BENCH_RUNS (hook, default 15), BENCH_LIBVIRT_RUNS (7), BENCH_TP_RUNS (5),
// BENCH_TP_SECONDS (4), BENCH_FWD_RUNS (9), BENCH_FWD_SECONDS (2), BENCH_SCALE_RAMPS (3),
// BENCH_SCALE_N (1,10,50,100), BENCH_METRICS_N (100), BENCH_METRICS_SCRAPES (15), BENCH_METRICS_BLOCKS (4),
// BENCH_NO_BUILD=1 to measure dist/ as it is.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { hookSamples } from "./hook.ts";
import { compare, figure, loadAvg, log, machine, type Figure } from "./lib.ts";
import { renderSvg } from "./svg.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const RESULTS = fileURLToPath(new URL("./results/", import.meta.url));
const PARTS = ["libvirt", "hook", "throughput", "throughput6", "forwards", "scale", "metrics"] as const;
type Part = (typeof PARTS)[number];

async function hookPart(): Promise<Figure[]> {
  const s = await hookSamples();
  return compare([
    figure("hook", "hook.node", "node -e 0 (floor of any Node start)", "ms", s.node),
    figure("hook", "hook.noop", "no-op event through hooks/network (port-created, unmanaged)", "ms", s.noop, {
      baseline: "hook.node",
      target: { of: "value", op: "<=", limit: 80 },
    }),
    figure("hook", "hook.started", "started begin, hook-driven", "ms", s.started, { baseline: "hook.node" }),
    figure("hook", "hook.stopped", "stopped end, hook-driven", "ms", s.stopped, { baseline: "hook.node" }),
  ]);
}

const RUNNERS: Record<Part, () => Promise<Figure[]>> = {
  libvirt: async () => (await import("./libvirt.ts")).benchLibvirt(),
  hook: hookPart,
  throughput: async () => (await import("./throughput.ts")).benchThroughput(),
  throughput6: async () => (await import("./throughput6.ts")).benchThroughput6(),
  forwards: async () => (await import("./forwards.ts")).benchForwards(),
  scale: async () => (await import("./scale.ts")).benchScale(),
  metrics: async () => (await import("./metrics.ts")).benchMetrics(),
};

function fmtValue(f: Figure): string {
  const v = Math.abs(f.value) >= 100 ? f.value.toFixed(0) : f.value.toFixed(2);
  return `${v} ${f.unit}`;
}

function fmtTarget(f: Figure): string {
  if (!f.target) return "";
  const t = `${f.target.op} ${f.target.limit}${f.target.of === "ratio" ? "×" : ` ${f.unit}`}`;
  return `${t}: ${f.met === undefined ? "n/a" : f.met ? "met" : "MISSED"}`;
}

export function table(figs: Figure[]): string {
  const rows = figs.map((f) => [
    f.label,
    fmtValue(f),
    f.ratio !== undefined ? `${f.ratio.toFixed(2)}×` : "",
    `n=${f.samples.length}`,
    fmtTarget(f),
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 1 || i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    console.error("bench: needs root (network namespaces, libvirt)");
    return 2;
  }
  const asked = process.argv.slice(2);
  const bad = asked.filter((a) => !(PARTS as readonly string[]).includes(a));
  if (bad.length) {
    console.error(`bench: unknown part(s) ${bad.join(", ")} (parts: ${PARTS.join(", ")})`);
    return 2;
  }
  const parts = asked.length ? PARTS.filter((p) => asked.includes(p)) : [...PARTS];
  if (process.env.BENCH_NO_BUILD !== "1")
    execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: ROOT, stdio: "inherit" });

  const started = new Date();
  const atStart = await machine();
  log(
    `host firewall at start: ${atStart.hostRules ?? "?"} rules, ${atStart.libvirtNetworksActive ?? "?"} libvirt networks active`,
  );
  const loads: Record<string, [number, number]> = {};
  const errors: Record<string, string> = {};
  const figs: Figure[] = [];
  for (const p of parts) {
    const before = loadAvg();
    log(`part ${p}`);
    try {
      figs.push(...(await RUNNERS[p]()));
    } catch (e) {
      errors[p] = (e as Error).message;
      log(`part ${p} FAILED: ${(e as Error).message}`);
    }
    loads[p] = [before, loadAvg()];
  }
  const m = await machine();
  if (m.hostRules !== undefined)
    log(
      `host firewall: ${m.hostRules} rules, ${m.libvirtNetworksActive ?? "?"} libvirt networks active, bridge-nf-call-iptables=${m.bridgeNfCallIptables ?? "-"}`,
    );
  const allLoads = Object.values(loads).flat();
  const loadText = `${Math.min(...allLoads).toFixed(1)}–${Math.max(...allLoads).toFixed(1)}`;
  const result = {
    when: started.toISOString(),
    machine: m,
    hostAtStart: { hostRules: atStart.hostRules, libvirtNetworksActive: atStart.libvirtNetworksActive },
    loadAverage: loads,
    parts,
    errors,
    figures: figs,
  };
  mkdirSync(RESULTS, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, "").replace(/\..*/, "");
  const json = JSON.stringify(result, null, 2) + "\n";
  writeFileSync(`${RESULTS}${stamp}.json`, json);
  writeFileSync(`${RESULTS}latest.json`, json);
  writeFileSync(
    `${RESULTS}latest.svg`,
    renderSvg(figs, m, started.toISOString().slice(0, 16).replace("T", " ") + " UTC", loadText),
  );

  console.log(
    `\nvnat benchmark ${result.when} on ${m.cpu} (${m.cores} cores, ${m.memGiB} GiB), kernel ${m.kernel}, Node ${m.node}` +
      `${m.libvirt ? `, libvirt ${m.libvirt}` : ""}; 1-min load average during the run ${loadText}; host firewall ${m.hostRules ?? "?"} rules (${m.libvirtNetworksActive ?? "?"} libvirt networks active)\n`,
  );
  for (const g of [...new Set(figs.map((f) => f.group))]) {
    console.log(`## ${g}`);
    console.log(table(figs.filter((f) => f.group === g)));
    console.log("");
  }
  for (const [p, e] of Object.entries(errors)) console.log(`part ${p} failed: ${e}`);
  console.log(`results: bench/results/${stamp}.json, bench/results/latest.json, bench/results/latest.svg`);
  return Object.keys(errors).length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
