// Issue 18 end to end: a vnat network started by `virsh net-start` through the hook, `vnat
// exporter` serving /metrics on loopback, and a real Prometheus server (Debian's package)
// scraping it every second from loopback with its own temp storage. A PromQL query through
// Prometheus's HTTP API returns the network's uplink transmit bytes, and the value rises
// after a guest fetches a page through that network. Both daemons are ours: started here,
// stopped by pid.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { sleep } from "../support/sh.ts";
import { createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));
const prometheusMissing =
  spawnSync("prometheus", ["--version"]).status === 0 ? undefined : "prometheus (Debian package)";
const unmet = libvirtUnavailable() ?? worldUnavailable() ?? prometheusMissing;

/** A TCP port on loopback that nothing listens on right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Stops a daemon we started, by its pid, and waits for it to go. */
async function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  await Promise.race([gone, sleep(5000).then(() => p.kill("SIGKILL"))]);
  await gone;
}

async function waitUntil<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

needs(unmet).describe("vnat exporter scraped by a real Prometheus (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let dir: string;
  let cfg: string;
  let net: string;
  let guest: Guest;
  let exporterProc: ChildProcess | undefined;
  let promProc: ChildProcess | undefined;
  let exporterPort: number;
  let promPort: number;
  const logs: string[] = [];

  /** One PromQL instant query through the HTTP API: the first result's value, or undefined. */
  const query = async (promql: string): Promise<number | undefined> => {
    const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data?: { result?: Array<{ value: [number, string] }> } };
    assert.equal(body.status, "success", JSON.stringify(body));
    const v = body.data?.result?.[0]?.value[1];
    return v === undefined ? undefined : Number(v);
  };

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    net = tracker.network(`vmx-${world.tag}`);
    dir = await mkdtemp(join(tmpdir(), `vnat-e2e-prom-${world.tag}-`));
    cfg = join(dir, "config.json");
    assert.equal((await addSandboxProvider(cfg, world)).exitCode, 0);
    const bridge = `vmx-${world.tag}`;
    const r = await createSandboxNet(cfg, world, net, { uplink: "198.51.100.71/24", bridge });
    assert.equal(r.exitCode, 0, r.stderr);
    await virsh(["net-start", net], { check: true });
    guest = await world.addGuest(bridge);
    await guest.dhcp();

    exporterPort = await freePort();
    exporterProc = spawn(process.execPath, [CLI, "exporter", "--listen", `127.0.0.1:${exporterPort}`], {
      env: { ...process.env, VNAT_CONFIG: cfg },
      stdio: ["ignore", "ignore", "pipe"],
    });
    exporterProc.stderr!.on("data", (d: Buffer) => logs.push(`exporter: ${d}`));
    await waitUntil("the exporter", 10_000, async () =>
      (await fetch(`http://127.0.0.1:${exporterPort}/`)).ok ? true : undefined,
    );

    promPort = await freePort();
    const promCfg = join(dir, "prometheus.yml");
    await writeFile(
      promCfg,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: vnat",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${exporterPort}"]`,
        "",
      ].join("\n"),
    );
    promProc = spawn(
      "prometheus",
      [
        `--config.file=${promCfg}`,
        `--storage.tsdb.path=${join(dir, "tsdb")}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    promProc.stderr!.on("data", (d: Buffer) => logs.push(`prometheus: ${d}`));
  });

  after(async () => {
    await stop(promProc);
    await stop(exporterProc);
    if (process.exitCode) console.log(logs.join("").slice(-4000));
    await closeE2e({ tracker, world, hook, dir });
  });

  test("Prometheus scrapes the exporter: the target is up and the text passes promtool", async () => {
    const up = await waitUntil("Prometheus's first scrape", 30_000, async () => {
      const v = await query('up{job="vnat"}');
      return v === 1 ? v : undefined;
    });
    assert.equal(up, 1, logs.join(""));
    const text = await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text();
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    assert.ok(text.includes(`vnat_network_up{network="${net}"} 1`), text.slice(0, 2000));
  });

  test("PromQL returns the network's uplink transmit bytes, and they rise after a guest fetches a page", async () => {
    const q = `vnat_uplink_transmit_bytes_total{network="${net}"}`;
    const before = await waitUntil(`a value for ${q}`, 15_000, () => query(q));
    assert.equal((await guest.fetch(`http://${world.internetIp}/`)).trim(), "198.51.100.71");
    const after = await waitUntil(`${q} above ${before}`, 15_000, async () => {
      const v = await query(q);
      return v !== undefined && v > before ? v : undefined;
    });
    assert.ok(after > before);
    const nat = await query(`vnat_nat_transmit_bytes_total{network="${net}"}`);
    assert.ok(nat !== undefined && nat > 0, `nat transmit ${nat}`);
  });

  test("a network started and stopped after the exporter started shows at once (libvirt's view follows vnat's events)", async () => {
    const second = tracker.network(`vmy-${world.tag}`);
    const r = await createSandboxNet(cfg, world, second, { uplink: "198.51.100.72/24", bridge: `vmy-${world.tag}` });
    assert.equal(r.exitCode, 0, r.stderr);
    const scrapeLine = async (series: string): Promise<string | undefined> =>
      (await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text())
        .split("\n")
        .find((l) => l.startsWith(series + " "));
    await virsh(["net-start", second], { check: true });
    const t0 = Date.now();
    await waitUntil("the started network in the exporter", 5000, async () =>
      (await scrapeLine(`vnat_network_up{network="${second}"}`))?.endsWith(" 1") ? true : undefined,
    );
    await virsh(["net-destroy", second], { check: true });
    await waitUntil("the stopped network in the exporter", 5000, async () =>
      (await scrapeLine(`vnat_network_health{network="${second}",health="stopped"}`))?.endsWith(" 1")
        ? true
        : undefined,
    );
    assert.ok(Date.now() - t0 < 10_000, "well within the 15 s refresh of libvirt's view");
  });

  test("vnat metrics --textfile writes vnat.prom (0644, no temp file left) that promtool accepts", async () => {
    const out = join(dir, "textfile");
    await mkdir(out);
    const r = await vnat(cfg, ["metrics", "--textfile", out]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.deepEqual(await readdir(out), ["vnat.prom"]);
    assert.equal((await stat(join(out, "vnat.prom"))).mode & 0o777, 0o644);
    const text = await readFile(join(out, "vnat.prom"), "utf8");
    assert.ok(text.includes(`vnat_network_up{network="${net}"} 1`));
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);
    const printed = await vnat(cfg, ["metrics"]);
    assert.equal(printed.exitCode, 0, printed.stderr);
    assert.ok(printed.stdout.includes(`vnat_network_up{network="${net}"} 1`));
  });

  test("the exporter answers only GET/HEAD on /metrics; bad requests say so", async () => {
    assert.equal((await fetch(`http://127.0.0.1:${exporterPort}/nope`)).status, 404);
    assert.equal((await fetch(`http://127.0.0.1:${exporterPort}/metrics`, { method: "POST" })).status, 405);
    const head = await fetch(`http://127.0.0.1:${exporterPort}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.match(head.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const r = await vnat(cfg, ["exporter", "--listen", "127.0.0.1:99999"]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /^vnat: --listen "127\.0\.0\.1:99999": expected ADDRESS:PORT/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});
