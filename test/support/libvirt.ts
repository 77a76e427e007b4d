// Shared helpers for tests against the real libvirt daemon (qemu:///system).
//
// - ensureDaemons(): libvirtd and virtlogd run (started with -d when no daemon runs).
// - restartLibvirtd(): the network daemon restarted and back as it was (systemctl restart
//   where systemd runs it; the same command line, environment and directory where it was
//   started by hand); where it cannot be, the test fails saying why (libvirtdRestartPlan).
// - useHook(): vnat's hook is in /etc/libvirt/hooks/network.d/vnat for the test. An
//   installed hook (install.sh) is used as it is; only when none exists is one put there
//   (this checkout's dist/hook.js), shared by every test process on the machine through a
//   user count under a lock, and removed by the last one: there is only ever ONE vnat
//   hook file, or vnat would run twice per event.
// - a tracker that removes every network and domain a test defined, even on failure.
import { randomBytes } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, rmdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { withLock, isStaleHolder, processStart } from "../../src/adapters/store/lock.ts";
import { kernelNames } from "../../src/core/names.ts";
import { stopAgent } from "../../src/exec/agent-control.ts";
import { forgetAtExit } from "./hook.ts";
import { run, sh, sleep, waitFor, type ShResult } from "./sh.ts";
import { assertNoWorldDebris, type World } from "./world.ts";

export const URI = "qemu:///system";
export const REPO = fileURLToPath(new URL("../../", import.meta.url));
export const HOOK_DIR = "/etc/libvirt/hooks/network.d";
export const HOOK_FILE = join(HOOK_DIR, "vnat");
const STATE = "/run/vnat-test";
const USERS = join(STATE, "hook-users");
const INSTALLED_MARK = join(STATE, "hook-installed-by-test");
const DIR_MARK = join(STATE, "hook-dir-created-by-test");
const RUN_DIR = "/run/vnat";

export function libvirtUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  for (const bin of ["/usr/bin/virsh", "/usr/sbin/libvirtd", "/usr/sbin/virtlogd"])
    if (!existsSync(bin)) return `${bin} is missing (apt-get install libvirt-daemon-system libvirt-clients)`;
  return undefined;
}

/** virsh alone: a net-start returns when libvirt is done with it */
export const virshRaw = (args: string[], opts: { check?: boolean; timeoutMs?: number } = {}): Promise<ShResult> =>
  sh("virsh", ["-c", URI, ...args], { check: opts.check, timeoutMs: opts.timeoutMs ?? 60_000, env: { LC_ALL: "C" } });

/** virsh as the user runs it: `net-start` returns when vnat's namespace serves, `net-destroy` when it is gone. */
export async function virsh(args: string[], opts: { check?: boolean; timeoutMs?: number } = {}): Promise<ShResult> {
  if (args[0] === "net-start" && args[1] !== undefined) forgetAtExit(args[1]);
  return virshRaw(args, opts);
}

