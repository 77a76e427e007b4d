// exec/change/ip.ts on the real ip(8), in a namespace the test creates: `ip -batch` stops at the
// first failing line, and ipBatch says which line failed and how many ran before it, also
// when ip exits 255 without a line number (an argument it cannot parse); netnsPids lists
// the processes inside a namespace.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { ipBatch, netnsPids } from "../../src/exec/change/ip.ts";
import { processRunner } from "../../src/exec/run.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
let ns = "";
before(async () => {
  ns = await s.netns("ip");
});
after(() => s.cleanup());

const links = async (): Promise<string[]> =>
  (JSON.parse((await run("ip", ["-n", ns, "-j", "link", "show"])).stdout) as Array<{ ifname: string }>)
    .map((l) => l.ifname)
    .filter((n) => n !== "lo")
    .sort();

test("every line succeeds: ok, done = all lines, the links exist in the namespace only", async () => {
  const r = await ipBatch(processRunner, ["link add br-one type bridge", "link add br-two type bridge"], ns);
  assert.deepEqual(r, { ok: true, done: 2, error: "" });
  assert.deepEqual(await links(), ["br-one", "br-two"]);
  await run("ip", ["-n", ns, "link", "del", "br-one"]);
  await run("ip", ["-n", ns, "link", "del", "br-two"]);
});

test("a failing line: done counts the lines before it, the error quotes it, later lines never ran", async () => {
  const r = await ipBatch(
    processRunner,
    ["link add br-x type bridge", "link add br-x type bridge", "link add br-y type bridge"],
    ns,
  );
  assert.equal(r.ok, false);
  assert.equal(r.done, 1);
  assert.equal(r.error, `"ip link add br-x type bridge": RTNETLINK answers: File exists`);
  assert.deepEqual(await links(), ["br-x"]);
  await run("ip", ["-n", ns, "link", "del", "br-x"]);
});

test("an argument ip cannot parse (exit 255, no line number): the line naming it, done = every line", async () => {
  const lines = ["link add br-z type bridge", "link set dev br-z mtu abc", "link add br-w type bridge"];
  const r = await ipBatch(processRunner, lines, ns);
  assert.equal(r.ok, false);
  assert.equal(r.done, 3, "every undo runs");
  assert.match(r.error, /^"ip link set dev br-z mtu abc": Error: argument "abc" is wrong/);
  assert.deepEqual(await links(), ["br-z"]);
  await run("ip", ["-n", ns, "link", "del", "br-z"]);
});

test("netnsPids: the pid of a process inside the namespace; none for a namespace that does not exist", async () => {
  const child = spawn("ip", ["netns", "exec", ns, "sleep", "30"], { stdio: "ignore" });
  try {
    let pids: number[] = [];
    for (let i = 0; i < 100 && !pids.length; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pids = await netnsPids(processRunner, ns);
    }
    assert.deepEqual(pids, [child.pid]);
    assert.deepEqual(await netnsPids(processRunner, `${ns}-none`), []);
  } finally {
    child.kill("SIGKILL");
  }
});
