// Metrics (issue 18): N vnat networks (default 100) defined by `vnat net create` and started
// by `virsh net-start` on the real libvirt daemon, `vnat exporter` (its bundle, dist/exporter.js) serving them,
// and three questions, each against a baseline measured in the same run:
//   1. one scrape of N networks (HTTP GET /metrics, warm: the reference rulesets cached)
//      against `vnat status --json` of the same host (a cold process doing the same probe);
//   2. the exporter's RSS after the scrapes (as its systemd unit runs it, and with Node's
//      and glibc's defaults) against a bare Node HTTP server's;
//   3. a hook event's latency (`started begin` + `stopped end` of a further network, as
//      libvirt calls the hook) with a 1 s scrape loop running, against the same without it,
//      in interleaved blocks so load drift falls on both alike.
// Plus what counting costs the hook: one recordHookEvent (read, add, atomic write).
// Every network, the exporter and the baseline server are removed/stopped by pid at the end.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordHookEvent } from "../src/adapters/store/event-stats.ts";
import { hookData, type NetOpts } from "../test/support/fixtures.ts";
import { runHook } from "../test/support/hook.ts";
import {
  addSandboxProvider,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  useHook,
  virsh,
  vnat,
} from "../test/support/libvirt.ts";
import { sleep } from "../test/support/sh.ts";
import { createWorld } from "../test/support/world.ts";
import { compare, figure, log, timed, type Figure } from "./lib.ts";

const N = Number(process.env.BENCH_METRICS_N ?? 100);
const SCRAPES = Number(process.env.BENCH_METRICS_SCRAPES ?? 15);
/** hook events per block; blocks alternate quiet / scraped */
const BLOCK = 5;
const BLOCKS = Number(process.env.BENCH_METRICS_BLOCKS ?? 4);
/** the installed `vnat exporter` runs this bundle (install.sh's wrapper), as the unit does */
const EXPORTER = fileURLToPath(new URL("../dist/exporter.js", import.meta.url));
const UNIT = fileURLToPath(new URL("../contrib/systemd/vnat-exporter.service", import.meta.url));

/** the Environment= lines of contrib/systemd/vnat-exporter.service: the exporter runs with exactly these */
export function unitEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(.*)$/gm)) {
    const text = m[1]!.trim().replace(/^"(.*)"$/, "$1");
    const eq = text.indexOf("=");
    if (eq > 0) env[text.slice(0, eq)] = text.slice(eq + 1);
  }
  return env;
}
const UNIT_ENV = unitEnvironment(readFileSync(UNIT, "utf8"));
const UNIT_ENV_TEXT = Object.entries(UNIT_ENV)
  .map(([k, v]) => `${k}=${v}`)
  .join(" ");

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  await Promise.race([gone, sleep(5000).then(() => p.kill("SIGKILL"))]);
  await gone;
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(url).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error(`${url}: no answer`);
}

async function scrapeMs(url: string): Promise<number> {
  return timed(async () => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(`scrape: HTTP ${r.status}: ${(await r.text()).trim()}`);
    await r.text();
  });
}