/** pids whose /proc/PID/comm is exactly NAME. */
export function pidsOf(name: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/comm`, "utf8").trim() === name;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** libvirtd daemons this process started (only those may be restarted without being asked to). */
const startedDaemons = new Set<number>();
/**
 * The libvirtd the test suite started, across test files (each runs in its own process):
 * a daemon the tests started is theirs to restart; one that was running before is not.
 */
const SUITE_DAEMON = "/run/vnat-test-libvirtd.pid";
const suiteDaemon = (): number | undefined => {
  try {
    return Number.parseInt(readFileSync(SUITE_DAEMON, "utf8"), 10) || undefined;
  } catch {
    return undefined;
  }
};
const recordSuiteDaemon = (): void => {
  for (const p of pidsOf("libvirtd")) {
    startedDaemons.add(p);
    writeFileSync(SUITE_DAEMON, `${p}\n`);
  }
};

/**
 * /dev/kvm as udev leaves it on Debian (root:kvm 0660). Without udev it is root 0600:
 * libvirt then finds KVM "enabled when probing but not available now" and throws its
 * qemu capabilities cache away on EVERY query, so each virt-install spent 1-5 minutes
 * re-probing qemu (measured: 288 s; after this: domcapabilities in 20 ms).
 */
async function normaliseKvmDevice(): Promise<void> {
  if (!existsSync("/dev/kvm")) return;
  const st = statSync("/dev/kvm");
  if ((st.mode & 0o060) === 0o060 && st.gid !== 0) return;
  const kvm = (await sh("getent", ["group", "kvm"])).stdout.split(":")[2];
  if (kvm === undefined) return;
  await chown("/dev/kvm", st.uid, Number(kvm));
  await chmod("/dev/kvm", (st.mode & 0o777) | 0o060);
}

export async function ensureDaemons(): Promise<void> {
  await normaliseKvmDevice();
  if (pidsOf("virtlogd").length === 0) await run("virtlogd", ["-d"]);
  if (pidsOf("libvirtd").length === 0 && pidsOf("virtnetworkd").length === 0) {
    await run("libvirtd", ["-d"]);
    recordSuiteDaemon();
  }
  await waitFor(async () => (await virsh(["version"])).exitCode === 0, 20_000, "libvirtd to answer");
}

/**
 * Whether the soak test's random restarts may end this libvirtd: only one the test suite
 * started (or when the machine's owner says so). The VM test's restart does not ask this:
 * it restarts any daemon it can restore (libvirtdRestartPlan).
 */
export function mayRestartLibvirtd(): string | undefined {
  const pids = pidsOf("libvirtd");
  if (pids.length !== 1) return `expected one libvirtd, found ${pids.length}`;
  if (startedDaemons.has(pids[0]!) || suiteDaemon() === pids[0] || process.env.VNAT_E2E_RESTART_LIBVIRTD === "1")
    return undefined;
  return "libvirtd was not started by this test; set VNAT_E2E_RESTART_LIBVIRTD=1 to allow restarting it";
}

/** How the daemon that runs libvirt's network driver is restarted and comes back as it was. */
export type RestartPlan =
  | { how: "systemd"; unit: string }
  | {
      how: "by-hand";
      pid: number;
      /** its executable, argv, environment and directory, read from /proc: started again exactly so */
      exe: string;
      argv: string[];
      env: Record<string, string>;
      cwd: string;
      /** it was started with -d/--daemon; otherwise it runs detached, its output where it went before */
      daemon: boolean;
      output: { stdout?: string; stderr?: string };
    };

const readLink = (p: string): string | undefined => {
  try {
    return readlinkSync(p);
  } catch {
    return undefined;
  }
};
const procStrings = (pid: number, file: string): string[] =>
  readFileSync(`/proc/${pid}/${file}`, "utf8").split("\0").filter(Boolean);
/** where fd N of PID writes, if it is a regular file (a log) that is still there */
const outputFile = (pid: number, fd: number): string | undefined => {
  const target = readLink(`/proc/${pid}/fd/${fd}`);
  return target?.startsWith("/") && existsSync(target) && statSync(target).isFile() ? target : undefined;
};

/**
 * How to restart the network daemon here, or why it cannot be (a reason, never a skip):
 * systemd as PID 1 with libvirtd.service (or virtnetworkd.service) active restarts its
 * unit; a daemon no init system manages (`libvirtd -d` by hand, or by these tests) is
 * stopped and started again with the same executable, arguments, environment and
 * directory; a foreground daemon under a supervisor is that supervisor's to restart.
 */
export function libvirtdRestartPlan(): RestartPlan | { why: string } {
  if (existsSync("/run/systemd/system"))
    for (const unit of ["libvirtd.service", "virtnetworkd.service"])
      if (spawnSync("systemctl", ["is-active", "--quiet", unit]).status === 0) return { how: "systemd", unit };
  const name = pidsOf("virtnetworkd").length ? "virtnetworkd" : "libvirtd";
  const pids = pidsOf(name);
  if (pids.length !== 1) return { why: `expected one ${name} process, found ${pids.length}` };
  const pid = pids[0]!;
  try {
    const argv = procStrings(pid, "cmdline");
    const env = Object.fromEntries(
      procStrings(pid, "environ").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
    const exe = (readLink(`/proc/${pid}/exe`) ?? "").replace(/ \(deleted\)$/, "");
    if (!exe || !existsSync(exe)) return { why: `${name} (pid ${pid}): its executable ${exe || "?"} is gone` };
    const daemon = argv.slice(1).some((a) => a === "--daemon" || /^-[a-z]*d[a-z]*$/.test(a));
    const ppid = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    if (!daemon && ppid !== 1) {
      const parent = readFileSync(`/proc/${ppid}/comm`, "utf8").trim();
      return {
        why: `${name} (pid ${pid}) runs in the foreground under ${parent} (pid ${ppid}): that is what restarts it`,
      };
    }
    const output = { stdout: outputFile(pid, 1), stderr: outputFile(pid, 2) };
    return { how: "by-hand", pid, exe, argv, env, cwd: readLink(`/proc/${pid}/cwd`) ?? "/", daemon, output };
  } catch (e) {
    return { why: `${name} (pid ${pid}): ${(e as Error).message}` };
  }
}

/** Starts the daemon PLAN describes as it was started before. */
async function startAsBefore(plan: Extract<RestartPlan, { how: "by-hand" }>): Promise<void> {
  const opts = { argv0: plan.argv[0]!, env: plan.env, cwd: plan.cwd };
  if (plan.daemon) {
    // libvirtd -d: the first process exits once the daemon it forked is up
    await execa(plan.exe, plan.argv.slice(1), { ...opts, extendEnv: false, stdio: "ignore", timeout: 60_000 });
    return;
  }
  const out = (f?: string): number | "ignore" => (f ? openSync(f, "a") : "ignore");
  const child = spawn(plan.exe, plan.argv.slice(1), {
    ...opts,
    detached: true,
    stdio: ["ignore", out(plan.output.stdout), out(plan.output.stderr)],
  });
  child.unref();
}

/**
 * Stops the network daemon (running guests and networks stay up) and starts it again the
 * way it was running (libvirtdRestartPlan); throws with the reason where that cannot be.
 */
export async function restartLibvirtd(): Promise<void> {
  const plan = libvirtdRestartPlan();
  if ("why" in plan) throw new Error(`restart libvirtd: ${plan.why}`);
  if (plan.how === "systemd") await run("systemctl", ["restart", plan.unit]);
  else {
    // a daemon the tests started stays theirs; one that was running before stays not
    const ours = startedDaemons.has(plan.pid) || suiteDaemon() === plan.pid;
    process.kill(plan.pid, "SIGTERM");
    await waitFor(() => !existsSync(`/proc/${plan.pid}`), 30_000, `libvirtd ${plan.pid} to exit`);
    startedDaemons.delete(plan.pid);
    await startAsBefore(plan);
    if (ours) recordSuiteDaemon();
  }
  await waitFor(async () => (await virsh(["net-list"])).exitCode === 0, 30_000, "libvirtd to answer again");
}

/**
 * Makes sure the daemon runs the hook: it looks for hooks only at start and on SIGHUP, and
 * a SIGHUP that arrives while an earlier reload still runs is dropped ("Drivers are not
 * initialized, reload ignored"), e.g. when another test removed the hook and reloaded just
 * before. Probe: a transient network whose vnat metadata the hook refuses at `start begin`.
 */
export async function ensureHookSeen(timeoutMs = 60_000): Promise<void> {
  const id = randomBytes(3).toString("hex");
  const name = `vnat-hookprobe-${id}`;
  const xml = join(STATE, `${name}.xml`);
  await writeFile(
    xml,
    `<network><name>${name}</name><bridge name="vhp-${id}"/><metadata><vnat:network xmlns:vnat="urn:vnat:network:1">` +
      `<vnat:lan address="hook-probe"/></vnat:network></metadata></network>\n`,
  );
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await virsh(["net-create", xml]);
      if (r.exitCode !== 0 && r.stderr.includes("vnat:")) return;
      if (r.exitCode === 0) await virsh(["net-destroy", name]);
      if (Date.now() > deadline) throw new Error(`libvirtd does not run the hook ${HOOK_FILE}: ${r.stderr.trim()}`);
      hupNetworkDaemons();
      await sleep(1000);
    }
  } finally {
    await rm(xml, { force: true });
  }
}

function hupNetworkDaemons(): void {
  for (const pid of [...pidsOf("libvirtd"), ...pidsOf("virtnetworkd")]) process.kill(pid, "SIGHUP");
}

/**
 * The hook a test installs: this checkout's shell wrapper (which decides no-op events
 * without starting Node, as install.sh's hook does), running its bundle with this node.
 */
export function testHookScript(): string {
  return `#!/bin/sh\n# vnat hook installed by vnat's tests (test/support/libvirt.ts); removed when they end\nVNAT_NODE=${process.execPath} exec ${join(REPO, "hooks/network")} "$@"\n`;
}

