/**
 * Builds the tiny guest image and boots it for real under plain qemu (TCG),
 * inside a throwaway network namespace: bridge + taps, dnsmasq as DHCP/DNS
 * server and a small HTTP server on 10.99.0.1. Nothing leaves the namespace.
 *
 * Two guests run side by side: one in the default loop mode (fetch every
 * second) and one with vnat_once=1 (fetch once, then power off).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { needs } from "../support/needs.ts";
import { execa, type ResultPromise } from "execa";
import { bootArgsFor, ensureGuestImage, virtInstallArgs } from "../support/vm/image.ts";
import { parseSerialLog, waitForSerial } from "../support/vm/serial.ts";

const isRoot = process.getuid?.() === 0;
const URL_ = "http://www.example.test/";
const GW = "10.99.0.1";

type Child = ResultPromise<{ reject: false }>;

interface Proc {
  name: string;
  child: Child;
  output: string[];
}

function spawnLogged(name: string, cmd: string, args: string[]): Proc {
  const child = execa(cmd, args, {
    reject: false,
    stdin: "ignore",
    buffer: false,
  }) as unknown as Child;
  const output: string[] = [];
  child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
  child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
  return { name, child, output };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopProc(p: Proc): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined || p.child.exitCode !== null) return;
  if (!alive(pid)) return;
  process.kill(pid, "SIGTERM");
  process.kill(pid, "SIGCONT"); // in case the test left it stopped
  const exited = await Promise.race([
    p.child.then(() => true),
    sleep(5000, undefined, { ref: false }).then(() => false),
  ]);
  if (!exited && alive(pid)) {
    process.kill(pid, "SIGKILL");
    await p.child;
  }
}

async function ip(...args: string[]): Promise<string> {
  return (await execa("ip", args)).stdout;
}

test("virtInstallArgs: virt-install parses kernel_args given as one argv element", async () => {
  const url = "http://www.example.test/a?b=c";
  assert.equal(bootArgsFor(url), `console=ttyS0 panic=-1 vnat_url=${url}`);
  assert.equal(bootArgsFor(url, { once: true }), `console=ttyS0 panic=-1 vnat_url=${url} vnat_once=1`);
  assert.throws(() => bootArgsFor("http://x/ y"));
  assert.throws(() => bootArgsFor('http://x/"'));
  const args = virtInstallArgs({
    name: "vt-g1",
    // the built-in test driver below has a network called "default"
    network: "default",
    kernel: "/var/cache/k",
    initrd: "/var/cache/i",
    serialLog: "/tmp/serial.log",
    url,
  });
  assert.ok(args.includes("--transient"));
  const haveVirtInstall = (await execa("which", ["virt-install"], { reject: false })).exitCode === 0;
  assert.ok(haveVirtInstall, "virt-install is not installed (apt-get install virtinst): the XML check needs it");
  // libvirt's built-in test driver (no daemon, nothing started) only offers
  // i686/"test" domains, so drop --virt-type for this check.
  const i = args.indexOf("--virt-type");
  const forTestDriver = [...args.slice(0, i), ...args.slice(i + 2)];
  const { stdout } = await execa("virt-install", ["--connect", "test:///default", "--print-xml", ...forTestDriver]);
  assert.match(stdout, new RegExp(`<cmdline>${bootArgsFor(url).replace(/[?.]/g, "\\$&")}</cmdline>`));
  assert.match(stdout, /<acpi\/>/);
  assert.match(stdout, /<kernel>\/var\/cache\/k<\/kernel>/);
  assert.match(stdout, /<serial type="file">\s*<source path="\/tmp\/serial.log"\/>/);
});

test("parseSerialLog reads VNAT lines among kernel noise", () => {
  const s = parseSerialLog(
    [
      "[    1.8] Run /init as init process\r",
      "",
      "VNAT-BOOTED kernel=6.1.0-56-amd64\r",
      "udhcpc: lease of 10.0.0.5 obtained from 10.0.0.1, lease time 3600\r",
      "VNAT-LEASE ip=10.0.0.5 router=10.0.0.1 dns=10.0.0.1,10.0.0.2 prefix=24 lease=3600\r",
      "VNAT-FETCH 1 hello 10.0.0.5\r",
      "VNAT-FETCH-FAIL 2 rc=143\r",
      "[   9.1] random kernel line VNAT-FETCH 3 hi there\r",
      "VNAT-FETCH 4\r",
      "VNAT-LEASE-FAIL 1\r",
    ].join("\n"),
  );
  assert.equal(s.booted, true);
  assert.deepEqual(s.leases, [
    {
      ip: "10.0.0.5",
      router: ["10.0.0.1"],
      dns: ["10.0.0.1", "10.0.0.2"],
      prefix: 24,
    },
  ]);
  assert.deepEqual(s.fetches, [
    { seq: 1, ok: true, body: "hello 10.0.0.5" },
    { seq: 2, ok: false, body: "" },
    { seq: 3, ok: true, body: "hi there" },
    { seq: 4, ok: true, body: "" },
  ]);
  assert.equal(s.leaseFailures, 1);
  assert.equal(s.poweredOff, false);
});

needs(isRoot ? undefined : "needs root (network namespaces, qemu)").test(
  "guest image boots under qemu, leases, fetches, powers off",
  { timeout: 300_000 },
  async (t) => {
    const t0 = Date.now();
    const image = await ensureGuestImage();
    t.diagnostic(`image ready in ${Date.now() - t0} ms: ${image.initrd}`);

    const ns = `vt-vm-${randomBytes(3).toString("hex")}`;
    const netnsEtc = join("/etc/netns", ns);
    const hadNetnsDir = existsSync("/etc/netns");
    const hostResolv = await readFile("/etc/resolv.conf", "utf8").catch(() => "");
    const tmp = await mkdtemp(join(tmpdir(), "vnat-vm-test-"));
    const procs: Proc[] = [];
    const qemuArgs = (tap: string, mac: string, log: string, once: boolean) => [
      "netns",
      "exec",
      ns,
      "qemu-system-x86_64",
      "-accel",
      "tcg",
      "-m",
      "256",
      "-smp",
      "1",
      "-nodefaults",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      `file:${log}`,
      "-kernel",
      image.kernel,
      "-initrd",
      image.initrd,
      "-append",
      bootArgsFor(URL_, { once }),
      "-netdev",
      `tap,id=n0,ifname=${tap},script=no,downscript=no`,
      "-device",
      `virtio-net-pci,netdev=n0,mac=${mac}`,
    ];

    let failed = true;
    try {
      // --- the namespace: its own resolv.conf first (see FACTS.md).
      await mkdir(netnsEtc, { recursive: true });
      await writeFile(join(netnsEtc, "resolv.conf"), `nameserver ${GW}\n`);
      await ip("netns", "add", ns);
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "add", "br0", "type", "bridge");
      await ip("-n", ns, "addr", "add", `${GW}/24`, "dev", "br0");
      await ip("-n", ns, "link", "set", "br0", "up");
      for (const tap of ["tap0", "tap1"]) {
        await ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap");
        await ip("-n", ns, "link", "set", tap, "master", "br0", "up");
      }

      // --- DHCP + DNS.
      const dnsmasq = spawnLogged("dnsmasq", "ip", [
        "netns",
        "exec",
        ns,
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        "--bind-interfaces",
        "--interface=br0",
        "--except-interface=lo",
        "--dhcp-range=10.99.0.100,10.99.0.200,255.255.255.0,1h",
        "--dhcp-authoritative",
        "--no-ping",
        `--dhcp-leasefile=${join(tmp, "leases")}`,
        `--pid-file=${join(tmp, "dnsmasq.pid")}`,
        `--address=/www.example.test/${GW}`,
        "--log-facility=-",
        "--log-dhcp",
      ]);
      procs.push(dnsmasq);

      // --- HTTP server answering with the client's address.
      const http = spawnLogged("http", "ip", [
        "netns",
        "exec",
        ns,
        process.execPath,
        "-e",
        `require("node:http").createServer((q, s) => {
           s.end("hello " + q.socket.remoteAddress.replace(/^::ffff:/, "") + "\\n");
         }).listen(80, ${JSON.stringify(GW)}, () => console.log("LISTENING"));`,
      ]);
      procs.push(http);
      for (let i = 0; !http.output.join("").includes("LISTENING"); i++) {
        if (i > 100 || http.child.exitCode !== null)
          throw new Error(`http server did not start: ${http.output.join("")}`);
        await sleep(50);
      }
      assert.equal(dnsmasq.child.exitCode, null, dnsmasq.output.join(""));

      // --- two guests.
      const loopLog = join(tmp, "loop.log");
      const onceLog = join(tmp, "once.log");
      const qStart = Date.now();
      const loop = spawnLogged("qemu-loop", "ip", qemuArgs("tap0", "52:54:00:99:00:01", loopLog, false));
      procs.push(loop);
      const once = spawnLogged("qemu-once", "ip", qemuArgs("tap1", "52:54:00:99:00:02", onceLog, true));
      procs.push(once);

      const booted = await waitForSerial(loopLog, (s) => s.booted && Date.now(), {
        timeoutMs: 120_000,
        what: "VNAT-BOOTED",
      });
      const lease = await waitForSerial(loopLog, (s) => s.leases[0], {
        timeoutMs: 120_000,
        what: "VNAT-LEASE",
      });
      const leaseMs = Date.now() - qStart;
      t.diagnostic(`qemu start -> VNAT-BOOTED ${booted - qStart} ms, -> VNAT-LEASE ${leaseMs} ms (2 guests running)`);
      assert.match(lease.ip, /^10\.99\.0\.(1\d\d|200)$/);
      assert.deepEqual(lease.router, [GW]);
      assert.deepEqual(lease.dns, [GW]);
      assert.equal(lease.prefix, 24);

      const fetches = await waitForSerial(
        loopLog,
        (s) => {
          const ok = s.fetches.filter((f) => f.ok);
          return ok.length >= 3 && ok;
        },
        { timeoutMs: 60_000, what: "3 VNAT-FETCH lines" },
      );
      for (const f of fetches) assert.equal(f.body, `hello ${lease.ip}`);
      t.diagnostic(`first fetch ok at ${Date.now() - qStart} ms, bodies: ${fetches[0]?.body}`);

      // A server that accepts but never answers: `timeout 5 wget` must give
      // up (VNAT-FETCH-FAIL), and fetching must resume once it answers again.
      const lastOk = fetches[fetches.length - 1]?.seq ?? 0;
      const httpPid = http.child.pid;
      assert.ok(httpPid);
      process.kill(httpPid, "SIGSTOP");
      const fail = await waitForSerial(loopLog, (s) => s.fetches.find((f) => !f.ok && f.seq > lastOk), {
        timeoutMs: 30_000,
        what: "VNAT-FETCH-FAIL while the server hangs",
      });
      process.kill(httpPid, "SIGCONT");
      const resumed = await waitForSerial(loopLog, (s) => s.fetches.find((f) => f.ok && f.seq > fail.seq), {
        timeoutMs: 30_000,
        what: "VNAT-FETCH after the server resumed",
      });
      assert.equal(resumed.body, `hello ${lease.ip}`);
      t.diagnostic(`hung server: fetch ${fail.seq} failed, ${resumed.seq} ok`);

      // The once-guest fetches and powers itself off (qemu exits).
      const onceExit = await Promise.race([
        once.child.then((r) => r.exitCode),
        sleep(120_000, undefined, { ref: false }).then(() => "timeout" as const),
      ]);
      const onceState = parseSerialLog(await readFile(onceLog, "utf8").catch(() => ""));
      assert.equal(onceExit, 0, `once-guest did not power off: ${JSON.stringify(onceState)}`);
      assert.equal(onceState.poweredOff, true);
      assert.equal(onceState.fetches.length, 1);
      const onceLease = onceState.leases[0];
      assert.ok(onceLease, "once-guest got no lease");
      assert.notEqual(onceLease.ip, lease.ip);
      assert.equal(onceState.fetches[0]?.body, `hello ${onceLease.ip}`);

      // The loop guest is still going.
      assert.equal(loop.child.exitCode, null);
      const vnatLines = (await readFile(loopLog, "utf8")).split(/\r?\n/).filter((l) => l.includes("VNAT-"));
      for (const l of vnatLines) t.diagnostic(`loop guest: ${l}`);
      failed = false;
    } finally {
      if (failed) {
        for (const p of procs) t.diagnostic(`${p.name} output:\n${p.output.join("").slice(-3000)}`);
        for (const f of ["loop.log", "once.log"]) {
          const text = await readFile(join(tmp, f), "utf8").catch(() => "");
          t.diagnostic(`${f} tail:\n${text.slice(-3000)}`);
        }
      }
      // --- teardown, then check that nothing is left.
      for (const p of procs.reverse()) await stopProc(p);
      let leftover: string[] = [];
      if ((await ip("netns", "list")).split("\n").some((l) => l.split(" ")[0] === ns)) {
        leftover = (await ip("netns", "pids", ns)).split("\n").filter(Boolean);
        await ip("netns", "del", ns);
      }
      await rm(netnsEtc, { recursive: true, force: true });
      if (!hadNetnsDir) await rmdir("/etc/netns").catch(() => {});
      await rm(tmp, { recursive: true, force: true });

      assert.deepEqual(leftover, [], "processes left in the namespace");
      for (const p of procs) assert.ok(p.child.pid === undefined || !alive(p.child.pid), `${p.name} still alive`);
      const nsList = await ip("netns", "list");
      assert.ok(!nsList.includes(ns), `namespace ${ns} still listed`);
      assert.ok(!existsSync(netnsEtc), `${netnsEtc} still exists`);
      assert.equal(
        await readFile("/etc/resolv.conf", "utf8").catch(() => ""),
        hostResolv,
        "host /etc/resolv.conf changed",
      );
    }
  },
);
