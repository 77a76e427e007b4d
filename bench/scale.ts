// Scale: networks started one after another up to 100, driven by the hook exactly as
// libvirt calls it (`start begin` then `started begin`) on stand-in LAN bridges of one
// sandbox world: libvirt's own start cost grows with its firewall rules and would hide
// vnat's. At 1, 10, 50 and 100 networks up: the start time of the Nth network, memory
// per idle network and `vnat status` time. The ramp is repeated; every ramp ends with
// every network stopped, even on failure.
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { hookData, type NetOpts } from "../test/support/fixtures.ts";
import { runHook, vnatDebris } from "../test/support/hook.ts";
import { sleep } from "../test/support/sh.ts";
import { createWorld, type World } from "../test/support/world.ts";
import { compare, figure, log, median, memAvailableKb, timed, type Figure } from "./lib.ts";

const CHECKPOINTS = (process.env.BENCH_SCALE_N ?? "1,10,50,100").split(",").map(Number);
const RAMPS = Number(process.env.BENCH_SCALE_RAMPS ?? 3);
const STATUS_RUNS = 3;
/** starts of the Nth network measured at each checkpoint */
const PROBES = 5;
const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

interface Checkpoint {
  n: number;
  startMs: number;
  memPerNetKb: number;
  /** unswappable kernel memory (slab, per-CPU, stacks, page tables) grown per network */
  kernelPerNetKb: number;
  dnsmasqRssKb: number;
  dnsmasqPssKb: number;
  statusMs: number | undefined;
  statusSaw: number | undefined;
}

/** Proportional set size (shared pages split between their users), from smaps_rollup. */
function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** kB the kernel holds that no reclaim gives back: SUnreclaim + Percpu + KernelStack + PageTables. */
function kernelKb(): number {
  const m = readFileSync("/proc/meminfo", "utf8");
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(m)?.[1] ?? 0);
  return kb("SUnreclaim") + kb("Percpu") + kb("KernelStack") + kb("PageTables");
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function dnsmasqPidOf(name: string): number | undefined {
  try {
    const pid = Number(readFileSync(`/run/vnat/net/${name}/dnsmasq.pid`, "utf8").trim());
    return pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** `vnat status --json` as an administrator runs it (the bundle); returns ms and how many networks it listed. */
function statusOnce(): Promise<{ ms: number; networks: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile(
      process.execPath,
      [CLI, "status", "--json"],
      { maxBuffer: 64 << 20, timeout: 60_000 },
      (err, stdout, stderr) => {
        const ms = performance.now() - t0;
        if (err) return reject(new Error(`vnat status: ${stderr.trim() || err.message}`));
        resolve({ ms, networks: (JSON.parse(stdout) as { networks: unknown[] }).networks.length });
      },
    );
  });
}

async function statusAvailable(): Promise<boolean> {
  if (!existsSync(CLI)) return false;
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, "status", "--help"], (err) => resolve(err === null)),
  );
}

function netOpts(w: World, tag: string, i: number, bridge: string): NetOpts {
  return {
    name: `b${tag}s${i}`,
    bridge,
    uplinkBridge: w.providerBridge,
    uplink: `198.51.100.${100 + i}/24`,
    gateway: w.providerGateway,
    dns: [w.upstreamDns],
  };
}

async function startNet(o: NetOpts): Promise<number> {
  const xml = hookData(o);
  return timed(async () => {
    for (const [op, sub] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await runHook(o.name, op, sub, xml);
      if (r.exitCode !== 0) throw new Error(`${op} ${sub} of ${o.name}: ${r.stderr.trim()}`);
    }
  });
}

/** Stops every network of the list (all of them, whatever fails), then checks nothing is left. */
async function stopAll(nets: NetOpts[]): Promise<void> {
  const errors: string[] = [];
  // a few at a time: teardown waits on processes, not CPU
  for (let i = 0; i < nets.length; i += 8)
    await Promise.all(
      nets.slice(i, i + 8).map(async (o) => {
        const r = await runHook(o.name, "stopped", "end", hookData(o));
        if (r.exitCode !== 0) errors.push(`stop ${o.name}: ${r.stderr.trim()}`);
      }),
    );
  for (const o of nets) {
    const left = vnatDebris(o.name);
    if (left.length) errors.push(`${o.name} left ${left.join(", ")}`);
  }
  if (errors.length) throw new Error(`scale teardown: ${errors.join("; ")}`);
}

interface Ramp {
  checkpoints: Checkpoint[];
  /** MemAvailable regained per network when all of them stopped (the same cost, seen from the other side) */
  releasedPerNetKb: number;
}

