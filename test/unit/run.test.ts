// The runner (src/exec/run.ts), the only code that starts or signals processes, on real
// short processes: it never throws (a missing binary is exit 127 with the reason), it
// collects output, feeds input, kills at its timeout, hands open files on as fd 3…, and
// its attached mode passes exit codes, signals and the caller's umask through.
import assert from "node:assert/strict";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { NOT_STARTED, processRunner, runAttached, signal, spawnDetached } from "../../src/exec/run.ts";

const dir = mkdtempSync(join(tmpdir(), "vnat-run-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("run: output, exit code and input; C locale; never throws", async () => {
  const r = await processRunner.run("sh", ["-c", 'cat; echo "err $LC_ALL" >&2; exit 3'], { input: "in\n" });
  assert.deepEqual(r, { exitCode: 3, stdout: "in\n", stderr: "err C\n" });
  const missing = await processRunner.run("/nonexistent/vnat-no-such-binary", ["x"]);
  assert.equal(missing.exitCode, NOT_STARTED);
  assert.match(missing.stderr, /^\/nonexistent\/vnat-no-such-binary: spawn \S+ ENOENT$/);
});

test("run: a command past its timeout is killed, and says so", async () => {
  const t0 = Date.now();
  const r = await processRunner.run("sleep", ["5"], { timeoutMs: 100 });
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(r.exitCode, 128);
  assert.match(r.stderr, /sleep: killed by SIGKILL$/);
});

test("run: fds are handed on as fd 3, 4, …", async () => {
  const file = join(dir, "fd3");
  const fd = openSync(file, "w");
  try {
    const r = await processRunner.run("sh", ["-c", "echo through-fd3 >&3"], { fds: [fd] });
    assert.equal(r.exitCode, 0, r.stderr);
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(file, "utf8"), "through-fd3\n");
});

test("signal: false for a process that is gone; 0 only asks", async () => {
  assert.equal(signal(process.pid, 0), true);
  const r = await processRunner.run("sh", ["-c", "echo $$"]);
  assert.equal(signal(Number(r.stdout), 0), false);
  assert.equal(signal(Number(r.stdout), "SIGTERM"), false);
});

test("spawnDetached: true when it started, false when it cannot", async () => {
  const mark = join(dir, "detached");
  assert.equal(await spawnDetached("sh", ["-c", `touch ${mark}`]), true);
  for (let i = 0; i < 100 && !statSync(mark, { throwIfNoEntry: false }); i++)
    await new Promise((r) => setTimeout(r, 10));
  assert.ok(statSync(mark, { throwIfNoEntry: false }), "the detached helper ran");
  assert.equal(await spawnDetached("/nonexistent/vnat-no-such-binary", []), false);
});

test("runAttached: exit code, 128 + N for signal N, the given umask, a missing binary as an error", async () => {
  assert.deepEqual(await runAttached("sh", ["-c", "exit 7"]), { exitCode: 7 });
  assert.deepEqual(await runAttached("sh", ["-c", "kill -KILL $$"]), { exitCode: 137 });
  const file = join(dir, "umask");
  const mine = process.umask();
  assert.deepEqual(await runAttached("sh", ["-c", `touch ${file}`], { umask: 0o027 }), { exitCode: 0 });
  assert.equal(statSync(file).mode & 0o777, 0o640);
  assert.equal(process.umask(), mine, "this process's umask is back");
  const missing = await runAttached("/nonexistent/vnat-no-such-binary", []);
  assert.ok("error" in missing && /ENOENT/.test(missing.error));
});

test("runAttached: SIGTERM to this process goes to the command; SIGINT is left to it", async () => {
  const listeners = process.listenerCount("SIGTERM");
  const running = runAttached("sleep", ["5"]);
  assert.equal(process.listenerCount("SIGTERM"), listeners + 1);
  setTimeout(() => signal(process.pid, "SIGTERM"), 100);
  assert.deepEqual(await running, { exitCode: 143 });
  assert.equal(process.listenerCount("SIGTERM"), listeners, "the handlers are gone again");
  // the terminal's Ctrl-C reaches the command from the terminal itself: this process ignores it
  const quiet = runAttached("sleep", ["0.3"]);
  setTimeout(() => signal(process.pid, "SIGINT"), 50);
  assert.deepEqual(await quiet, { exitCode: 0 });
});
