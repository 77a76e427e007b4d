// exec/probe/inside.ts: every namespace's view (links, addresses, default route, ruleset).
// A namespace with vnat's dnsmasq inside is read through that process's /proc files and a
// shared ruleset listing, without an `ip -n NS` probe of its own; the view is the same as
// the one-process probe gives. Others get that probe; a namespace that is gone gets an error.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import type { NetnsView } from "../../src/core/observe/netns-view.ts";
import { netPaths } from "../../src/core/paths.ts";
import { probeInside } from "../../src/exec/probe/inside.ts";
import { probeNetns } from "../../src/exec/probe/netns.ts";
import { limiter } from "../../src/adapters/async.ts";
import { processRunner, type Runner } from "../../src/exec/run.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-probe-inside-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
let ns1 = "";
let ns2 = "";
let fake: ChildProcess | undefined;

before(async () => {
  ns1 = await s.netns("n1");
  ns2 = await s.netns("n2");
  await run("ip", ["-n", ns1, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0", "netns", ns2]);
  await run("ip", ["-n", ns1, "addr", "add", "10.0.0.1/24", "dev", "lan0"]);
  await run("ip", ["-n", ns1, "link", "set", "lan0", "up"]);
  await run("ip", ["-n", ns2, "addr", "add", "198.51.100.70/24", "dev", "wan0"]);
  await run("ip", ["-n", ns2, "link", "set", "wan0", "up"]);
  await run("ip", ["-n", ns2, "route", "add", "default", "via", "198.51.100.1"]);
  for (const [ns, t] of [
    [ns1, "one"],
    [ns2, "two"],
  ] as const)
    await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
      input: `table ip ${t} {\n  chain c { type filter hook forward priority 0; policy accept; }\n}\n`,
    });
  // vnat's "dnsmasq" of network pi1 (bash under that name) inside ns1, with its pid file
  const pidFile = netPaths(roots, "pi1").pidFile;
  mkdirSync(dirname(pidFile), { recursive: true });
  symlinkSync("/bin/bash", join(dir, "dnsmasq"));
  fake = spawn("ip", ["netns", "exec", ns1, join(dir, "dnsmasq"), "-c", "sleep 60; :", "x", `--pid-file=${pidFile}`], {
    stdio: "ignore",
  });
  writeFileSync(pidFile, `${fake.pid}\n`);
  for (let i = 0; i < 200; i++) {
    const cmd = readFileSync(`/proc/${fake.pid}/cmdline`, "utf8");
    if (cmd.startsWith(join(dir, "dnsmasq"))) break;
    await new Promise((r) => setTimeout(r, 10));
  }
});
after(async () => {
  fake?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

// the IPv6 default route is read only on the fast path (/proc/PID/net/ipv6_route; `ip -batch`
// lists no IPv6 routes): the full probe leaves it unknown (absent), so it is compared apart
const comparable = ({ defaultRoute6: _unknownToTheFullProbe, ...v }: NetnsView) => ({
  ...v,
  links: v.links.filter((l) => l.name !== "lo").sort((a, b) => a.name.localeCompare(b.name)),
});

test("fast path (dnsmasq inside) and one-process probe give the real views; a missing namespace an error", async () => {
  const calls: string[][] = [];
  const counting: Runner = {
    run: (cmd, args, opts) => {
      calls.push([cmd, ...args]);
      return processRunner.run(cmd, args, opts);
    },
  };
  const out = probeInside(
    counting,
    roots,
    [
      { name: "pi1", netns: ns1 },
      { name: "pi2", netns: ns2 },
      { name: "pi3", netns: `${ns2}-gone` },
    ],
    limiter(2),
    2,
  );
  assert.deepEqual([...out.keys()].sort(), ["pi1", "pi2", "pi3"]);
  const one = await out.get("pi1")!;
  const two = await out.get("pi2")!;
  const three = await out.get("pi3")!;
  assert.ok("view" in one && "view" in two, JSON.stringify({ one, two }));
  // the fast path's view is the full probe's (vnat's links: loopback is no concern of either)
  assert.deepEqual(comparable(one.view), comparable(await probeNetns(processRunner, ns1)));
  assert.equal(one.view.defaultRoute6, null, "the fast path reads the (absent) IPv6 default route");
  assert.deepEqual(two.view, await probeNetns(processRunner, ns2));
  const lan = one.view.links.find((l) => l.name === "lan0");
  assert.deepEqual(lan?.addresses, ["10.0.0.1/24"]);
  assert.match(one.view.ruleset, /table ip one/);
  assert.deepEqual(two.view.defaultRoute, { gateway: "198.51.100.1", dev: "wan0" });
  assert.match(two.view.ruleset, /table ip two/);
  assert.ok("error" in three);
  assert.match(three.error, /gone/);
  // ns1 was not probed by its own ip process
  assert.ok(!calls.some((c) => c.includes("-n") && c.includes(ns1)), JSON.stringify(calls));
  assert.ok(calls.some((c) => c.includes("-n") && c.includes(ns2)));
});