/** Bundles dist/cli.js and dist/hook.js from this checkout (~1 s), so the tests run the code under test. */
export async function buildBundles(): Promise<void> {
  await execa(process.execPath, ["scripts/build.mjs"], { cwd: REPO });
}

/** Runs this checkout's `vnat` CLI (the bundle) with the given config file. */
export function vnat(config: string, args: string[]): Promise<ShResult> {
  if (args[0] === "net" && args[1] === "create" && args[2] !== undefined) forgetAtExit(args[2]);
  return sh(process.execPath, [join(REPO, "dist/cli.js"), ...args], {
    env: { VNAT_CONFIG: config },
    timeoutMs: 60_000,
  });
}

/**
 * `vnat net create NAME` on 10.0.0.0/24 with the sandbox world's provider bridge as its
 * uplink network (the uplink from the provider's pool unless given).
 */
export function createSandboxNet(
  config: string,
  world: World,
  name: string,
  o: { bridge?: string; uplink?: string; extra?: string[] } = {},
): Promise<ShResult> {
  return vnat(config, [
    ...["net", "create", name, "--subnet", "10.0.0.0/24", "--provider", world.providerBridge],
    ...(o.uplink ? ["--uplink", o.uplink] : []),
    ...(o.bridge ? ["--bridge", o.bridge] : []),
    ...(o.extra ?? []),
  ]);
}

