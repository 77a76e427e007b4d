// `vnat exec NET -- CMD` (issue 15) as a user drives it, against the real libvirt daemon: a
// guest that leased with a hostname is found by that name through the namespace's dnsmasq
// and reached over TCP from `vnat exec`; /etc/netns/vnat-NET/resolv.conf lives exactly as
// long as the network runs; the command's exit code, stdin and umask pass through; bad
// input is refused in one line.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import {
  addSandboxProvider,
  buildBundles,
  closeE2e,
  createSandboxNet,
  ensureDaemons,
  LibvirtTracker,
  libvirtUnavailable,
  REPO,
  useHook,
  virsh,
  vnat,
} from "../support/libvirt.ts";
import { startEcho } from "../support/inbound.ts";
import { sh, waitFor } from "../support/sh.ts";
import { createWorld, UDHCPC_SCRIPT, worldUnavailable, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable() ?? worldUnavailable();

/** stderr of a refusal: exactly one line */
function oneLine(stderr: string): string {
  const lines = stderr.split("\n").filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${stderr}`);
  return lines[0]!;
}

needs(unmet).describe("vnat exec (real libvirt)", {}, () => {
  const tracker = new LibvirtTracker();
  let world: World;
  let hook: Awaited<ReturnType<typeof useHook>>;
  let cfgDir: string;
  let cfg: string;
  let net: string;
  let plain: string;
  let guestName: string;
  const resolvConf = (): string => `/etc/netns/${kernelNames(net).netns}/resolv.conf`;
  const exec = (args: string[], input?: string) =>
    input === undefined ? vnat(cfg, ["exec", net, "--", ...args]) : vnatInput(cfg, ["exec", net, "--", ...args], input);

  before(async () => {
    await ensureDaemons();
    await buildBundles();
    hook = await useHook();
    world = await createWorld();
    cfgDir = await mkdtemp(join(tmpdir(), `vnat-e2e-exec-${world.tag}-`));
    cfg = join(cfgDir, "config.json");
    const p = await addSandboxProvider(cfg, world);
    assert.equal(p.exitCode, 0, `vnat provider add: ${p.stderr}`);
    net = tracker.network(`vnx-${world.tag}`);
    const r = await createSandboxNet(cfg, world, net, { uplink: "198.51.100.41", bridge: `vnxb${world.tag}` });
    assert.equal(r.exitCode, 0, `vnat net create ${net}: ${r.stderr}`);
    // a libvirt network without vnat metadata, defined only (never started)
    plain = tracker.network(`vnxp-${world.tag}`);
    const xml = join(cfgDir, "plain.xml");
    await writeFile(xml, `<network><name>${plain}</name><bridge name="vnxp${world.tag}"/></network>\n`);
    await virsh(["net-define", xml], { check: true });
    guestName = `vm-${world.tag}`;
  });

  after(async () => {
    await closeE2e({ tracker, world, hook, dir: cfgDir });
  });

  test("refused in one line: not running, unknown, not vnat's, no command", async () => {
    const cases: Array<[string[], number, string]> = [
      [["exec", net, "--", "true"], 3, `vnat: network "${net}" is not running (virsh net-start ${net})`],
      [
        ["exec", `nosuch-${world.tag}`, "--", "true"],
        2,
        `vnat: network "nosuch-${world.tag}": not defined in libvirt (see vnat net list)`,
      ],
      [
        ["exec", plain, "--", "true"],
        2,
        `vnat: network "${plain}": not a vnat network (no vnat metadata); vnat exec needs vnat's namespace`,
      ],
      [["exec", net], 2, `vnat: exec "${net}": no command given (usage: vnat exec NET -- CMD [ARG...])`],
      [["exec", net, "--"], 2, `vnat: exec "${net}": no command given (usage: vnat exec NET -- CMD [ARG...])`],
    ];
    for (const [args, code, line] of cases) {
      const r = await vnat(cfg, args);
      assert.equal(r.exitCode, code, `vnat ${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(oneLine(r.stderr), line);
    }
    assert.ok(!existsSync(resolvConf()), "no resolv.conf before the network runs");
  });

  test("net-start writes the namespace's resolv.conf: the gateway, where dnsmasq listens", async () => {
    await virsh(["net-start", net], { check: true });
    assert.equal(
      readFileSync(resolvConf(), "utf8"),
      `# written by vnat for network "${net}" and removed when it stops: the namespace's dnsmasq\nnameserver 10.0.0.1\nsearch .\n`,
    );
    const r = await exec(["ip", "netns", "identify"]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, `${kernelNames(net).netns}\n`);
    // dnsmasq forwards other names upstream (the world's DNS, which has an AAAA for the name too:
    // ask for the IPv4 answer, this network is IPv4-only)
    const www = await exec(["getent", "ahostsv4", world.dnsName]);
    assert.equal(www.exitCode, 0, www.stderr);
    assert.match(
      www.stdout,
      new RegExp(`^${world.internetIp.replace(/\./g, "\\.")}\\s+STREAM\\s+${world.dnsName.replace(/\./g, "\\.")}\\n`),
    );
  });

  test("a guest's DHCP hostname resolves in vnat exec, and a TCP connection by that name reaches it", async () => {
    const guest = await world.addGuest(`vnxb${world.tag}`);
    // world.ts's guest.dhcp plus -x hostname:NAME, the name dnsmasq registers for the lease
    const d = await guest.exec(
      "busybox",
      [
        ...["udhcpc", "-i", guest.ifname, "-f", "-q", "-n", "-t", "10", "-T", "1"],
        ...["-s", UDHCPC_SCRIPT, "-x", `hostname:${guestName}`],
      ],
      { env: { VT_NETNS: guest.ns }, timeoutMs: 20_000 },
    );
    assert.equal(d.exitCode, 0, d.stderr);
    const lease = (await guest.address())?.ip ?? "";
    assert.match(lease, /^10\.0\.0\.\d+$/);

    const r = await exec(["getent", "hosts", guestName]);
    assert.equal(r.exitCode, 0, `getent hosts ${guestName}: exit ${r.exitCode} ${r.stderr}`);
    assert.equal(r.stdout.trim().split(/\s+/).join(" "), `${lease} ${guestName}`);
    // busybox's nslookup asks the server in resolv.conf directly
    const ns = await exec(["busybox", "nslookup", "-type=a", guestName]);
    assert.match(ns.stdout, new RegExp(`Address:\\s*${lease.replace(/\./g, "\\.")}\\s*$`, "m"), ns.stdout);

    const log = await startEcho(world, guest, 8080);
    const script = `const s = require("net").connect(8080, process.argv[1], () => s.write("GET / HTTP/1.0\\r\\n\\r\\n")); s.pipe(process.stdout); s.on("error", (e) => { console.error(e.message); process.exit(1); });`;
    const c = await exec([process.execPath, "-e", script, guestName]);
    assert.equal(c.exitCode, 0, c.stderr);
    // the echo server answers with the client's address: the namespace's own lan0
    assert.match(c.stdout, /\r\n\r\n10\.0\.0\.1\n$/);
    assert.match(readFileSync(log, "utf8"), /"source":"10\.0\.0\.1"/);
  });

  test("exit code, signals, stdin and the caller's umask pass through", async () => {
    assert.equal((await exec(["sh", "-c", "exit 7"])).exitCode, 7);
    assert.equal((await exec(["sh", "-c", 'kill -TERM "$$"'])).exitCode, 128 + 15);
    const cat = await exec(["cat"], "typed at the terminal\n");
    assert.equal(cat.exitCode, 0, cat.stderr);
    assert.equal(cat.stdout, "typed at the terminal\n");
    const mask = process.umask();
    const u = await exec(["sh", "-c", "umask"]);
    assert.equal(u.stdout.trim(), mask.toString(8).padStart(4, "0"), "the caller's umask, not vnat's 077");
    // arguments reach the command as they are: no shell in between
    const echo = await exec(["printf", "%s|", "a b", "$HOME", "--", "-h", "'q'"]);
    assert.equal(echo.stdout, "a b|$HOME|--|-h|'q'|");
    // a command that is not there: ip's own line, its exit code
    const missing = await exec([`no-such-command-${world.tag}`]);
    assert.notEqual(missing.exitCode, 0);
    assert.match(missing.stderr, /no-such-command/);
  });

  test("a terminal passes through (interactive ssh); SIGTERM to vnat reaches the command", async () => {
    // script(1) gives vnat a pseudo-terminal, as a user's shell would
    const cmd = [
      process.execPath,
      join(REPO, "dist/cli.js"),
      "exec",
      net,
      "--",
      "sh",
      "-c",
      "test -t 0 && test -t 1 && tty",
    ];
    const tty = await sh("script", ["-q", "-e", "-c", cmd.map(shellQuote).join(" "), "/dev/null"], {
      env: { VNAT_CONFIG: cfg },
      timeoutMs: 30_000,
    });
    assert.equal(tty.exitCode, 0, tty.stdout + tty.stderr);
    assert.match(tty.stdout, /\/dev\/pts\/\d+/);

    const child = spawn(process.execPath, [join(REPO, "dist/cli.js"), "exec", net, "--", "sleep", "30"], {
      env: { ...process.env, VNAT_CONFIG: cfg },
      stdio: "ignore",
    });
    try {
      const sleeper = await waitFor(() => sleepIn(kernelNames(net).netns), 10_000, "sleep 30 in the namespace");
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      assert.equal(code, 128 + 15, "the command's own end by SIGTERM");
      assert.ok(!existsSync(`/proc/${sleeper}`), "the command got the signal");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("net-destroy removes the resolv.conf; vnat exec then says the network is not running", async () => {
    await virsh(["net-destroy", net], { check: true });
    assert.ok(!existsSync(resolvConf()), "resolv.conf gone after the stop");
    assert.ok(!existsSync(`/etc/netns/${kernelNames(net).netns}`), "and its directory");
    const r = await vnat(cfg, ["exec", net, "--", "true"]);
    assert.equal(r.exitCode, 3);
    assert.equal(oneLine(r.stderr), `vnat: network "${net}" is not running (virsh net-start ${net})`);
  });
});

/** A word for sh -c: in single quotes. */
const shellQuote = (w: string): string => `'${w.replace(/'/g, "'\\''")}'`;

/** The pid of a `sleep 30` running in network namespace NETNS (`ip netns pids`). */
async function sleepIn(netns: string): Promise<number | undefined> {
  const pids = (await sh("ip", ["netns", "pids", netns])).stdout.split("\n").filter(Boolean);
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8") === "sleep\u000030\u0000") return Number(pid);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** vnat() (test/support/libvirt.ts) with INPUT on the command's stdin. */
function vnatInput(config: string, args: string[], input: string): ReturnType<typeof sh> {
  return sh(process.execPath, [join(REPO, "dist/cli.js"), ...args], {
    env: { VNAT_CONFIG: config },
    input,
    timeoutMs: 60_000,
  });
}