export async function benchMetrics(): Promise<Figure[]> {
  await ensureDaemons();
  const hook = await useHook();
  const world = await createWorld();
  const tracker = new LibvirtTracker();
  const dir = await mkdtemp(join(tmpdir(), "vnat-bench-metrics-"));
  const cfg = join(dir, "config.json");
  let exporter: ChildProcess | undefined;
  let exporterDefault: ChildProcess | undefined;
  let bare: ChildProcess | undefined;
  let hookNet: NetOpts | undefined;
  try {
    const add = await addSandboxProvider(cfg, world);
    if (add.exitCode !== 0) throw new Error(add.stderr);
    log(`metrics: defining and starting ${N} networks through libvirt`);
    for (let i = 1; i <= N; i++) {
      const name = tracker.network(`bm${world.tag}${i}`);
      const r = await createSandboxNet(cfg, world, name, {
        uplink: `198.51.100.${(i % 200) + 20}/24`,
        bridge: `vbm${world.tag}${i}`,
      });
      if (r.exitCode !== 0) throw new Error(`net create ${name}: ${r.stderr.trim()}`);
      await virsh(["net-start", name], { check: true });
      if (i % 25 === 0) log(`metrics: ${i} up`);
    }
    // as contrib/systemd/vnat-exporter.service runs it (its bundle and its Environment= lines);
    // and once with Node's and glibc's defaults, scraped as often, for its RSS
    const start = async (unitEnv: Record<string, string>): Promise<{ p: ChildProcess; url: string }> => {
      const port = await freePort();
      const env: NodeJS.ProcessEnv = { ...process.env, VNAT_CONFIG: cfg };
      for (const k of ["NODE_OPTIONS", "MALLOC_ARENA_MAX", "UV_THREADPOOL_SIZE"]) delete env[k];
      Object.assign(env, unitEnv);
      const p = spawn(process.execPath, [EXPORTER, "--listen", `127.0.0.1:${port}`], { env, stdio: "ignore" });
      await waitHttp(`http://127.0.0.1:${port}/`);
      return { p, url: `http://127.0.0.1:${port}/metrics` };
    };
    const unit = await start(UNIT_ENV);
    exporter = unit.p;
    const url = unit.url;
    const plain = await start({});
    exporterDefault = plain.p;
    const cold = await scrapeMs(url);
    const text = await (await fetch(url)).text();
    const seen = (text.match(/^vnat_network_up\{/gm) ?? []).length;
    log(`metrics: first scrape ${cold.toFixed(0)} ms, ${seen} networks, ${(text.length / 1024).toFixed(0)} KiB`);
    await scrapeMs(plain.url);
    await scrapeMs(plain.url);
    const scrapes: number[] = [];
    const status: number[] = [];
    const rss: number[] = [];
    const rssDefault: number[] = [];
    const rssBetween: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      scrapes.push(await scrapeMs(url));
      rss.push(rssMb(exporter.pid!));
      await scrapeMs(plain.url);
      rssDefault.push(rssMb(exporterDefault.pid!));
      if (i % 3 === 0) {
        const t = await timed(() => vnat(cfg, ["status", "--json"]));
        status.push(t);
      }
      await sleep(100);
      // what it holds between scrapes (its full collection after each one has run by now)
      rssBetween.push(rssMb(exporter.pid!));
    }
    await stop(exporterDefault);

    // a bare Node HTTP server, asked the same number of times
    const barePort = await freePort();
    bare = spawn(
      process.execPath,
      ["-e", `require("node:http").createServer((q, s) => s.end("ok\\n")).listen(${barePort}, "127.0.0.1")`],
      { stdio: "ignore" },
    );
    await waitHttp(`http://127.0.0.1:${barePort}/`);
    const bareRss: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      await fetch(`http://127.0.0.1:${barePort}/`).then((r) => r.text());
      bareRss.push(rssMb(bare.pid!));
    }

    // hook latency, quiet vs with a scrape every second, in alternating blocks
    hookNet = {
      name: `bm${world.tag}h`,
      bridge: await world.addLanBridge(),
      uplinkBridge: world.providerBridge,
      uplink: "198.51.100.250/24",
      gateway: world.providerGateway,
      dns: [world.upstreamDns],
    };
    const xml = hookData(hookNet);
    const quiet: number[] = [];
    const scraped: number[] = [];
    const event = async (): Promise<number> =>
      timed(async () => {
        for (const [op, sub] of [
          ["started", "begin"],
          ["stopped", "end"],
        ] as const) {
          const r = await runHook(hookNet!.name, op, sub, xml);
          if (r.exitCode !== 0) throw new Error(`${op} ${sub}: ${r.stderr.trim()}`);
        }
      });
    let loopScrapes = 0;
    for (let b = 0; b < BLOCKS * 2; b++) {
      const withLoop = b % 2 === 1;
      let loop: Promise<void> | undefined;
      let on = withLoop;
      if (withLoop)
        loop = (async () => {
          while (on) {
            const t0 = performance.now();
            await scrapeMs(url);
            loopScrapes++;
            await sleep(Math.max(0, 1000 - (performance.now() - t0)));
          }
        })();
      for (let i = 0; i < BLOCK; i++) (withLoop ? scraped : quiet).push(await event());
      on = false;
      await loop;
    }
    log(`metrics: ${loopScrapes} scrapes ran beside ${scraped.length} hook events`);

    const statsDir = await mkdtemp(join(tmpdir(), "vnat-bench-stats-"));
    const statRoots = { run: statsDir, config: cfg, log: statsDir };
    const stats: number[] = [];
    try {
      for (let i = 0; i < 200; i++)
        stats.push(await timed(() => recordHookEvent(statRoots, "x", "started-begin", "ok", 0.1)));
    } finally {
      await rm(statsDir, { recursive: true, force: true });
    }

    return compare([
      figure(
        "metrics",
        "metrics.status",
        `vnat status --json, ${seen} networks (a cold process, same probe)`,
        "ms",
        status,
      ),
      figure("metrics", "metrics.scrape", `one scrape of ${seen} networks (exporter, warm)`, "ms", scrapes, {
        baseline: "metrics.status",
        target: { of: "value", op: "<=", limit: 200 },
      }),
      figure(
        "metrics",
        "metrics.scrape.cold",
        `first scrape of ${seen} networks (reference rulesets not cached)`,
        "ms",
        [cold],
      ),
      figure("metrics", "metrics.rss.bare", "RSS of a bare Node HTTP server", "MB", bareRss),
      figure(
        "metrics",
        "metrics.rss",
        `RSS of vnat exporter as its unit runs it (${UNIT_ENV_TEXT}), after ${SCRAPES + 2} scrapes of ${seen} networks`,
        "MB",
        rss,
        { baseline: "metrics.rss.bare", target: { of: "value", op: "<=", limit: 60 } },
      ),
      figure(
        "metrics",
        "metrics.rss.between",
        "… the same between scrapes (100 ms or more after one: its full GC has run)",
        "MB",
        rssBetween,
        { baseline: "metrics.rss.bare" },
      ),
      figure("metrics", "metrics.rss.default", "… the same with Node's and glibc's defaults", "MB", rssDefault, {
        baseline: "metrics.rss.bare",
      }),
      figure("metrics", "metrics.hook.quiet", "hook started begin + stopped end, no scrapes", "ms", quiet),
      figure("metrics", "metrics.hook.scraped", "hook started begin + stopped end, a scrape every 1 s", "ms", scraped, {
        baseline: "metrics.hook.quiet",
        paired: true,
        target: { of: "ratio", op: "<=", limit: 1.1 },
      }),
      figure("metrics", "metrics.hookstats", "counting one hook event (read, add, atomic write)", "ms", stats),
    ]);
  } finally {
    await stop(exporter);
    await stop(exporterDefault);
    await stop(bare);
    if (hookNet) await runHook(hookNet.name, "stopped", "end", hookData(hookNet));
    const errors = await tracker.cleanup();
    await world.destroy();
    await hook.release();
    await rm(dir, { recursive: true, force: true });
    if (errors.length) log(`metrics: cleanup: ${errors.join("; ")}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await benchMetrics())
    console.log(
      `${f.label.padEnd(70)} ${f.value.toFixed(1).padStart(8)} ${f.unit}${f.ratio !== undefined ? `  ${f.ratio.toFixed(2)}×` : ""}`,
    );
}