/** `vnat provider add` for the sandbox world's provider bridge (gateway /24, its DNS, an optional pool). */
export function addSandboxProvider(config: string, world: World, pool?: string): Promise<ShResult> {
  const args = ["provider", "add", world.providerBridge, "--gateway", `${world.providerGateway}/24`];
  if (pool) args.push("--pool", pool);
  return vnat(config, [...args, "--dns", world.upstreamDns]);
}

/**
 * The end of every e2e file: the tracked networks and domains, then `extra` steps, the
 * world, the hook, the temp dir; then the world's baseline. Cleanup errors fail the file.
 */
export async function closeE2e(o: {
  tracker: LibvirtTracker;
  world?: World;
  hook?: { release: () => Promise<void> };
  dir?: string;
  extra?: Array<() => Promise<void>>;
}): Promise<void> {
  const errors = await o.tracker.cleanup();
  for (const step of o.extra ?? []) await step();
  await o.world?.destroy();
  await o.hook?.release();
  if (o.dir) await rm(o.dir, { recursive: true, force: true });
  if (o.world) await assertNoWorldDebris(o.world.tag);
  if (errors.length) throw new Error(`e2e cleanup: ${errors.join("; ")}`);
}

/**
 * Makes sure vnat's hook is in network.d for as long as the returned release function
 * has not been called; returns which hook is used.
 */
export async function useHook(): Promise<{ release: () => Promise<void>; path: string; installedByTest: boolean }> {
  await mkdir(USERS, { recursive: true });
  const me = join(USERS, `${process.pid}-${randomBytes(3).toString("hex")}`);
  let installedByTest = false;
  await withLock(join(STATE, "hook.lock"), async () => {
    if (!existsSync(HOOK_FILE)) {
      if (!existsSync(HOOK_DIR)) {
        await mkdir(HOOK_DIR, { recursive: true });
        await writeFile(DIR_MARK, "");
      }
      await writeFile(HOOK_FILE, testHookScript(), { mode: 0o755 });
      await writeFile(INSTALLED_MARK, testHookScript());
      hupNetworkDaemons(); // the daemon looks for hooks when it (re)starts or reloads
    }
    await ensureHookSeen();
    installedByTest = existsSync(INSTALLED_MARK);
    await writeFile(me, `${process.pid} ${processStart(process.pid)} user\n`);
  });
  const release = async (): Promise<void> => {
    await withLock(join(STATE, "hook.lock"), async () => {
      await unlink(me).catch(() => {});
      const live = readdirSync(USERS).filter((f) => !isStaleHolder(readFileSync(join(USERS, f), "utf8")));
      if (live.length > 0 || !existsSync(INSTALLED_MARK)) return;
      // 1. the hook, only if it is still the one a test put there
      if ((await readFile(HOOK_FILE, "utf8").catch(() => "")) === (await readFile(INSTALLED_MARK, "utf8")))
        await unlink(HOOK_FILE);
      // 2. network.d, only if a test created it and nothing else lives there
      if (existsSync(DIR_MARK)) await rmdir(HOOK_DIR).catch(() => {});
      await rm(DIR_MARK, { force: true });
      await rm(INSTALLED_MARK, { force: true });
      await rm(USERS, { recursive: true, force: true });
      hupNetworkDaemons();
      // 3. the resident agent the hook started (src/hook/agent.ts), as the hook it served goes
      const id = readFileSync(join(REPO, "dist/build-id"), "utf8").trim();
      await stopAgent({ run: RUN_DIR, config: "", log: "" }, id);
    });
    await rmdir(STATE).catch(() => {}); // fails harmlessly while another test still uses it
  };
  return { release, path: HOOK_FILE, installedByTest };
}