async function ramp(w: World, bridges: string[], withStatus: boolean): Promise<Ramp> {
  const max = Math.max(...CHECKPOINTS);
  const up: NetOpts[] = [];
  const out: Checkpoint[] = [];
  // let the previous ramp's teardown settle (namespace deletion is asynchronous)
  await sleep(2000);
  const memBefore = memAvailableKb();
  const kernelBefore = kernelKb();
  try {
    for (let i = 1; i <= max; i++) {
      const o = netOpts(w, w.tag, i, bridges[i - 1]!);
      const checkpoint = CHECKPOINTS.includes(i);
      // the Nth network's start, several times over (started and stopped again), with N-1 up
      const probes: number[] = [];
      if (checkpoint)
        for (let k = 0; k < PROBES; k++) {
          probes.push(await startNet(o));
          await stopAll([o]);
        }
      up.push(o);
      await startNet(o);
      if (!checkpoint) continue;
      await sleep(1500); // idle: dnsmasq settled, arping done
      const memNow = memAvailableKb();
      const kernelNow = kernelKb();
      const pids = up.map((x) => dnsmasqPidOf(x.name)).filter((p): p is number => p !== undefined);
      const status: number[] = [];
      let saw: number | undefined;
      if (withStatus)
        for (let k = 0; k < STATUS_RUNS; k++) {
          const s = await statusOnce();
          status.push(s.ms);
          saw = s.networks;
        }
      const cp: Checkpoint = {
        n: i,
        startMs: median(probes),
        memPerNetKb: (memBefore - memNow) / i,
        kernelPerNetKb: (kernelNow - kernelBefore) / i,
        dnsmasqRssKb: pids.reduce((a, p) => a + rssOf(p), 0) / Math.max(1, pids.length),
        dnsmasqPssKb: pids.reduce((a, p) => a + pssKb(p), 0) / Math.max(1, pids.length),
        statusMs: withStatus ? median(status) : undefined,
        statusSaw: saw,
      };
      out.push(cp);
      log(
        `scale: ${i} up, start #${i} ${cp.startMs.toFixed(0)} ms, ${(cp.memPerNetKb / 1024).toFixed(2)} MB/net ` +
          `(kernel ${(cp.kernelPerNetKb / 1024).toFixed(2)}), dnsmasq RSS ${(cp.dnsmasqRssKb / 1024).toFixed(2)} MB ` +
          `PSS ${(cp.dnsmasqPssKb / 1024).toFixed(2)} MB` +
          (cp.statusMs !== undefined ? `, status ${cp.statusMs.toFixed(0)} ms (${saw} networks)` : ""),
      );
    }
    const memUp = memAvailableKb();
    await stopAll(up);
    await sleep(2000);
    return { checkpoints: out, releasedPerNetKb: (memAvailableKb() - memUp) / up.length };
  } catch (e) {
    await stopAll(up).catch((c: unknown) => log(`scale: cleanup after a failure: ${(c as Error).message}`));
    throw e;
  }
}

export async function benchScale(): Promise<Figure[]> {
  const world = await createWorld();
  try {
    const max = Math.max(...CHECKPOINTS);
    // the stand-in libvirt bridges exist before anything is timed, as libvirt's would
    const bridges: string[] = [];
    for (let i = 0; i < max; i++) bridges.push(await world.addLanBridge());
    const withStatus = await statusAvailable();
    if (!withStatus) log("scale: `vnat status` is not in dist/cli.js: status time not measured");
    const ramps: Checkpoint[][] = [];
    const released: number[] = [];
    for (let r = 0; r < RAMPS; r++) {
      log(`scale: ramp ${r + 1}/${RAMPS}`);
      const x = await ramp(world, bridges, withStatus);
      ramps.push(x.checkpoints);
      released.push(x.releasedPerNetKb / 1024);
    }
    const at = (n: number, f: (c: Checkpoint) => number | undefined): number[] =>
      ramps
        .map((cs) => cs.find((c) => c.n === n))
        .map((c) => (c ? f(c) : undefined))
        .filter((x): x is number => x !== undefined);
    const first = Math.min(...CHECKPOINTS);
    const figs: Figure[] = [];
    for (const n of CHECKPOINTS) {
      figs.push(
        figure(
          "scale",
          `scale.start.${n}`,
          `start of network #${n} (${n - 1} up; hook start + started)`,
          "ms",
          at(n, (c) => c.startMs),
          {
            baseline: `scale.start.${first}`,
            ...(n === max ? { target: { of: "ratio", op: "<=", limit: 1.2 } as const } : {}),
          },
        ),
      );
    }
    for (const n of CHECKPOINTS)
      if (withStatus)
        figs.push(
          figure(
            "scale",
            `scale.status.${n}`,
            `vnat status --json with ${n} networks up`,
            "ms",
            at(n, (c) => c.statusMs),
            {
              ...(n === max ? { target: { of: "value", op: "<=", limit: 1000 } as const } : {}),
              note: `listed ${at(n, (c) => c.statusSaw).join("/")} networks (others' included)`,
            },
          ),
        );
    for (const n of CHECKPOINTS)
      figs.push(
        figure(
          "scale",
          `scale.mem.${n}`,
          `memory per idle network, ${n} up (MemAvailable drop / N)`,
          "MB",
          at(n, (c) => c.memPerNetKb / 1024),
          {
            ...(n === max ? { target: { of: "value", op: "<=", limit: 3 } as const } : {}),
          },
        ),
      );
    figs.push(
      figure(
        "scale",
        "scale.kernel",
        `kernel memory per network, ${max} up (unreclaimable slab, per-CPU, stacks)`,
        "MB",
        at(max, (c) => c.kernelPerNetKb / 1024),
      ),
      figure("scale", "scale.mem.released", `memory regained per network when all ${max} stop`, "MB", released),
      figure(
        "scale",
        `scale.dnsmasq.rss`,
        `dnsmasq RSS per network (${max} up)`,
        "MB",
        at(max, (c) => c.dnsmasqRssKb / 1024),
      ),
      figure(
        "scale",
        `scale.dnsmasq.pss`,
        `dnsmasq PSS per network (${max} up)`,
        "MB",
        at(max, (c) => c.dnsmasqPssKb / 1024),
      ),
    );
    return compare(figs);
  } finally {
    await world.destroy();
  }
}
