// exec/probe/host.ts reads /sys and /proc only: the test makes what it reads for real (a
// veth pair on a bridge, a namespace with a process in it, a dnsmasq-named process with a
// pid file, state files) and checks each reading, and what it says when the object is gone.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeState } from "../../src/adapters/store/state.ts";
import { netPaths } from "../../src/core/paths.ts";
import {
  bridgeExists,
  conntrackCount,
  inNetns,
  ourDnsmasqPid,
  probeDnsmasq,
  probeVeth,
  processArgs,
  readStateSync,
  readText,
} from "../../src/exec/probe/host.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-probe-host-"));
let ns = "";
let other = "";
let br = "";
let v0 = "";
let v1 = "";
let fake: ChildProcess | undefined;
const pidFile = join(dir, "dnsmasq.pid");

before(async () => {
  ns = await s.netns("in");
  other = await s.netns("out");
  br = await s.bridge("br");
  v0 = s.link("v0");
  v1 = s.link("v1");
  await run("ip", ["link", "add", v0, "type", "veth", "peer", "name", v1]);
  await run("ip", ["link", "set", v0, "master", br]);
  await run("ip", ["link", "set", v0, "up"]);
  // a "dnsmasq" (bash under that name) inside NS, started with vnat's pid-file argument
  symlinkSync("/bin/bash", join(dir, "dnsmasq"));
  fake = spawn("ip", ["netns", "exec", ns, join(dir, "dnsmasq"), "-c", "sleep 60; :", "x", `--pid-file=${pidFile}`], {
    stdio: "ignore",
  });
  writeFileSync(pidFile, `${fake.pid}\n`);
  for (let i = 0; i < 200 && !(readText(`/proc/${fake.pid}/cmdline`) ?? "").startsWith(join(dir, "dnsmasq")); i++)
    await new Promise((r) => setTimeout(r, 10));
});
after(async () => {
  fake?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

test("readText: a file's trimmed text, null when it cannot be read", () => {
  writeFileSync(join(dir, "t"), "  hello\n");
  assert.equal(readText(join(dir, "t")), "hello");
  assert.equal(readText(join(dir, "none")), null);
});

test("probeVeth: present, up and enslaved; present and down without master; absent", () => {
  const a = probeVeth(v0);
  assert.equal(a.present, true);
  assert.equal(a.up, true);
  assert.equal(a.master, br);
  assert.equal(typeof a.operstate, "string");
  assert.deepEqual(probeVeth(v1), { name: v1, present: true, up: false, operstate: "down", master: null });
  assert.deepEqual(probeVeth(`${v1}x`), { name: `${v1}x`, present: false, up: false, operstate: null, master: null });
});

test("bridgeExists: only for a bridge", () => {
  assert.equal(bridgeExists(br), true);
  assert.equal(bridgeExists(v0), false);
  assert.equal(bridgeExists(`${br}x`), false);
});

test("inNetns and processArgs: a process inside the namespace, not in another; argv without argv[0]", () => {
  const pid = fake!.pid!;
  assert.equal(inNetns(pid, ns), true);
  assert.equal(inNetns(pid, other), false);
  assert.equal(inNetns(process.pid, ns), false);
  assert.equal(inNetns(pid, `${ns}-none`), false);
  assert.deepEqual(processArgs(pid), ["-c", "sleep 60; :", "x", `--pid-file=${pidFile}`]);
  assert.equal(processArgs(2 ** 22 + 1), null);
});

test("ourDnsmasqPid / probeDnsmasq: only a dnsmasq started with this pid file; in which namespace; its args", () => {
  const pid = fake!.pid!;
  assert.equal(ourDnsmasqPid(pidFile), pid);
  const args = ["-c", "sleep 60; :", "x", `--pid-file=${pidFile}`];
  assert.deepEqual(probeDnsmasq(pidFile, ns, args), { pid, inNamespace: true, argsMatch: true });
  assert.deepEqual(probeDnsmasq(pidFile, ns, null), { pid, inNamespace: true, argsMatch: true });
  assert.deepEqual(probeDnsmasq(pidFile, other, [...args, "--more"]), { pid, inNamespace: false, argsMatch: false });
  // a pid file naming another process (this node), or garbage, or nothing: no dnsmasq of ours
  const wrong = join(dir, "wrong.pid");
  writeFileSync(wrong, `${process.pid}\n`);
  assert.equal(ourDnsmasqPid(wrong), null);
  // our dnsmasq's pid, but the pid file it was started with is another one
  writeFileSync(wrong, `${pid}\n`);
  assert.equal(ourDnsmasqPid(wrong), null);
  writeFileSync(wrong, "1\n");
  assert.equal(ourDnsmasqPid(wrong), null);
  writeFileSync(wrong, "abc\n");
  assert.equal(ourDnsmasqPid(wrong), null);
  assert.deepEqual(probeDnsmasq(join(dir, "none.pid"), ns, null), { pid: null, inNamespace: false, argsMatch: false });
});

test("conntrackCount: the namespace's own table (a fresh namespace: 0); null for a process that is gone", () => {
  assert.equal(conntrackCount(fake!.pid!), 0);
  assert.equal(conntrackCount(2 ** 22 + 1), null);
});

test("readStateSync: phase, start and attachments of a valid state file; undefined when absent or invalid", async () => {
  const roots = { run: join(dir, "run"), config: "", log: "" };
  await writeState(roots, {
    name: "ph1",
    phase: "active",
    lanBridge: "virbr7",
    uplinkBridge: "br0",
    uplink: "198.51.100.7",
    netns: "vnat-ph1",
    startedAt: "2026-01-02T03:04:05.000Z",
    attach: { lan: "veth", uplink: "macvlan" },
  });
  const path = netPaths(roots, "ph1").state;
  assert.deepEqual(readStateSync(path, "ph1"), {
    phase: "active",
    startedAt: "2026-01-02T03:04:05.000Z",
    attach: { lan: "veth", uplink: "macvlan" },
  });
  assert.equal(readStateSync(path, "other"), undefined, "a file whose name is not the network's");
  writeFileSync(path, "{");
  assert.equal(readStateSync(path, "ph1"), undefined);
  assert.equal(readStateSync(join(dir, "none.json"), "ph1"), undefined);
});