/**
 * Runs FN holding the lock useHook() takes, so no test adopts or installs a hook while FN
 * changes network.d (install.sh's own test).
 */
export function withHookLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock(join(STATE, "hook.lock"), fn, { timeoutMs: 600_000 });
}

/** Everything a test defined in libvirt, removed in reverse order by cleanup() whatever happened. */
export class LibvirtTracker {
  private readonly domains: string[] = [];
  private readonly networks: string[] = [];
  private readonly files: string[] = [];
  domain(name: string): string {
    this.domains.push(name);
    return name;
  }
  network(name: string): string {
    this.networks.push(name);
    return name;
  }
  file(path: string): string {
    this.files.push(path);
    return path;
  }
  async cleanup(): Promise<string[]> {
    const errors: string[] = [];
    for (const d of this.domains.reverse()) {
      await virsh(["destroy", d]);
      await virsh(["undefine", d]);
    }
    for (const n of this.networks.reverse()) {
      await virsh(["net-destroy", n]);
      await virsh(["net-undefine", n]);
      const left = await netDebris(n);
      if (left.length) errors.push(`network ${n}: ${left.join(", ")}`);
    }
    for (const f of this.files) await rm(f, { recursive: true, force: true });
    return errors;
  }
}

/** What remains of vnat network NAME on the host (empty = clean baseline). */
export async function netDebris(name: string, bridge?: string): Promise<string[]> {
  const k = kernelNames(name);
  const found: string[] = [];
  if (existsSync(`/run/netns/${k.netns}`)) found.push(`namespace ${k.netns}`);
  for (const l of [k.lanHost, k.uplinkHost, ...(bridge ? [bridge] : [])])
    if (existsSync(`/sys/class/net/${l}`)) found.push(`link ${l}`);
  if (existsSync(join(RUN_DIR, "net", name))) found.push(`${RUN_DIR}/net/${name}`);
  if (existsSync(`/etc/netns/${k.netns}/resolv.conf`)) found.push(`/etc/netns/${k.netns}/resolv.conf`);
  for (const pid of pidsOf("dnsmasq")) {
    let cl = "";
    try {
      cl = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue; // it exited meanwhile (another test's dnsmasq)
    }
    if (cl.includes(`/net/${name}/`)) found.push(`dnsmasq ${pid}`);
  }
  const claims = join(RUN_DIR, "claims");
  for (const f of existsSync(claims) ? readdirSync(claims) : [])
    if (readFileSync(join(claims, f), "utf8").trim() === name) found.push(`claim ${f}`);
  return found;
}

/**
 * libvirt 9.0 keeps 11 of its own iptables rules (LIBVIRT_INP/OUT/FWI/FWO/FWX) for the bridge of
 * every network whose `started` hook failed or was killed, and nothing ever removes them (FACTS).
 * vnat never touches the host firewall; a test that makes starts fail on purpose (the fuzzer's
 * SIGKILLs) removes the rules naming ITS bridges once no link of that name exists, so the host's
 * firewall is as it found it. Returns how many rules went.
 */
export async function removeLibvirtKeptRules(bridges: Iterable<string>): Promise<number> {
  const gone = new Set([...bridges].filter((b) => !existsSync(`/sys/class/net/${b}`)));
  if (gone.size === 0) return 0;
  const saved = await sh("iptables-save", []);
  let removed = 0;
  for (const line of saved.stdout.split("\n")) {
    const words = line.trim().split(/\s+/);
    if (words[0] !== "-A" || !/^LIBVIRT_(INP|OUT|FWI|FWO|FWX)$/.test(words[1] ?? "")) continue;
    const dev = words.findIndex((w, i) => (w === "-i" || w === "-o") && gone.has(words[i + 1] ?? ""));
    if (dev < 0) continue;
    const r = await sh("iptables", ["-D", ...words.slice(1)]);
    if (r.exitCode === 0) removed++;
  }
  return removed;
}
