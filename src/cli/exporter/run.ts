// Runs `vnat exporter`: an HTTP server whose /metrics collects vnat's metrics fresh at each
// scrape (libvirt's view of the networks: after any vnat event, else at most 15 s old). Scrapes that overlap share one collection (single flight), so a slow collection
// and an impatient scraper never pile up probes. Collecting takes no network's lock
// (exec/probe/observe.ts reads /proc/locks), so a scrape never delays a hook event; the
// reference rulesets are cached per rendered ruleset (exec/probe/metrics.ts).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { setPriority } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { loadConfig } from "../../adapters/store/config-file.ts";
import { roots } from "../../adapters/store/roots.ts";
import type { HookStatsCache } from "../../adapters/store/event-stats.ts";
import { invalid } from "../../core/errors.ts";
import { DEFAULT_LISTEN, isLoopback, parseListen } from "../../core/metrics/listen.ts";
import { cachedLibvirtView, cachedReferences, collectMetrics, eventStamp } from "../../exec/probe/metrics.ts";
import { processRunner } from "../../exec/run.ts";
import { requireRoot } from "../root.ts";

/** the exporter's nice value (0 is normal, 19 the lowest priority) */
export const EXPORTER_NICE = 10;

/**
 * probe processes a collection runs at once: one, so that a scrape never takes more than one
 * CPU from the hook events (bench part metrics)
 */
export const EXPORTER_PARALLEL = 1;

/** libvirt's view is asked again after any vnat event, and at least this often */
export const LIBVIRT_TTL_MS = 15_000;

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** One collection at a time: callers that arrive meanwhile get the running one's result. */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () =>
    (running ??= fn().finally(() => {
      running = undefined;
    }));
}

/**
 * V8's full collection, made callable at run time. A collection leaves ~10 MB of garbage
 * (XML, nft listings, probe output) that V8 would otherwise keep committed until its heap
 * grows; collecting right after each scrape (~5-7 ms, at nice 10) keeps the exporter's RSS
 * near its live heap (bench/metrics.ts). undefined when V8 refuses the flag.
 */
function fullGc(): (() => void) | undefined {
  try {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
}

/**
 * V8 for a small resident process (docs/metrics.md, Figures: RSS and CPU per scrape, 20
 * networks). No optimizing compiler: a collection mostly waits on probe processes, and
 * TurboFan's code and compilations cost ~4 MB of RSS for no measurable CPU gain (not
 * --jitless: that slows the scrape itself). Compaction at every full collection (fullGc runs
 * one after each scrape): the old generation otherwise keeps ~4 MB of half-empty pages
 * committed. Set at run time because Node refuses both in NODE_OPTIONS; so the unit and
 * `node dist/cli.js exporter` run alike.
 */
function leanV8(): void {
  for (const flag of ["--no-opt", "--compact-on-every-full-gc"])
    try {
      setFlagsFromString(flag);
    } catch {
      /* a V8 without the flag: only more memory */
    }
}

export async function exporter(listenText: string | undefined): Promise<void> {
  const listen = parseListen(listenText ?? DEFAULT_LISTEN);
  requireRoot("exporter");
  // collections yield the CPU to everything else, hook events first: the probes' processes
  // (nft in each namespace, virsh) inherit this nice value (bench part metrics: hook latency
  // with and without a scrape every second)
  try {
    setPriority(0, EXPORTER_NICE);
  } catch {
    /* already nicer, or not allowed: collections then compete as equals */
  }
  leanV8();
  const r = roots();
  const references = cachedReferences();
  const hookStatsCache = new Map() as HookStatsCache;
  const gc = fullGc();
  const libvirt = cachedLibvirtView(readLibvirtNetworks, () => eventStamp(r), LIBVIRT_TTL_MS);
  const collect = singleFlight(async () => {
    try {
      return await collectMetrics({
        runner: processRunner,
        roots: r,
        config: await loadConfig(r.config),
        networks: libvirt(),
        references,
        hookStatsCache,
        parallel: EXPORTER_PARALLEL,
      });
    } finally {
      // after the answer is on its way
      if (gc) setImmediate(gc);
    }
  });
  const server = createServer((req, res) => void serve(req, res, collect));
  // a scraper that never finishes its request must not hold a socket for ever
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        invalid(`--listen ${listen.host}:${listen.port}: ${e.code === "EADDRINUSE" ? "address in use" : e.message}`),
      ),
    );
    server.listen(listen.port, listen.host, () => resolve());
  });
  const where = listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
  process.stderr.write(
    `vnat exporter: serving http://${where}/metrics${isLoopback(listen.host) ? "" : " (not loopback: every host that reaches it reads your networks' names)"}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

async function serve(req: IncomingMessage, res: ServerResponse, collect: () => Promise<string>): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD", "Content-Type": "text/plain" }).end("method not allowed\n");
    return;
  }
  if (path === "/") {
    res.writeHead(200, { "Content-Type": "text/plain" }).end("vnat exporter: metrics at /metrics\n");
    return;
  }
  if (path !== "/metrics") {
    res.writeHead(404, { "Content-Type": "text/plain" }).end("not found (metrics at /metrics)\n");
    return;
  }
  try {
    const text = await collect();
    res.writeHead(200, { "Content-Type": CONTENT_TYPE, "Content-Length": Buffer.byteLength(text) });
    res.end(req.method === "HEAD" ? undefined : text);
  } catch (e) {
    const line = ((e as Error).message ?? String(e)).split("\n")[0];
    res.writeHead(500, { "Content-Type": "text/plain" }).end(`vnat exporter: collection failed: ${line}\n`);
  }
}
